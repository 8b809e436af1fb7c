"""What a host's configured package sources offer: the optional part of the one probe.

Asked only for ``check --installable`` and ``outdated``, and only for the packages the
lockfile pins for the host's roles. Strictly read-only: ``apt-cache madison`` reads the lists
the host already has and ``dnf -C`` / ``yum -C`` stay on their cache; pinmgr never runs
``apt update`` or refreshes metadata (that is the host owner's schedule, and needs root).

The result distinguishes "unknown" from "not offered": a package is reported (possibly with no
versions) only when its ecosystem's section ran and looked usable; a host without apt lists or
a dnf cache yields no ``AvailableVersions`` at all, so nothing is called not installable on
guesswork. Every name from the lockfile is ``shlex.quote``-d and placed after ``--``.

The same sections say which offered versions are security fixes (``AvailableVersions.security``):
the apt section carries ``apt-cache policy``'s index lines with their Release fields
(``aptorigins``), and dnf hosts get an ``rpm-security`` section from ``dnf -C updateinfo``
(``updateinfo``), folded into the rpm offers by ``merge_security``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence

from pinmgr.collectors import aptorigins, updateinfo
from pinmgr.collectors.aptorigins import MADISON_MARK
from pinmgr.model import SHARED_ROLE, AvailableVersions, Ecosystem, Host, Lockfile, SecurityFix

SECTION_APT = "apt-available"
SECTION_RPM = "rpm-available"
SECTIONS = frozenset({SECTION_APT, SECTION_RPM, updateinfo.SECTION})

AvailableQuery = Mapping[Ecosystem, Sequence[str]]
"""Package names to ask about, per ecosystem (deb and rpm; pip indexes are not queried)."""

QUERIED = (Ecosystem.DEB, Ecosystem.RPM)

# dnf/yum print this (exit 1) when none of the names exists in any enabled repository.
_DNF_NO_MATCH = "No matching Packages to list"
# Installed entries whose "repo" says nothing about what the sources still carry.
_NOT_A_REPO = frozenset({"@System", "@commandline", "installed", "@@commandline"})
_SOURCES_RE = re.compile(r"sources (\d+)")


def query_for(lock: Lockfile) -> Callable[[Host], dict[Ecosystem, tuple[str, ...]]]:
    """The names to ask each host about: its roles' (and shared) deb/rpm pins.

    The host's OS release is only known once the probe has run, and the probe is one round
    trip, so every release's pins of those roles are asked about (a few more names, no
    second connection).
    """

    def query(host: Host) -> dict[Ecosystem, tuple[str, ...]]:
        roles = {*host.roles, SHARED_ROLE}
        out: dict[Ecosystem, tuple[str, ...]] = {}
        for eco in QUERIED:
            names = {p.package for p in lock.pins if p.ecosystem is eco and p.role in roles}
            if names:
                out[eco] = tuple(sorted(names))
        return out

    return query


def probe_lines(query: AvailableQuery) -> list[str]:
    """Shell lines for the probe (it defines ``b``/``e``, the section begin/end helpers)."""
    lines: list[str] = []
    deb = [n for n in query.get(Ecosystem.DEB, ()) if n]
    rpm = [n for n in query.get(Ecosystem.RPM, ()) if n]
    if deb:
        names = " ".join(shlex.quote(n) for n in deb)
        lines += [
            "if command -v apt-cache >/dev/null 2>&1; then",
            f"  b {SECTION_APT}",
            # The package indexes apt knows, each with its Release fields (o=, a=, n=, l=):
            # they tell a security suite from the others (collectors.aptorigins). None at all
            # means no lists (never updated), which must read as "unknown", not as "nothing
            # is installable". Same processes as counting them: apt-cache policy and grep.
            "  apt-cache policy </dev/null 2>/dev/null | grep -E ' Packages$|^ +release '",
            f"  printf '%s\\n' {MADISON_MARK}",
            f"  apt-cache madison -- {names} </dev/null; e {SECTION_APT} $?",
            "fi",
        ]
    if rpm:
        names = " ".join(shlex.quote(n) for n in rpm)
        for i, tool in enumerate(("dnf", "yum")):
            keyword = "if" if i == 0 else "elif"
            lines += [
                f"{keyword} command -v {tool} >/dev/null 2>&1; then",
                # stderr joins the section: "No matching Packages" must be told from errors.
                f"  b {SECTION_RPM}; {tool} -C -q list --showduplicates -- {names}"
                f" </dev/null 2>&1; e {SECTION_RPM} $?",
            ]
        lines.append("fi")
        lines += updateinfo.probe_lines()
    return lines


def _base(name: str) -> str:
    """``libssl3:i386`` -> ``libssl3``: madison prints names without the architecture."""
    return name.split(":", 1)[0]


def _dedupe(versions: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(versions))


def parse_madison(lines: Sequence[str]) -> tuple[int | None, dict[str, list[str]], list[str]]:
    """``sources N`` then ``name | version | source`` rows -> (N, name -> versions, bad lines).

    deb-src rows (``... Sources``) are skipped: a source package is not installable.
    """
    sources, rows, bad = madison_rows(lines)
    found: dict[str, list[str]] = {}
    for name, version, _ in rows:
        found.setdefault(name, []).append(version)
    return sources, found, bad


MadisonRow = tuple[str, str, str]
"""(name, version, index description) of one ``apt-cache madison`` row."""


def madison_rows(lines: Sequence[str]) -> tuple[int | None, list[MadisonRow], list[str]]:
    """Like ``parse_madison``, keeping each row's index (``http://... bookworm/main ...``)."""
    sources: int | None = None
    found: list[MadisonRow] = []
    bad: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        if sources is None and (m := _SOURCES_RE.fullmatch(line.strip())) is not None:
            sources = int(m.group(1))
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 3 or not parts[0] or not parts[1]:
            bad.append(line)
            continue
        name, version, origin = parts
        if origin.endswith(" Sources"):
            continue
        found.append((name, version, origin))
    return sources, found, bad


def _apt_section(
    lines: Sequence[str],
) -> tuple[int | None, dict[str, list[str]], dict[str, list[SecurityFix]], list[str]]:
    """The apt section -> (indexes, name -> versions, name -> security fixes, bad lines).

    A section from this probe starts with ``apt-cache policy`` lines (``aptorigins``); one
    without them (an older probe: ``sources N`` then rows) has no security answer.
    """
    policy, rest = aptorigins.split_section(lines)
    sources, rows, bad = madison_rows(rest)
    security_of: dict[str, str] = {}
    if policy is not None:
        indexes = aptorigins.parse_policy(policy)
        sources, security_of, bad = indexes.count, indexes.security, [*indexes.bad, *bad]
    found: dict[str, list[str]] = {}
    fixes: dict[str, list[SecurityFix]] = {}
    for name, version, origin in rows:
        found.setdefault(name, []).append(version)
        if (source := security_of.get(origin)) is not None:
            fixes.setdefault(name, []).append(SecurityFix(version, source))
    return sources, found, fixes, bad


def parse_dnf_list(lines: Sequence[str]) -> tuple[dict[str, list[str]], list[str], bool]:
    """``dnf/yum list --showduplicates`` -> (name -> versions, bad lines, "no match" seen).

    Versions are listed under the name and under ``name.arch`` (for arch-qualified pins).

    Rows are ``name.arch  [epoch:]version-release  repo``; a long ``name.arch`` is wrapped
    onto a line of its own, the rest following on the next line. Installed rows count only
    when they name a repository (``@appstream``), not ``@System`` or ``@commandline``.
    """
    found: dict[str, list[str]] = {}
    bad: list[str] = []
    no_match = False
    pending: str | None = None
    for line in lines:
        words = line.split()
        if not words:
            continue
        if line.strip() in ("Installed Packages", "Available Packages", "Extra Packages"):
            pending = None
            continue
        if _DNF_NO_MATCH in line:
            no_match = True
            continue
        if pending is not None and len(words) == 2 and line[:1].isspace():
            words = [pending, *words]
        pending = None
        if len(words) == 1 and "." in words[0] and not line[:1].isspace():
            pending = words[0]
            continue
        if len(words) != 3 or "." not in words[0]:
            bad.append(line)
            continue
        name_arch, version, repo = words
        name = name_arch.rpartition(".")[0]
        if repo in _NOT_A_REPO:
            continue
        found.setdefault(name, []).append(version)
        # An arch-qualified pin (glibc.i686) is asked about as such: its versions apart.
        found.setdefault(name_arch, []).append(version)
    if pending is not None:
        bad.append(pending)
    return found, bad, no_match


SectionWarning = tuple[str, str | None]
"""(message, offending host line or None): the probe parser escapes and caps them."""


def parse_section(
    section: str, lines: Sequence[str], rc: int | None, query: AvailableQuery
) -> tuple[list[AvailableVersions], list[SectionWarning]]:
    """One available-versions section -> (what it says, warnings).

    Every asked name gets an entry (an empty one: not offered) when the section is usable;
    an unusable section (no lists, no cache, cut short) gives warnings and no entries.
    """
    if rc is None:
        return [], [(f"{section}: output cut short; available versions unknown", None)]
    if section == SECTION_APT:
        eco = Ecosystem.DEB
        sources, found, fixes, bad = _apt_section(lines)
        if rc != 0:
            return [], [(f"{section}: apt-cache exited with status {rc}", None)]
        if not sources:
            return [], [(f"{section}: no apt package lists (apt update never ran?)", None)]
        by_name = {_base(n): v for n, v in found.items()}
        wanted = {n: by_name.get(_base(n), []) for n in query.get(eco, ())}
        fixes_by_name = {_base(n): v for n, v in fixes.items()}
        security = {n: fixes_by_name.get(_base(n), []) for n in wanted}
    elif section == SECTION_RPM:
        eco = Ecosystem.RPM
        found, bad, no_match = parse_dnf_list(lines)
        if rc != 0 and not (no_match and not found):
            detail = next((ln.strip() for ln in lines if ln.strip()), None)
            return [], [(f"{section}: exited with status {rc}", detail)]
        wanted = {n: found.get(n, []) for n in query.get(eco, ())}
        security = {}
    elif section == updateinfo.SECTION:
        fixes_by_rpm, bad = updateinfo.parse(lines)
        if rc != 0:
            detail = next((ln.strip() for ln in lines if ln.strip()), None)
            return [], [(f"{section}: dnf updateinfo exited with status {rc}", detail)]
        notes: list[SectionWarning] = [(f"{section}: unexpected line", ln) for ln in bad]
        # Only names with a fix: an entry without versions would read as "not offered".
        return [
            AvailableVersions(Ecosystem.RPM, name, (), tuple(sorted(set(fixes_by_rpm[name]))))
            for name in sorted(set(query.get(Ecosystem.RPM, ())))
            if fixes_by_rpm.get(name)
        ], notes
    else:
        return [], [(f"unknown available-versions section {section}", None)]
    warnings: list[SectionWarning] = [(f"{section}: unexpected line", line) for line in bad]
    out = [
        AvailableVersions(eco, name, _dedupe(v), tuple(sorted(set(security.get(name, ())))))
        for name, v in sorted(wanted.items())
    ]
    return out, warnings


def merge_security(entries: Sequence[AvailableVersions]) -> list[AvailableVersions]:
    """Fold the rpm-security section's entries (fixes, no versions) into the package's offers.

    A fix whose package has no offers entry (the rpm-available section failed or was not
    run) is dropped: its versions are unknown, and an entry without versions would read as
    "no source offers it".
    """
    offers = [e for e in entries if e.versions or not e.security]
    extra: dict[tuple[Ecosystem, str], list[SecurityFix]] = {}
    for e in entries:
        if not e.versions and e.security:
            extra.setdefault((e.ecosystem, e.name), []).extend(e.security)
    if not extra:
        return list(entries)
    return [
        AvailableVersions(
            e.ecosystem,
            e.name,
            e.versions,
            tuple(sorted({*e.security, *extra.get((e.ecosystem, e.name), ())})),
        )
        for e in offers
    ]
