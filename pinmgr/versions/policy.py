"""A pin's text as a policy (exact / glob / range) and whether an installed version meets it.

Every comparison uses the ecosystem's own ordering, so ``>=1:2.0`` on deb and ``<5.14.0-362``
on rpm mean what dpkg and rpm would say; pip ranges and ``==3.0.*`` use packaging's specifiers.

Directions when a version does not meet the pin (``evaluate``):

* exact: the order of installed against the pin (equal *by the ecosystem's ordering* passes,
  so deb ``0:1.0`` meets ``1.0``).
* glob: below or equal to the glob's literal prefix (``1.18.0-6ubuntu14.`` for
  ``1.18.0-6ubuntu14.*``; the prefix + ``0`` where the prefix alone is no valid version, as
  ``1:`` or pip's ``3.0.``) is OLDER, above it NEWER. A glob is not an interval (``1.10`` is
  above ``1.2`` yet below ``1.20``, both of which ``1.2*`` matches): the prefix is the one
  honest reference point.
* range: the first clause (in the pin's order) that fails decides: a lower bound (``>=``, ``>``)
  gives OLDER, an upper bound (``<=``, ``<``) NEWER, ``==`` / ``~=`` the order against it. A
  failing ``!=`` alone gives NEWER: an excluded version is nearly always a known-bad release a
  host reached by upgrading, and the fix is to go back to an allowed one.

The installed version is checked with the ecosystem's strict syntax (``validate``) before it is
compared: a host's version is untrusted text. One exception, as in packaging: a pip ``===`` pin
compares as a plain (case-insensitive) string, so ``===foo`` matches an installed ``foo``
that is no PEP 440 version at all.
"""

from __future__ import annotations

import functools
import re

from packaging.specifiers import InvalidSpecifier, Specifier
from packaging.version import InvalidVersion, Version

from pinmgr.errors import VersionError
from pinmgr.model import Direction, Ecosystem, PinPolicy, PolicyKind, assert_never
from pinmgr.versions import compare, ecosystem_of, validate
from pinmgr.versions.text import MAX_VERSION_CHARS, problem, shown

_RANGE_START = ("<", ">", "=", "!", "~")
_CLAUSE = re.compile(r"(>=|<=|==|!=|>|<)\s*([^\s<>=!].*)")
_LOWER = frozenset({">=", ">"})
_UPPER = frozenset({"<=", "<"})


def _direction(order: int) -> Direction | None:
    if order == 0:
        return None
    return Direction.OLDER if order < 0 else Direction.NEWER


@functools.lru_cache(maxsize=4096)
def _clauses(eco: Ecosystem, spec: str) -> tuple[tuple[str, str], ...]:
    """(operator, version) per comma-separated clause, each validated for the ecosystem."""
    out = []
    for raw in spec.split(","):
        clause = raw.strip()
        if not clause:
            raise VersionError(f"invalid range {spec!r}: empty clause")
        if eco is Ecosystem.PIP:
            try:
                s = Specifier(clause)
            except InvalidSpecifier:
                raise VersionError(
                    f"invalid range {spec!r}: {clause!r} is not a PEP 440 specifier"
                ) from None
            out.append((s.operator, s.version))
            continue
        m = _CLAUSE.fullmatch(clause)
        if not m:
            raise VersionError(
                f"invalid range {spec!r}: {clause!r} must be an operator "
                "(>=, <=, >, <, ==, !=) followed by a version"
            )
        op, version = m.groups()
        if "*" in version:
            raise VersionError(f"invalid range {spec!r}: '*' is not allowed in a {eco.value} bound")
        validate(eco, version)
        out.append((op, version))
    return tuple(out)


def _glob_floor(eco: Ecosystem, text: str) -> str:
    """The glob's literal prefix, or (if that is no valid version, as ``1:`` or ``3.0.``) it + 0."""
    prefix = text.split("*", 1)[0]
    try:
        validate(eco, prefix)
    except VersionError:
        return prefix + "0"
    return prefix


def _pip_glob(text: str) -> Specifier | None:
    """``3.0.*`` as PEP 440's ``==3.0.*`` (which also matches ``3.0``), when packaging allows."""
    try:
        return Specifier("==" + text)
    except InvalidSpecifier:
        return None


def _glob_match(eco: Ecosystem, text: str, installed: str) -> bool:
    spec = _pip_glob(text) if eco is Ecosystem.PIP else None
    if spec is not None:
        return spec.contains(installed, prereleases=True)
    pattern = ".*".join(re.escape(part) for part in text.split("*"))
    return re.fullmatch(pattern, installed, re.DOTALL) is not None


def parse_policy(ecosystem: Ecosystem | str, text: str) -> PinPolicy:
    """Classify and validate a pin's text; raise VersionError with the reason if it is invalid."""
    eco = ecosystem_of(ecosystem)
    reason = problem(text, MAX_VERSION_CHARS)
    if reason is not None:
        raise VersionError(f"invalid {eco.value} pin {shown(text)}: {reason}")
    spec = text.strip()
    if not spec:
        raise VersionError(f"empty {eco.value} pin: give a version, a glob or a range")
    if spec.startswith(_RANGE_START):
        _clauses(eco, spec)
        return PinPolicy(PolicyKind.RANGE, spec)
    if "*" in spec:
        if not (eco is Ecosystem.PIP and _pip_glob(spec)):
            try:
                validate(eco, spec.replace("*", "0"))
                validate(eco, _glob_floor(eco, spec))
            except VersionError as e:
                raise VersionError(f"invalid {eco.value} glob {spec!r}: {e.message}") from None
        return PinPolicy(PolicyKind.GLOB, spec)
    validate(eco, spec)
    return PinPolicy(PolicyKind.EXACT, spec)


def _range_direction(eco: Ecosystem, spec: str, installed: str) -> Direction | None:
    failed: list[tuple[str, str]] = []
    for op, bound in _clauses(eco, spec):
        if eco is Ecosystem.PIP:
            ok = Specifier(op + bound).contains(installed, prereleases=True)
        else:
            c = compare(eco, installed, bound)
            ok = {">=": c >= 0, "<=": c <= 0, ">": c > 0, "<": c < 0, "==": c == 0}.get(op, c != 0)
        if not ok:
            failed.append((op, bound))
    if not failed:
        return None
    op, bound = next((f for f in failed if f[0] != "!="), failed[0])
    if op in _LOWER:
        return Direction.OLDER
    if op in _UPPER or op == "!=":
        return Direction.NEWER
    if eco is Ecosystem.PIP and (op == "===" or bound.endswith("*")):
        # '==1.0.*' / '===x': order against the literal part when both are versions at all.
        try:
            floor = Version(bound.rstrip(".*") or "0")
            return Direction.OLDER if Version(installed) < floor else Direction.NEWER
        except InvalidVersion:
            return Direction.NEWER
    return _direction(compare(eco, installed, bound)) or Direction.NEWER


def evaluate(ecosystem: Ecosystem | str, policy: PinPolicy, installed: str) -> Direction | None:
    """None if ``installed`` satisfies the pin, else whether it is OLDER or NEWER than allowed.

    Raises VersionError if ``installed`` (or the pin) is not a valid version of the ecosystem.
    """
    eco = ecosystem_of(ecosystem)
    if _arbitrary_only(eco, policy):
        return _range_direction(eco, policy.spec, installed)
    _check_installed(eco, installed)
    match policy.kind:
        case PolicyKind.EXACT:
            return _direction(compare(eco, installed, policy.spec))
        case PolicyKind.GLOB:
            if _glob_match(eco, policy.spec, installed):
                return None
            order = compare(eco, installed, _glob_floor(eco, policy.spec))
            return Direction.OLDER if order <= 0 else Direction.NEWER
        case PolicyKind.RANGE:
            return _range_direction(eco, policy.spec, installed)
        case _:
            return assert_never(policy.kind)


def _arbitrary_only(eco: Ecosystem, policy: PinPolicy) -> bool:
    """A pip range of ``===`` clauses only: plain string equality, any installed text."""
    if eco is not Ecosystem.PIP or policy.kind is not PolicyKind.RANGE:
        return False
    return all(op == "===" for op, _ in _clauses(eco, policy.spec))


def _check_installed(eco: Ecosystem, installed: str) -> None:
    """Raise VersionError, worded about the host's version, unless it passes ``validate``."""
    refusal = _installed_refusal(eco, installed)
    if refusal is not None:
        raise VersionError(refusal)


@functools.lru_cache(maxsize=16384)
def _installed_refusal(eco: Ecosystem, installed: str) -> str | None:
    # Cached: a fleet reports the same few thousand versions from every host.
    try:
        validate(eco, installed)
    except VersionError as exc:
        if eco is Ecosystem.PIP:
            message = f"installed version {shown(installed)} is not PEP 440"
            reason = problem(installed, MAX_VERSION_CHARS)
            if reason is not None or installed != installed.strip():
                message += f" ({reason or 'blanks around it'})"
        else:
            detail = exc.message.removeprefix(f"invalid {eco.value} version {shown(installed)}: ")
            message = f"installed version {shown(installed)} is not a valid {eco.value} version"
            message += f": {detail}"
        return message
    return None
