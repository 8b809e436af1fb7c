"""Security advisories from ``dnf updateinfo``: the rpm side of "which pins have a fix waiting".

The probe runs, cache-only (``-C``: never a metadata refresh), two listings of the advisories
for updates of the installed packages, joined by the package they fix::

    RHSA-2024:3166 Moderate/Sec.  openssh-8.7p1-38.el9.x86_64      (updateinfo list)
    CVE-2023-48795 Moderate/Sec.  openssh-8.7p1-38.el9.x86_64      (updateinfo list --with-cve)

Only rows whose type column is ``<severity>/Sec.`` are security advisories; bugfix, enhancement
and newpackage rows are read and dropped. Both listings are unfiltered: dnf 4's ``updateinfo
list`` ignores package arguments and ``--security`` in some versions (4.14 does), so the names
are filtered here. dnf only relates an advisory to an *installed* package, so a pinned package
the host lacks has no answer. Pure and bounded: every field is capped host text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from pinmgr.collectors.aptorigins import clean_source
from pinmgr.model import SecurityFix

SECTION = "rpm-security"
CVE_MARK = "cves:"
"""Line the probe prints between the two listings."""
SOURCE = "dnf updateinfo"
"""The source a dnf advisory is reported from (the listing does not name the repository)."""

_SECURITY_TYPE = re.compile(r"(?:([^/\s]+)/)?Sec\.")
_NO_SEVERITY = frozenset({"None", "Unknown", "unknown", "none"})
MAX_CVES = 50
"""CVE ids kept per advisory (reports name a few and count the rest)."""


def probe_lines() -> list[str]:
    """Shell lines for the probe (``b``/``e`` are its section helpers); dnf hosts only."""
    listing = "dnf -C -q updateinfo list"
    return [
        "if command -v dnf >/dev/null 2>&1; then",
        f"  b {SECTION}; {listing} </dev/null 2>&1; r=$?",
        f"  printf '%s\\n' {shlex.quote(CVE_MARK)}",
        f"  {listing} --with-cve </dev/null 2>&1; s=$?; e {SECTION} $((r | s))",
        "fi",
    ]


def split_nevra(nevra: str) -> tuple[str, str] | None:
    """``openssh-8.7p1-38.el9.x86_64`` -> (``openssh``, ``8.7p1-38.el9``); epoch kept if shown."""
    nevr, dot, arch = nevra.rpartition(".")
    if not dot or not arch:
        return None
    parts = nevr.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    name, version, release = parts
    return name, f"{version}-{release}"


def parse(lines: Sequence[str]) -> tuple[dict[str, list[SecurityFix]], list[str]]:
    """Both listings -> (package name -> its security fixes, lines that did not parse)."""
    advisories: dict[str, list[tuple[str, str]]] = {}
    cves: dict[str, list[str]] = {}
    bad: list[str] = []
    in_cves = False
    for line in lines:
        words = line.split()
        if not words:
            continue
        if line.strip() == CVE_MARK:
            in_cves = True
            continue
        if len(words) != 3:
            bad.append(line)
            continue
        ident, kind, nevra = words
        if (m := _SECURITY_TYPE.fullmatch(kind)) is None:
            continue  # bugfix, enhancement, newpackage: not a security fix
        if in_cves:
            cves.setdefault(nevra, []).append(clean_source(ident))
        else:
            severity = m.group(1) or ""
            severity = "" if severity in _NO_SEVERITY else clean_source(severity)
            advisories.setdefault(nevra, []).append((clean_source(ident), severity))
    fixes: dict[str, list[SecurityFix]] = {}
    for nevra, found in advisories.items():
        parsed = split_nevra(nevra)
        if parsed is None:
            bad.append(nevra)
            continue
        name, version = parsed
        ids = tuple(sorted(set(cves.get(nevra, ()))))[:MAX_CVES]
        for ident, severity in dict.fromkeys(found):
            fixes.setdefault(name, []).append(SecurityFix(version, SOURCE, ident, severity, ids))
    return fixes, bad
