"""Which of a host's apt package indexes are security suites, from ``apt-cache policy`` lines.

``apt-cache policy`` (no package) lists every Packages index apt has lists for, each with the
fields of its suite's Release file::

     500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
         release v=12,o=Debian,a=stable-security,n=bookworm-security,l=Debian-Security,c=main
     500 http://archive.ubuntu.com/ubuntu jammy-security/main amd64 Packages
         release v=22.04,o=Ubuntu,a=jammy-security,n=jammy,l=Ubuntu,c=main,b=amd64

``apt-cache madison`` names the same index with the same text (``http://... bookworm-security/
main amd64 Packages``), so each offered version maps to the Release fields of the suites that
carry it: one ``apt-cache policy`` per host, not one per package. A suite is a security suite
when its archive or codename ends in ``-security`` (Debian's ``stable-security`` /
``bookworm-security``, Ubuntu's ``jammy-security`` pocket) or its label is Debian's
``Debian-Security``. Flat repositories without a Release file have no fields: never security.

Pure and bounded: host text is untrusted, so descriptions are capped and stripped of controls.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

MADISON_MARK = "madison:"
"""Line the probe prints between the policy lines and the ``apt-cache madison`` rows."""

MAX_SOURCE_CHARS = 120
"""A security source's name as reported (``Debian-Security bookworm-security``), capped."""

_INDEX_RE = re.compile(r"\s*-?\d+\s+(\S.*\sPackages)\s*")
_RELEASE_RE = re.compile(r"\s+release\s+(.*)")
# Release fields are ``k=value`` joined by commas; a value may itself hold a comma.
_FIELD_SPLIT = re.compile(r",(?=[a-z]=)")
_SECURITY_SUFFIX = "-security"
_SECURITY_LABELS = frozenset({"Debian-Security"})


@dataclass
class AptIndexes:
    """What the policy lines say: how many Packages indexes, and which are security suites."""

    count: int = 0
    # index description (as madison prints it) -> security source name
    security: dict[str, str] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)


def release_fields(text: str) -> dict[str, str]:
    """``v=12,o=Debian,a=stable-security`` -> {"v": "12", "o": "Debian", ...} (first wins)."""
    out: dict[str, str] = {}
    for part in _FIELD_SPLIT.split(text.strip()):
        key, sep, value = part.partition("=")
        if sep and key and key not in out:
            out[key] = value.strip()
    return out


def security_source(fields: dict[str, str]) -> str | None:
    """The source's name when the Release fields say security suite, else None."""
    archive, codename = fields.get("a", ""), fields.get("n", "")
    label, origin = fields.get("l", ""), fields.get("o", "")
    suite = next((s for s in (codename, archive) if s.endswith(_SECURITY_SUFFIX)), "")
    if not suite and label not in _SECURITY_LABELS:
        return None
    name = " ".join(dict.fromkeys(p for p in (label or origin, suite or archive or codename) if p))
    return clean_source(name or "security")


def clean_source(text: str) -> str:
    """Host text made one short printable line (controls, line breaks, bidi dropped; capped)."""
    text = "".join(c for c in text if c.isprintable()).strip()
    if len(text) > MAX_SOURCE_CHARS:
        return text[: MAX_SOURCE_CHARS - 3] + "..."
    return text


def parse_policy(lines: Sequence[str]) -> AptIndexes:
    """The index lines of ``apt-cache policy`` (each maybe followed by its ``release`` line)."""
    out = AptIndexes()
    current: str | None = None
    for line in lines:
        if not line.strip():
            continue
        if (m := _INDEX_RE.fullmatch(line)) is not None and " | " not in line:
            current = m.group(1)
            out.count += 1
            continue
        if (m := _RELEASE_RE.fullmatch(line)) is not None:
            if current is None:
                continue  # /var/lib/dpkg/status's "release a=now": not an index
            source = security_source(release_fields(m.group(1)))
            if source is not None:
                out.security.setdefault(current, source)
            current = None
            continue
        out.bad.append(line)
    return out


def split_section(lines: Sequence[str]) -> tuple[list[str] | None, list[str]]:
    """(policy lines, madison lines); policy is None for a section without the mark."""
    for i, line in enumerate(lines):
        if line.strip() == MADISON_MARK:
            return list(lines[:i]), list(lines[i + 1 :])
    return None, list(lines)
