"""Text helpers shared by the emitters: YAML scalars and comments written by hand.

Hand-written YAML keeps the output byte-identical across PyYAML/ruamel versions and lets us
quote every scalar: YAML 1.1 (what Ansible parses) turns ``1.10``, ``yes``, ``0x1``, ``1e3``
and ``~`` into floats, booleans, ints and null unless they are quoted.
"""

from __future__ import annotations

import re

from pinmgr.errors import UsageError, VersionError
from pinmgr.model import Ecosystem, Pin, PolicyKind
from pinmgr.versions.names import name_problem
from pinmgr.versions.policy import parse_policy

# Jinja delimiters: Ansible templates every string it reads from vars and playbooks, so a
# value holding one is tagged ``!unsafe`` to be taken literally.
_JINJA = ("{{", "{%", "{#")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _printable(ch: str) -> bool:
    """YAML 1.1 printable set minus the line breaks it adds (NEL, LS, PS) and the BOM."""
    o = ord(ch)
    if o in (0x85, 0x2028, 0x2029, 0xFEFF):
        return False
    return (
        0x20 <= o <= 0x7E
        or 0xA0 <= o <= 0xD7FF
        or 0xE000 <= o <= 0xFFFD
        or 0x10000 <= o <= 0x10FFFF
    )


def _escape(value: str, *, quotes: bool = True) -> str:
    """``value`` with non-printables (and, for scalars, ``"`` and ``\\``) as YAML escapes."""
    out: list[str] = []
    for ch in value:
        if quotes and ch == '"':
            out.append('\\"')
        elif quotes and ch == "\\":
            out.append("\\\\")
        elif _printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def yaml_quoted(value: str) -> str:
    """A double-quoted YAML scalar, untagged: for YAML no Jinja pass reads (Salt's ``#!yaml``)."""
    return f'"{_escape(value)}"'


def yaml_str(value: str) -> str:
    """A double-quoted YAML scalar that every YAML 1.1/1.2 parser reads back as ``value``."""
    quoted = yaml_quoted(value)
    if any(mark in value for mark in _JINJA):
        return f"!unsafe {quoted}"
    return quoted


def comment(text: str) -> str:
    """One ``# ...`` line; control characters are escaped so text can never end the comment."""
    safe = _escape(text, quotes=False)
    return f"# {safe}".rstrip() if safe else "#"


def safe_name(name: str) -> bool:
    """A name usable as one path component (``app``, ``web-1``, ``db.main``)."""
    return bool(_SAFE_NAME.fullmatch(name))


def installable(ecosystem: Ecosystem, spec: str) -> str:
    """An exact pin's version as package managers take it: pip's ``==1.0`` is ``1.0``."""
    if ecosystem is Ecosystem.PIP and spec.lstrip().startswith("=="):
        return spec.lstrip().lstrip("=").strip()
    return spec


def refuse_invalid(pin: Pin, output: str) -> None:
    """Never write a pin the lockfile rules reject: a stray newline would forge a stanza or a
    lock entry, a quote would end a string in code root runs. ``output`` names what is then
    not written (``apt preferences``, ``Chef recipe``).

    Unreachable for a lockfile that was loaded; a model built by other means is checked too.
    """
    reason = name_problem(pin.ecosystem, pin.package)
    spec = installable(pin.ecosystem, pin.spec) if pin.policy.kind is PolicyKind.EXACT else pin.spec
    if reason is None:
        try:
            if parse_policy(pin.ecosystem, spec).kind is not pin.policy.kind:
                reason = f"{pin.package}: pin {pin.spec!r} is not a {pin.policy.kind.value} pin"
        except VersionError as exc:
            reason = f"{pin.package}: {exc.message}"
    if reason is not None:
        where = f"{pin.location}: " if pin.location else ""
        raise UsageError(f"{where}{reason}; no {output} written")
