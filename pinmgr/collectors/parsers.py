"""Pure parsers: probe output bytes -> ``HostSnapshot``. No I/O, shared by every transport.

Host output is untrusted. Bytes that are not UTF-8 survive as ``\\xNN`` text and only marker
lines carrying this run's nonce delimit sections. Names and versions containing control
characters are kept verbatim as data: escaping them is the reporters' job.

Complete or failed, never half (``ProbeIncomplete``): output without the final marker, a
section without its end marker, a section whose command exited non-zero, a whole-script exit
status other than 0, a section the probe always prints (os-release, one per pip interpreter)
missing, or a dpkg/rpm line that does not fit its format (those are written by
the package manager itself from a fixed format, so one misfit means the stream is corrupt)
makes the host ``incomplete``; nothing read from it is used, so no ``missing`` finding can
follow from a cut stream. Softer problems stay warnings: a pip row that is not
``name<TAB>version`` (metadata files are written by many tools), an os-release line that is
not ``KEY=value``, duplicate package rows (one warning with a count), stray output outside
the sections (a chatty login shell).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from pinmgr.collectors import available as available_mod
from pinmgr.collectors.available import AvailableQuery
from pinmgr.collectors.probe import (
    APP_PREFIX,
    MARKER,
    PIP_PREFIX,
    SECTION_DPKG,
    SECTION_DPKG_ARCH,
    SECTION_OS_RELEASE,
    SECTION_RPM,
)
from pinmgr.model import (
    AppPin,
    AppSource,
    AvailableVersions,
    Ecosystem,
    Host,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
    PackageState,
)
from pinmgr.versions.text import MAX_VERSION_CHARS, problem

MAX_WARNINGS = 100
"""A hostile or broken host cannot flood the report: later warnings are counted, not kept."""

MAX_WARNING_CHARS = 160
MAX_STDERR_LINES = 5
"""Last lines of stderr kept when a section failed: the error is usually at the end."""


MAX_PROBLEMS = 3
"""Problems named in an incomplete host's reason; the rest are counted."""


class ProbeOutputError(ValueError):
    """The output holds no probe section at all (not our script's output, or cut at once)."""


class ProbeIncomplete(ValueError):
    """The output was cut short, a section failed or did not parse: none of it is used.

    ``reason`` names the sections and causes (one line); ``warnings`` is everything else the
    host said (stray lines, the last lines of stderr), shown with the failure.
    """

    def __init__(self, reason: str, warnings: tuple[str, ...]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.warnings = warnings


def escape_text(text: str, limit: int = MAX_WARNING_CHARS) -> str:
    """One printable line: control characters as escapes, truncated to ``limit`` characters."""
    out: list[str] = []
    size = 0
    for ch in text:
        piece = ch if ch.isprintable() else repr(ch)[1:-1]
        size += len(piece)
        if size > limit:
            out.append("…")
            break
        out.append(piece)
    return "".join(out)


@dataclass
class _Section:
    name: str
    lines: list[str] = field(default_factory=list)
    rc: int | None = None  # None: no end marker seen (output cut short)


@dataclass
class _Warnings:
    kept: list[str] = field(default_factory=list)
    dropped: int = 0
    # Per section: lines that do not fit its format (count, first one as a warning text).
    unparsed: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, message: str, line: str | None = None) -> None:
        if len(self.kept) >= MAX_WARNINGS:
            self.dropped += 1
            return
        self.kept.append(f"{message}: {escape_text(line)}" if line is not None else message)

    def reject(self, section: str, message: str, line: str) -> None:
        """A line of a strict section (dpkg, rpm) that does not parse: the section is unparsed."""
        self.add(message, line)
        if section in self.unparsed:
            count, first = self.unparsed[section]
        else:
            count, first = 0, f"{message.removeprefix(section + ': ')}: {escape_text(line)}"
        self.unparsed[section] = (count + 1, first)

    def result(self) -> tuple[str, ...]:
        extra = (f"{self.dropped} more warnings not shown",) if self.dropped else ()
        return (*self.kept, *extra)


def _split_sections(text: str, nonce: str, warn: _Warnings) -> tuple[list[_Section], bool]:
    """Cut output into sections at marker lines carrying ``nonce``; report stray lines.

    Marker lines are ``<prefix>begin NAME``, ``<prefix>end NAME RC`` and ``<prefix>done``; a
    plain prefix test finds them (a per-host regex cost more than parsing dpkg's output).
    """
    prefix = f"{MARKER} {nonce} "
    sections: list[_Section] = []
    current: _Section | None = None
    done = False
    for line in text.split("\n"):
        marker = _marker(line[len(prefix) :]) if line.startswith(prefix) else None
        if marker is None:
            if current is not None:
                current.lines.append(line)
            elif line.strip():
                warn.add("output outside any probe section", line)
        elif marker[0] == "begin":
            current = _Section(marker[1])
            sections.append(current)
        elif marker[0] == "end":
            if current is None or current.name != marker[1]:
                warn.add("unmatched end marker", line)
            else:
                current.rc = int(marker[2])
            current = None
        else:  # done
            current = None
            done = True
    return sections, done  # a section left without its end marker keeps rc None


def _marker(rest: str) -> tuple[str, ...] | None:
    """``("begin", name)``, ``("end", name, rc)`` or ``("done",)``; None if not a marker."""
    words = rest.split()
    if " ".join(words) != rest:  # extra or odd whitespace: not printed by the probe
        return None
    if len(words) == 2 and words[0] == "begin":
        return ("begin", words[1])
    if len(words) == 3 and words[0] == "end" and words[2].isascii() and words[2].isdigit():
        return ("end", words[1], words[2]) if len(words[2]) <= 3 else None
    if words == ["done"]:
        return ("done",)
    return None


def parse_os_release(lines: list[str], warn: _Warnings) -> OsRelease | None:
    """``ID`` (lowercased) and ``VERSION_ID`` from os-release, values unquoted the shell's way."""
    values: dict[str, str] = {}
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, raw = stripped.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            warn.add("os-release: not KEY=value", line)
            continue
        try:
            words = shlex.split(raw)
        except ValueError:
            warn.add("os-release: bad quoting", line)
            continue
        values[key] = " ".join(words)
    os_id = values.get("ID", "").strip().lower()
    version = values.get("VERSION_ID", "").strip()
    if not os_id:
        warn.add("os-release: no ID")
        return None
    if not version:
        warn.add(f"os-release: no VERSION_ID for {escape_text(os_id)} (rolling release?)")
        return None
    return OsRelease(os_id, version)


# db:Status-Abbrev = desired action, status, error flag (" " or "R" for reinst-required).
_DPKG_WANT = frozenset("uihrp")
_DPKG_NOT_INSTALLED = frozenset("nc")  # not-installed, config-files (removed: "rc")
_DPKG_HALF = frozenset("HUFWtT")  # half-installed, unpacked, half-configured, triggers


def _dpkg_state(abbrev: str) -> PackageState | None:
    """State for a status abbrev, ``None`` if not installed; ``ValueError`` if unknown."""
    try:
        return _DPKG_STATES[abbrev]
    except KeyError:
        state = _dpkg_state_of(abbrev)  # ValueError for an unknown one is not remembered
    if len(_DPKG_STATES) < 64:
        _DPKG_STATES[abbrev] = state
    return state


_DPKG_STATES: dict[str, PackageState | None] = {}
"""A host has hundreds of packages but a handful of distinct status abbrevs."""


def _dpkg_state_of(abbrev: str) -> PackageState | None:
    if len(abbrev) not in (2, 3) or abbrev[0] not in _DPKG_WANT:
        raise ValueError(abbrev)
    want, status, error = abbrev[0], abbrev[1], abbrev[2:].strip()
    if error not in ("", "R"):
        raise ValueError(abbrev)
    if status in _DPKG_NOT_INSTALLED:
        return None
    if status in _DPKG_HALF or error == "R":
        return PackageState.HALF_INSTALLED
    if status == "i":
        return PackageState.HELD if want == "h" else PackageState.INSTALLED
    raise ValueError(abbrev)


def dpkg_native_arch(lines: list[str]) -> str:
    """The host's native architecture: the one dpkg itself is built for.

    Saves running ``dpkg --print-architecture`` (a process per host) in the probe.
    """
    for line in lines:
        fields = line.split("\t")
        if len(fields) == 4 and fields[0].split(":", 1)[0] == "dpkg":
            return fields[3].strip()
    return ""


def parse_dpkg(lines: list[str], native_arch: str, warn: _Warnings) -> list[InstalledPackage]:
    """``dpkg-query`` lines; the native-arch qualifier is dropped, foreign ones kept.

    ``binary:Package`` qualifies every Multi-Arch: same package (``libc6:amd64``); pins name
    the native one plainly (``libc6``) and a foreign one in full (``libssl3:i386``).
    """
    packages: list[InstalledPackage] = []
    suffix = f":{native_arch}" if native_arch else None
    seen: set[tuple[str, str]] = set()
    dupes = _Duplicates()
    for line in lines:
        fields = line.split("\t")
        if len(fields) != 4:
            if line:
                warn.reject(SECTION_DPKG, "dpkg: not 4 tab-separated fields", line)
            continue
        name, version, abbrev, arch = fields
        try:
            state = _dpkg_state(abbrev)
        except ValueError:
            warn.reject(SECTION_DPKG, "dpkg: unknown package status", line)
            continue
        if state is None:
            continue
        if not name or not version:
            warn.reject(SECTION_DPKG, "dpkg: empty name or version", line)
            continue
        if suffix is not None and name.endswith(suffix):
            name = name[: -len(suffix)]
        if (name, arch) in seen:  # dpkg has one row per package and architecture
            dupes.add(name)
            continue
        seen.add((name, arch))
        packages.append(InstalledPackage(Ecosystem.DEB, name, version, arch, state))
    dupes.report("dpkg", warn)
    return packages


def parse_rpm(lines: list[str], warn: _Warnings) -> list[InstalledPackage]:
    """``rpm -qa`` lines as ``[epoch:]version-release``; epoch 0 omitted, gpg-pubkey skipped."""
    packages: list[InstalledPackage] = []
    seen: set[tuple[str, str, str]] = set()
    dupes = _Duplicates()
    for line in lines:
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            warn.reject(SECTION_RPM, "rpm: not 3 tab-separated fields", line)
            continue
        name, evr, arch = fields
        epoch, sep, vr = evr.partition(":")
        version_part, dash, release = vr.rpartition("-")
        numeric = epoch.isascii() and epoch.isdigit()  # isdigit() alone takes '²' and '٣'
        if not sep or not (numeric or epoch == "(none)") or not dash:
            warn.reject(SECTION_RPM, "rpm: version is not epoch:version-release", line)
            continue
        if not name or not version_part or not release:
            warn.reject(SECTION_RPM, "rpm: empty name, version or release", line)
            continue
        if name == "gpg-pubkey":
            continue
        digits = epoch.lstrip("0") if numeric else ""  # no int(): any number of digits
        version = f"{digits}:{vr}" if digits else vr
        # Several versions of one name are normal (kernels); the very same row twice is not.
        if (name, version, arch) in seen:
            dupes.add(name)
            continue
        seen.add((name, version, arch))
        packages.append(InstalledPackage(Ecosystem.RPM, name, version, arch))
    dupes.report("rpm", warn)
    return packages


@dataclass
class _Duplicates:
    """Repeated package rows: counted, the first kept, one warning (a host printing the same
    row 20,000 times costs one line of report, and memory only for distinct rows)."""

    count: int = 0
    first: str = ""

    def add(self, name: str) -> None:
        if not self.count:
            self.first = name
        self.count += 1

    def report(self, what: str, warn: _Warnings) -> None:
        if self.count:
            rows = "row" if self.count == 1 else "rows"
            warn.add(
                f"{what}: {self.count} duplicate package {rows} ignored, the first row of each "
                f"kept (first duplicate: {escape_text(self.first)})"
            )


def parse_pip(lines: list[str], origin: str, warn: _Warnings) -> list[InstalledPackage]:
    """``name<TAB>version`` lines from ``importlib.metadata``; names PEP 503-normalised."""
    packages: list[InstalledPackage] = []
    seen: set[str] = set()
    for line in lines:
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            warn.add(f"pip {escape_text(origin)}: not name<TAB>version", line)
            continue
        name = canonicalize_name(fields[0].strip())
        if name in seen:  # the first on the path wins, as for importlib.metadata
            continue
        seen.add(name)
        packages.append(InstalledPackage(Ecosystem.PIP, name, fields[1].strip(), origin=origin))
    return packages


def _package_order(p: InstalledPackage) -> tuple[str, str, str, str, str, str]:
    """The dataclass's own field order, as a key: sorting by key skips ~6,000 ``__lt__`` calls
    per host. (Both enums are ``str`` enums, so they compare as their values.)"""
    return (p.ecosystem, p.name, p.version, p.arch, p.state, p.origin)


_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def app_revision(lines: list[str], app: AppPin) -> tuple[str | None, str]:
    """(revision or None, why not) from an ``app:<i>`` section (``probe.GIT_HEAD`` lines).

    A git HEAD is a commit id (SHA-1 or SHA-256) when detached, else ``ref: refs/...`` whose
    commit comes from the loose ref or ``packed-refs``; anything else is no revision.
    """
    fields = dict(line.split("\t", 1) for line in lines if "\t" in line)
    if app.source is AppSource.FILE:
        value = fields.get("file", "").strip()
        if not value:
            return None, f"no revision in {app.path.rstrip('/')}/{app.file}"
        if problem(value, MAX_VERSION_CHARS) is not None or " " in value:
            return None, f"{app.file}: not a revision ({escape_text(value, 60)})"
        return value, ""
    head = fields.get("head")
    if head is None:
        return None, f"no git checkout at {app.path}"
    if _COMMIT_ID.fullmatch(head):
        return head, ""
    if not head.startswith("ref: "):
        return None, f"{app.path}: .git/HEAD is neither a commit nor a ref"
    commit = fields.get("ref") or fields.get("packed")
    if commit is None:
        return None, f"{app.path}: {escape_text(head[5:], 80)} has no commit (empty repository?)"
    if not _COMMIT_ID.fullmatch(commit):
        return None, f"{app.path}: {escape_text(head[5:], 80)} does not hold a commit id"
    return commit, ""


def _apps(
    host: Host, by_name: dict[str, _Section], packages: list[InstalledPackage], warn: _Warnings
) -> list[InstalledPackage]:
    """The revision of each of the host's applications, as ``app`` packages."""
    found: list[InstalledPackage] = []
    for index, app in enumerate(host.apps):
        if app.source is AppSource.PACKAGE:
            pkg = next((p for p in packages if p.name == app.package), None)
            if pkg is not None:
                found.append(
                    InstalledPackage(
                        Ecosystem.APP,
                        app.name,
                        pkg.version,
                        origin=f"{pkg.ecosystem.value} {pkg.name}",
                    )
                )
            continue
        section = by_name.get(f"{APP_PREFIX}{index}")
        if section is None:
            continue
        revision, why = app_revision(section.lines, app)
        if revision is None:
            if "absent" not in section.lines:
                warn.add(f"app {escape_text(app.name)}: {why}")
            continue
        found.append(InstalledPackage(Ecosystem.APP, app.name, revision, origin=app.path))
    return found


def _section_label(host: Host, name: str) -> str:
    """How a reason names a section: pip sections by the inventory's path, not the index."""
    if name.startswith(PIP_PREFIX):
        index = name[len(PIP_PREFIX) :]
        if index.isdigit() and int(index) < len(host.pip):
            return f"pip {escape_text(host.pip[int(index)])}"
    return escape_text(name)


def _section_failed(host: Host, section: _Section) -> str:
    hint = " (not found)" if section.rc == 127 else ""
    return f"{_section_label(host, section.name)}: probe exited with status {section.rc}{hint}"


def _incomplete_reason(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_PROBLEMS])
    more = len(problems) - MAX_PROBLEMS
    return f"{shown}; {more} more problems" if more > 0 else shown


def parse_probe(
    host: Host,
    output: bytes,
    nonce: str,
    *,
    stderr: bytes = b"",
    rc: int = 0,
    available: AvailableQuery | None = None,
) -> HostSnapshot:
    """The snapshot a probe run with ``nonce`` describes.

    Raises ``ProbeOutputError`` when the output contains no probe section at all, and
    ``ProbeIncomplete`` when it is not complete (module docstring): cut short, a section
    failed, or a dpkg/rpm section does not parse.

    ``stderr`` and the script's ``rc`` explain failures: a few stderr lines are added to the
    warnings only when something failed, so a chatty login shell on a healthy host (pyenv,
    motd scripts) does not turn every host into a warning. ``rc`` < 0 means the transport got
    no exit status (the connection closed first).

    ``available`` is the query the probe was built with: its sections fill
    ``HostSnapshot.available`` (their exit status is judged by ``collectors.available``).
    """
    warn = _Warnings()
    text = output.decode("utf-8", errors="backslashreplace")
    sections, done = _split_sections(text, nonce, warn)
    if not sections:
        raise ProbeOutputError("no probe output found")
    problems: list[str] = []

    by_name: dict[str, _Section] = {}
    for section in sections:
        if section.name in by_name:
            warn.add(f"section {escape_text(section.name)} repeated; last one kept")
        by_name[section.name] = section
        if section.name in available_mod.SECTIONS:
            continue  # judged by collectors.available (dnf exits 1 for "no match")
        if section.rc is None:
            problems.append(f"{_section_label(host, section.name)}: cut short (no end marker)")
        elif section.rc != 0:
            problems.append(_section_failed(host, section))
    if not done:
        problems.append("no final marker (output cut short)")
    if rc < 0:
        problems.append("connection closed before the probe's exit status arrived")
    elif rc != 0:
        problems.append(f"probe exited with status {rc}")

    os_release: OsRelease | None = None
    packages: list[InstalledPackage] = []
    offered: list[AvailableVersions] = []
    native_arch = ""
    if (arch_section := by_name.get(SECTION_DPKG_ARCH)) is not None:
        native_arch = next((ln.strip() for ln in arch_section.lines if ln.strip()), "")
    elif (dpkg_section := by_name.get(SECTION_DPKG)) is not None:
        native_arch = dpkg_native_arch(dpkg_section.lines)
    for name, section in by_name.items():
        if name == SECTION_OS_RELEASE:
            os_release = parse_os_release(section.lines, warn)
        elif name == SECTION_DPKG_ARCH:
            pass
        elif name == SECTION_DPKG:
            packages += parse_dpkg(section.lines, native_arch, warn)
        elif name == SECTION_RPM:
            packages += parse_rpm(section.lines, warn)
        elif (
            name.startswith(PIP_PREFIX)
            and name[len(PIP_PREFIX) :].isdigit()
            and int(name[len(PIP_PREFIX) :]) < len(host.pip)
        ):
            packages += parse_pip(section.lines, host.pip[int(name[len(PIP_PREFIX) :])], warn)
        elif name.startswith(APP_PREFIX):
            pass  # after the packages: a package-sourced application needs them (_apps)
        elif name in available_mod.SECTIONS and available is not None:
            found, notes = available_mod.parse_section(name, section.lines, section.rc, available)
            offered += found
            for message, bad_line in notes:
                warn.add(message, bad_line)
        else:
            warn.add("unknown probe section", name)
    packages += _apps(host, by_name, packages, warn)
    if done:  # cut short, the missing sections are already explained
        expected = [SECTION_OS_RELEASE, *(f"{PIP_PREFIX}{i}" for i in range(len(host.pip)))]
        for name in expected:
            if name not in by_name:
                problems.append(f"{_section_label(host, name)}: section missing")
    for name, (count, first) in warn.unparsed.items():
        what = "1 line does" if count == 1 else f"{count} lines do"
        problems.append(f"{_section_label(host, name)}: {what} not parse (first: {first})")
    if problems:
        err_lines = stderr.decode("utf-8", errors="backslashreplace").splitlines()
        for line in [ln for ln in err_lines if ln.strip()][-MAX_STDERR_LINES:]:
            warn.add("stderr", line)
        raise ProbeIncomplete(_incomplete_reason(problems), warn.result())
    return HostSnapshot(
        host=host,
        os_release=os_release,
        packages=tuple(sorted(set(packages), key=_package_order)),
        warnings=warn.result(),
        available=tuple(sorted(available_mod.merge_security(offered))),
    )
