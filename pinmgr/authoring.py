"""Lockfile authoring use cases: pin, unpin, lock --from a host, accept drift or security
fixes, fmt.

Each ``plan_*`` returns an ``Edit`` (the bytes read and the text to write) without touching the
file, so the CLI can show the diff, ask, and then ``apply`` it; ``apply`` refuses when the file
changed on disk since it was read. Edits go through ``lockfile.edit`` so comments, key order,
blank lines and quoting the user wrote survive.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from packaging.utils import canonicalize_name
from tomlkit.toml_document import TOMLDocument

from pinmgr.diff.check import declared_release
from pinmgr.errors import HostCollectError, LockfileError, UsageError, VersionError, WriteError
from pinmgr.lockfile import edit
from pinmgr.lockfile.keyset import is_key
from pinmgr.lockfile.load import loads
from pinmgr.lockfile.template import new_lockfile
from pinmgr.model import (
    SHARED_ROLE,
    CheckReport,
    Ecosystem,
    FindingKind,
    HostSnapshot,
    InstalledPackage,
    Lockfile,
    OsRelease,
    PackageState,
    Pin,
    PolicyKind,
)
from pinmgr.versions import validate
from pinmgr.versions.names import name_problem
from pinmgr.versions.policy import evaluate
from pinmgr.versions.text import MAX_VERSION_CHARS, problem, shown


@dataclass(frozen=True)
class Edit:
    path: Path
    before: bytes
    after: str
    notes: tuple[str, ...] = ()
    # The file does not exist yet: ``apply`` creates it, and refuses if it appeared meanwhile.
    created: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after.encode("utf-8")

    def diff(self) -> str:
        old = self.before.decode("utf-8", "replace").splitlines(keepends=True)
        new = self.after.splitlines(keepends=True)
        was = "/dev/null" if self.created else f"a/{self.path.name}"
        return "".join(difflib.unified_diff(old, new, was, f"b/{self.path.name}"))


def _open(path: str | Path) -> tuple[Path, TOMLDocument, bytes]:
    p = Path(path)
    if not p.exists():
        raise LockfileError(
            f"{p}: no such lockfile (start one with `pinmgr init`, or "
            f"`pinmgr lock --from HOST -l {p}` creates it)"
        )
    doc, raw = edit.read_document(p)
    return p, doc, raw


def _open_or_new(path: str | Path) -> tuple[Path, TOMLDocument, bytes, bool]:
    """The lockfile, or a new one (header and ``schema = 1``) when there is none yet."""
    p = Path(path)
    if p.exists() or p.is_symlink():
        return (*_open(p), False)
    if not p.parent.is_dir():
        raise LockfileError(f"{p}: no such lockfile, and no directory {p.parent} to create it in")
    return p, edit.parse(new_lockfile(), str(p)), b"", True


def _finish(
    path: Path, doc: TOMLDocument, raw: bytes, notes: Iterable[str] = (), *, created: bool = False
) -> Edit:
    text = _same_ending(edit.dumps(doc), raw)
    loads(text, str(path))  # never write a lockfile pinmgr itself would reject
    return Edit(path, raw, text, tuple(notes), created)


_BARE_LF = re.compile(r"(?<!\r)\n")


def _same_ending(text: str, raw: bytes) -> str:
    """Line endings as the file had them: a CRLF file stays all CRLF (new tables included),
    and the blank line a table added at the end leaves is dropped unless the file had one,
    so an edit of a ``pinmgr fmt``-clean file stays clean (``fmt --check`` in CI)."""
    if b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n"):
        text = _BARE_LF.sub("\r\n", text)
    for nl in ("\r\n", "\n"):
        if text.endswith(nl * 2) and not raw.endswith((nl * 2).encode()):
            return text.rstrip("\r\n") + nl
    return text


def _same(ecosystem: Ecosystem, name: str) -> str:
    """A package name as the ecosystem compares it (pip: ``Foo_Bar`` is ``foo-bar``)."""
    return canonicalize_name(name) if ecosystem is Ecosystem.PIP else name


def _spelled(lock: Lockfile, role: str, os_release: str, ecosystem: Ecosystem, package: str) -> str:
    """The spelling the table already uses for ``package``, so an edit changes that pin
    instead of adding a duplicate pinmgr would reject (``django`` when ``Django`` is pinned)."""
    want = _same(ecosystem, package)
    for pin in lock.pins:
        if (pin.role, pin.os_release, pin.ecosystem) == (role, os_release, ecosystem) and _same(
            ecosystem, pin.package
        ) == want:
            return pin.package
    return package


def apply(change: Edit) -> None:
    """Write the edit atomically; refuse if the file changed since it was read."""
    from pinmgr.atomic import write_atomic

    if change.created:
        if change.path.exists() or change.path.is_symlink():
            raise WriteError(f"{change.path} was created meanwhile; nothing written, run again")
        write_atomic(change.path, change.after, None)
    elif change.changed:
        write_atomic(change.path, change.after, change.before)


def plan_pin(
    lockfile: str | Path,
    role: str,
    os_release: str,
    ecosystem: Ecosystem,
    pins: Sequence[tuple[str, str]],
) -> Edit:
    """Set ``package = version`` pins (validated with the ecosystem's rules)."""
    path, doc, raw = _open(lockfile)
    current = loads(edit.dumps(doc), str(path))
    for package, version in pins:
        name = _spelled(current, role, os_release, ecosystem, package)
        edit.set_pin(doc, role, os_release, ecosystem, name, version)
    return _finish(path, doc, raw)


def plan_unpin(
    lockfile: str | Path,
    role: str,
    os_release: str,
    ecosystem: Ecosystem,
    packages: Sequence[str],
) -> Edit:
    path, doc, raw = _open(lockfile)
    current = loads(edit.dumps(doc), str(path))
    missing = [
        p
        for p in packages
        if not edit.remove_pin(
            doc, role, os_release, ecosystem, _spelled(current, role, os_release, ecosystem, p)
        )
    ]
    if missing:
        where = f"{'shared' if role == SHARED_ROLE else 'role ' + role} on {os_release}"
        raise UsageError(f"not pinned for {where} ({ecosystem.value}): {', '.join(missing)}", None)
    return _finish(path, doc, raw)


def plan_init(
    lockfile: str | Path,
    snapshots: Sequence[tuple[str, HostSnapshot]],
    *,
    force: bool = False,
) -> Edit:
    """A new lockfile pinning the key packages (``lockfile.keyset``) each role's host has now.

    ``snapshots`` pairs a role with the host read for it (one host per role). The file must
    not exist unless ``force``; then it is replaced whole (the diff shows what goes).
    """
    path = Path(lockfile)
    raw = b""
    created = not (path.exists() or path.is_symlink())
    if not created:
        if not force:
            raise UsageError(f"{path} exists; not overwriting it (--force replaces it)")
        raw = path.read_bytes()
    hosts = ", ".join(f"{snap.host.name} (role {role})" for role, snap in snapshots)
    doc = edit.parse(new_lockfile(f"Started by `pinmgr init` from {hosts}."), str(path))
    notes = []
    for role, snap in snapshots:
        if snap.os_release is None:
            raise UsageError(f"{snap.host.name}: the host did not report an OS release")
        release = lock_release(snap.os_release, ())
        wanted = _installed_keys(snap)
        if not wanted:
            notes.append(f"{snap.host.name}: none of the key packages is installed")
        for eco, name, version in wanted:
            _refuse_unwritable(snap.host.name, eco, name, version)
            edit.set_pin(doc, role, release, eco, name, version)
        ecos = sorted({eco.value for eco, _, _ in wanted})
        notes.append(
            f"role {role}, {release}: {len(wanted)} key packages of {snap.host.name} pinned"
            f"{' (' + ', '.join(ecos) + ')' if ecos else ''}"
        )
    text = edit.dumps(doc)
    loads(text, str(path))  # never write a lockfile pinmgr itself would reject
    return Edit(path, raw, text, tuple(notes), created)


def _installed_keys(snap: HostSnapshot) -> list[tuple[Ecosystem, str, str]]:
    """(ecosystem, name, version) of the key packages the host has; deb/rpm only (pip pins
    need interpreters listed in the inventory, which a new user adds later)."""
    dpkg = [p for p in snap.packages if p.ecosystem is Ecosystem.DEB and p.name == "dpkg"]
    native = dpkg[0].arch if dpkg else ""
    found: dict[tuple[Ecosystem, str], str] = {}
    for pkg in snap.packages:
        if pkg.ecosystem is Ecosystem.PIP or pkg.state is not PackageState.INSTALLED:
            continue
        name = _native_name(pkg, native)
        if ":" not in name and is_key(name):
            found.setdefault((pkg.ecosystem, name), pkg.version)
    return [(eco, name, version) for (eco, name), version in sorted(found.items())]


def plan_new_file(path: str | Path, text: str, *, force: bool = False) -> Edit:
    """Any other file ``init`` writes (the inventory): created, or replaced with ``force``."""
    p = Path(path)
    if p.exists() or p.is_symlink():
        if not force:
            raise UsageError(f"{p} exists; not overwriting it (--force replaces it)")
        return Edit(p, p.read_bytes(), text)
    return Edit(p, b"", text, created=True)


class Selection(str, Enum):
    """Which installed packages ``pinmgr lock`` writes into the lockfile."""

    KEY = "key"  # packages the lockfile already pins for the role (any release) + shared
    ALL = "all"  # everything installed
    LISTED = "listed"  # the packages named with --packages


def _native_name(pkg: InstalledPackage, native_arch: str) -> str:
    """``libssl3:amd64`` on an amd64 host is pinned as ``libssl3``; foreign arches keep theirs."""
    if pkg.ecosystem is Ecosystem.DEB and ":" in pkg.name:
        base, arch = pkg.name.split(":", 1)
        if arch in (native_arch, "all"):
            return base
    return pkg.name


def plan_lock(
    lockfile: str | Path,
    snapshot: HostSnapshot,
    role: str,
    selection: Selection,
    packages: Sequence[str] = (),
) -> Edit:
    """Capture the versions a host has now into the role's pins for its OS release."""
    if snapshot.os_release is None:
        raise UsageError(f"{snapshot.host.name}: the host did not report an OS release")
    path, doc, raw, created = _open_or_new(lockfile)
    current = loads(edit.dumps(doc), str(path))
    release = lock_release(snapshot.os_release, current.releases_for(role))
    dpkg = [p for p in snapshot.packages if p.ecosystem is Ecosystem.DEB and p.name == "dpkg"]
    native = dpkg[0].arch if dpkg else ""
    # Keyed as the ecosystem compares names; the value keeps the host's spelling.
    installed: dict[tuple[Ecosystem, str], tuple[str, InstalledPackage]] = {}
    for pkg in snapshot.packages:
        name = _native_name(pkg, native)
        installed.setdefault((pkg.ecosystem, _same(pkg.ecosystem, name)), (name, pkg))
    match selection:
        case Selection.ALL:
            wanted = sorted(installed, key=lambda k: (k[0].value, k[1]))
        case Selection.LISTED:
            by_name: dict[str, list[tuple[Ecosystem, str]]] = defaultdict(list)
            for key in installed:
                by_name[key[1]].append(key)
                by_name[installed[key][0]].append(key)
            absent = [
                p for p in packages if p not in by_name and canonicalize_name(p) not in by_name
            ]
            if absent:
                raise UsageError(f"{snapshot.host.name}: not installed there: {', '.join(absent)}")
            wanted = list(
                dict.fromkeys(
                    k for p in packages for k in by_name[p] or by_name[canonicalize_name(p)]
                )
            )
        case Selection.KEY:
            names = _key_packages(current, role, release, snapshot)
            if not names:
                raise UsageError(
                    f"the lockfile pins nothing yet for role {role}: name packages with "
                    "--packages, or take everything with --all"
                )
            wanted = [k for k in sorted(names, key=lambda k: (k[0].value, k[1])) if k in installed]
    notes = []
    if selection is Selection.KEY:
        absent_keys = sorted(
            f"{k[1]} ({k[0].value})"
            for k in _key_packages(current, role, release, snapshot) - set(installed)
        )
        if absent_keys:
            notes.append(f"not installed on {snapshot.host.name}: {', '.join(absent_keys)}")
    # A pin the host already satisfies stays as written: a glob or range is a decision
    # ("security revisions float"), and a shared pin needs no copy in the role's table.
    effective = {
        (p.ecosystem, _same(p.ecosystem, p.package)): p for p in current.pins_for(role, release)
    }
    kept: list[str] = []
    overridden: list[str] = []
    for eco, same in wanted:
        host_name, pkg = installed[(eco, same)]
        pin = effective.get((eco, same))
        if pin is not None and _satisfied(pin, pkg.version):
            if pin.policy.kind is not PolicyKind.EXACT:
                kept.append(f"{pin.package} = {pin.spec!r}")
            continue
        if pin is not None and pin.role == SHARED_ROLE:
            overridden.append(pin.package)
        _refuse_unwritable(snapshot.host.name, eco, host_name, pkg.version)
        name = _spelled(current, role, release, eco, host_name)
        edit.set_pin(doc, role, release, eco, name, pkg.version)
    if kept:
        notes.append(f"kept, {snapshot.host.name} satisfies them: {', '.join(kept)}")
    if overridden:
        notes.append(f"pinned for role {role}, overriding the shared pins: {', '.join(overridden)}")
    return _finish(path, doc, raw, notes, created=created)


RELEASE_BY_MAJOR = frozenset(("rhel", "rocky", "almalinux", "centos", "ol", "amzn"))
"""OS ids whose point releases (``rocky 9.3``, ``9.4``) share one lockfile table."""


def lock_release(os_release: OsRelease, declared: Sequence[str]) -> str:
    """The release table a host's versions go into: the declared one it falls under
    (``rocky-9`` for 9.3), else ``ID-VERSION_ID`` (the major version for RHEL-likes)."""
    found = declared_release(os_release, declared)
    if found is not None:
        return found
    if os_release.id in RELEASE_BY_MAJOR and "." in os_release.version_id:
        return f"{os_release.id}-{os_release.version_id.split('.', 1)[0]}"
    return os_release.key


def _refuse_unwritable(host: str, ecosystem: Ecosystem, name: str, version: str) -> None:
    """A host's package name or version the lockfile may not hold ends the edit, naming both.

    Host text is untrusted: control characters, undecodable bytes (which arrive as ``\\xc3``
    escapes) or what the ecosystem's syntax forbids are refused, never repaired or written.
    """
    refusal = name_problem(ecosystem, name)
    if refusal is None:
        try:
            validate(ecosystem, version)
        except VersionError as exc:
            refusal = f"{ecosystem.value} package {shown(name)}: {exc.message}"
    if refusal is not None:
        raise VersionError(f"{host}: {refusal}; the lockfile was not changed")


def _quoted(version: str) -> str:
    """A host's version for a note: as is, or quoted and cut when it holds control text."""
    return version if problem(version, MAX_VERSION_CHARS) is None else shown(version)


def _satisfied(pin: Pin, version: str) -> bool:
    try:
        return evaluate(pin.ecosystem, pin.policy, version) is None
    except VersionError:
        return False


def _key_packages(
    lock: Lockfile, role: str, release: str, snapshot: HostSnapshot
) -> set[tuple[Ecosystem, str]]:
    """Packages the lockfile pins for the role, in the ecosystems this host can be checked in.

    Pins of other releases count (a new release keeps the names), but not an ecosystem the
    host reported nothing of (rocky-9's rpm pins on a Debian host; pip pins when no
    interpreter is listed for it, so none was read).
    """
    pins = [p for p in lock.pins if p.role == role] + list(lock.pins_for(role, release))
    usable = {pkg.ecosystem for pkg in snapshot.packages}
    return {(p.ecosystem, _same(p.ecosystem, p.package)) for p in pins if p.ecosystem in usable}


def plan_accept(lockfile: str | Path, report: CheckReport, packages: Sequence[str] = ()) -> Edit:
    """Take the versions hosts have now into the lockfile, for drifting packages only.

    The "yes, this upgrade was intended" flow. A pin is changed where it lives (a shared pin in
    the shared table). Where hosts of one role disagree, nothing is written for that package and
    a note says so: pick the version with ``pinmgr pin``.
    """
    refuse_failed_hosts(report, "not accepting")
    path, doc, raw = _open(lockfile)
    current = loads(edit.dumps(doc), str(path))
    # pin -> installed version -> the first host reporting it (named if it cannot be written)
    seen: dict[tuple[str, str, Ecosystem, str], dict[str, str]] = defaultdict(dict)
    for f in report.findings:
        if f.kind is not FindingKind.DRIFT or f.ecosystem is None or not f.actual:
            continue
        if packages and f.package not in packages:
            continue
        pin = _pin_of(current, f.role, f.os_release, f.ecosystem, f.package)
        if pin is None:
            continue
        # Keyed by the pin's own spelling: a finding names the package as the host does
        # (``libssl3:amd64``, ``django``), the edit must change the pin that is there.
        seen[(pin.role, f.os_release, f.ecosystem, pin.package)].setdefault(f.actual, f.host)
    notes: list[str] = []
    for (role, release, eco, name), versions in sorted(seen.items(), key=lambda i: str(i[0])):
        if len(versions) > 1:
            shown_versions = ", ".join(map(_quoted, sorted(versions)))
            notes.append(
                f"{name} ({eco.value}, {release}): hosts disagree ({shown_versions}); "
                f"not accepted — choose one with: pinmgr pin {name}=VERSION "
                f"{'--shared' if role == SHARED_ROLE else '--role ' + role} --os {release}"
            )
            continue
        ((version, host),) = versions.items()
        _refuse_unwritable(host, eco, name, version)
        edit.set_pin(doc, role, release, eco, name, version)
    if not seen:
        notes.append("no drift to accept")
    return _finish(path, doc, raw, notes)


def plan_security_fixes(
    lockfile: str | Path, report: CheckReport, packages: Sequence[str] = ()
) -> Edit:
    """Move exactly the pins behind a security fix (``security-update``) to the fixing version.

    The report comes from ``check --security``. Where hosts of one role are offered different
    fixing versions (their security sources are not equally fresh), nothing is written for
    that pin and a note names the versions: pick one with ``pinmgr pin``.
    """
    refuse_failed_hosts(report, "not moving pins")
    path, doc, raw = _open(lockfile)
    current = loads(edit.dumps(doc), str(path))
    seen: dict[tuple[str, str, Ecosystem, str], dict[str, str]] = defaultdict(dict)
    for f in report.findings:
        if f.kind is not FindingKind.SECURITY_UPDATE or f.ecosystem is None or f.fix is None:
            continue
        if packages and f.package not in packages:
            continue
        pin = _pin_of(current, f.role, f.os_release, f.ecosystem, f.package)
        if pin is None:
            continue
        seen[(pin.role, f.os_release, f.ecosystem, pin.package)].setdefault(f.fix.version, f.host)
    notes: list[str] = []
    for (role, release, eco, name), versions in sorted(seen.items(), key=lambda i: str(i[0])):
        if len(versions) > 1:
            shown_versions = ", ".join(map(_quoted, sorted(versions)))
            notes.append(
                f"{name} ({eco.value}, {release}): hosts are offered different security fixes "
                f"({shown_versions}); not moved — choose one with: pinmgr pin {name}=VERSION "
                f"{'--shared' if role == SHARED_ROLE else '--role ' + role} --os {release}"
            )
            continue
        ((version, host),) = versions.items()
        _refuse_unwritable(host, eco, name, version)
        edit.set_pin(doc, role, release, eco, name, version)
    if not seen:
        notes.append("no pin is behind a security fix")
    return _finish(path, doc, raw, notes)


MAX_NAMED_FAILURES = 5


def refuse_failed_hosts(report: CheckReport, doing: str) -> None:
    """Raise (exit 3) when any host was not collected or came back incomplete.

    Accepting from a partial fleet would take versions from the hosts that answered and call
    the rest in sync; a half-read host would look like it has none of the packages after
    the cut. One line names each host, its failure kind and reason; nothing is written.
    """
    failed = [f for f in report.findings if f.kind.is_host_failure]
    if not failed:
        return
    named = [f"{f.host} ({f.env}): {f.kind.value}: {f.reason}" for f in failed]
    more = len(named) - MAX_NAMED_FAILURES
    shown = "; ".join(named[:MAX_NAMED_FAILURES]) + (f"; and {more} more" if more > 0 else "")
    hosts = "a host was" if len(failed) == 1 else f"{len(failed)} hosts were"
    raise HostCollectError(f"{doing}: {hosts} not collected, the lockfile is unchanged: {shown}")


def _pin_of(
    lock: Lockfile, role: str, release: str, ecosystem: Ecosystem, package: str
) -> Pin | None:
    """The pin a finding about ``package`` came from (a role pin over a shared one)."""
    pins = {(p.ecosystem, _same(p.ecosystem, p.package)): p for p in lock.pins_for(role, release)}
    pin = pins.get((ecosystem, _same(ecosystem, package)))
    if pin is None and ecosystem is Ecosystem.DEB and ":" in package:
        # An unqualified pin is checked against the host's native architecture, which dpkg
        # names ``libssl3:amd64``; a pin written ``libssl3:i386`` matched exactly above.
        pin = pins.get((ecosystem, package.split(":", 1)[0]))
    return pin
