"""Plain data shared by every layer: frozen dataclasses and enums, no behaviour beyond lookups.

Everything above this module (lockfile, inventory, collectors, diff, reporters) speaks in these
values, so each layer can be tested with hand-built inputs and no I/O.

The values a fleet check makes per host, per package and per finding have ``__slots__``
(``slots=True``): millions of them, each without an instance dict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import NoReturn


def assert_never(value: NoReturn) -> NoReturn:
    """Exhaustiveness check for ``match`` over enums (typing.assert_never is 3.11+)."""
    raise AssertionError(f"unhandled value: {value!r}")


class Ecosystem(str, Enum):
    """A package ecosystem, each with its own version ordering."""

    DEB = "deb"
    RPM = "rpm"
    PIP = "pip"
    # A deployed application's revision (lockfile ``apps``): no order, only equal or not.
    APP = "app"


class AppSource(str, Enum):
    """What identifies a deployed application's revision on a host."""

    GIT = "git"  # a checkout: HEAD resolved from .git files, no git needed on the host
    FILE = "file"  # the first line of a file (REVISION, VERSION) in the deploy directory
    PACKAGE = "package"  # the installed version of a package (deb, rpm or pip)


@dataclass(frozen=True, slots=True)
class AppPin:
    """One application of a role (lockfile ``[roles.<role>.apps.<name>]``).

    ``revision``: the one allowed (a git commit may be given by a prefix of 7+ characters);
    empty when ``same`` asks only that every checked host runs the same revision.
    """

    role: str
    name: str
    path: str
    source: AppSource
    revision: str = ""
    same: bool = False
    file: str = ""  # FILE: relative to ``path``
    package: str = ""  # PACKAGE: the package whose installed version is the revision
    location: Location | None = None


@dataclass(frozen=True, order=True, slots=True)
class OsRelease:
    """An OS release as ``/etc/os-release`` names it: ``ID``-``VERSION_ID`` (``debian-12``)."""

    id: str
    version_id: str

    @property
    def key(self) -> str:
        return f"{self.id}-{self.version_id}"

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """Where a value was written, so errors and SARIF results can point at it (1-based)."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class PolicyKind(str, Enum):
    EXACT = "exact"  # "1.18.0-6ubuntu14.4"
    GLOB = "glob"  # "1.18.0-6ubuntu14.*"
    RANGE = "range"  # ">=1.24, <1.26"


@dataclass(frozen=True, slots=True)
class PinPolicy:
    """How a pin's text is matched against an installed version."""

    kind: PolicyKind
    spec: str


SHARED_ROLE = "*"
"""Role name used for pins that apply to every role (the lockfile's ``[shared]`` section)."""


@dataclass(frozen=True, slots=True)
class Pin:
    """One pinned package for one role (or SHARED_ROLE) on one OS release."""

    role: str
    os_release: str
    ecosystem: Ecosystem
    package: str
    policy: PinPolicy
    location: Location | None = None

    @property
    def spec(self) -> str:
        return self.policy.spec


@dataclass(frozen=True)
class Waiver:
    """An accepted drift: matching findings are shown as waived until ``expires``."""

    package: str
    reason: str
    expires: dt.date
    ecosystem: Ecosystem | None = None
    host: str | None = None
    role: str | None = None
    env: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class Lockfile:
    """The parsed lockfile: pins for every role and OS release, plus waivers."""

    path: str
    schema: int
    roles: tuple[str, ...]
    pins: tuple[Pin, ...]
    waivers: tuple[Waiver, ...] = ()
    # OS releases declared per role (a release with no pins can still be declared supported).
    releases: tuple[tuple[str, str], ...] = ()
    # Deployed applications per role, whatever the release.
    apps: tuple[AppPin, ...] = ()

    def apps_for(self, roles: tuple[str, ...]) -> tuple[AppPin, ...]:
        """The applications of any of ``roles``, each name once (first role wins)."""
        seen: dict[str, AppPin] = {}
        for role in roles:
            for app in self.apps:
                if app.role == role:
                    seen.setdefault(app.name, app)
        return tuple(seen.values())

    # ``releases_for`` / ``pins_for`` answers, kept on the instance (in its __dict__, not
    # fields: not in eq, hash or repr): a fleet check asks them once per host, and each
    # answer scans every pin.

    def releases_for(self, role: str) -> tuple[str, ...]:
        """OS releases declared for ``role`` (shared releases count for every role)."""
        memo: dict[str, tuple[str, ...]] = self.__dict__.setdefault("_releases_memo", {})
        if role not in memo:
            found = {rel for r, rel in self.releases if r in (role, SHARED_ROLE)}
            found |= {p.os_release for p in self.pins if p.role == role}
            memo[role] = tuple(sorted(found))
        return memo[role]

    def pins_for(self, role: str, os_release: str) -> tuple[Pin, ...]:
        """The role's pins for one release plus shared ones; a role pin overrides a shared one."""
        memo: dict[tuple[str, str], tuple[Pin, ...]]
        memo = self.__dict__.setdefault("_pins_memo", {})
        key = (role, os_release)
        if key not in memo:
            chosen: dict[tuple[Ecosystem, str], Pin] = {}
            for pin in self.pins:
                if pin.os_release == os_release and pin.role == SHARED_ROLE:
                    chosen[(pin.ecosystem, pin.package)] = pin
            for pin in self.pins:
                if pin.os_release == os_release and pin.role == role:
                    chosen[(pin.ecosystem, pin.package)] = pin
            memo[key] = tuple(chosen[k] for k in sorted(chosen, key=lambda k: (k[0].value, k[1])))
        return memo[key]


class TransportKind(str, Enum):
    LOCAL = "local"
    SSH = "ssh"
    OPENSSH = "openssh"
    # Offline trees, read without running anything from them (collectors.tree):
    IMAGE = "image"  # an OCI layout / OCI archive / docker-save tarball
    ROOTFS = "rootfs"  # an unpacked root filesystem (mounted cloud image, chroot, debootstrap)

    @property
    def is_offline(self) -> bool:
        """A file tree rather than a machine: no connection, no shell, nothing executed."""
        return self in (TransportKind.IMAGE, TransportKind.ROOTFS)


@dataclass(frozen=True, slots=True)
class Host:
    """A machine to check, as an inventory source described it."""

    name: str
    env: str
    roles: tuple[str, ...]
    transport: TransportKind = TransportKind.SSH
    address: str | None = None
    user: str | None = None
    port: int | None = None
    key_file: str | None = None
    proxy_jump: str | None = None
    # Python interpreters (or virtualenv dirs) whose pip packages are collected.
    pip: tuple[str, ...] = ()
    source: Location | None = None
    # What OpenSSH's config makes of this host (inventory.openssh): every transport reads it.
    route: SshRoute | None = None
    # transport image / rootfs: the image file or directory, or the root of the tree.
    path: str | None = None
    # Applications whose revision the probe reads (the lockfile's, for this host's roles).
    apps: tuple[AppPin, ...] = ()

    @property
    def role(self) -> str:
        """The primary role (first listed)."""
        return self.roles[0] if self.roles else ""


@dataclass(frozen=True)
class Environment:
    name: str
    hosts: tuple[Host, ...]


@dataclass(frozen=True)
class Inventory:
    environments: tuple[Environment, ...]

    @property
    def hosts(self) -> tuple[Host, ...]:
        return tuple(h for e in self.environments for h in e.hosts)

    def env(self, name: str) -> Environment | None:
        return next((e for e in self.environments if e.name == name), None)


class PackageState(str, Enum):
    """Install state as the package manager reports it (dpkg's db:Status-Abbrev, simplified)."""

    INSTALLED = "installed"
    HELD = "held"  # installed and on hold ("hi")
    HALF_INSTALLED = "half-installed"  # half-installed, unpacked, half-configured, triggers...


@dataclass(frozen=True, order=True, slots=True)
class InstalledPackage:
    ecosystem: Ecosystem
    name: str
    version: str
    arch: str = ""
    state: PackageState = PackageState.INSTALLED
    # For pip: which interpreter / virtualenv it came from.
    origin: str = ""


@dataclass(frozen=True, order=True, slots=True)
class SecurityFix:
    """A version of a package that a security source of the host offers, and why it counts.

    ``source`` names the apt suite (``Debian-Security bookworm-security``, ``Ubuntu
    jammy-security``) or the rpm repository; ``advisory``, ``severity`` and ``cves`` are
    filled where the metadata has them (dnf updateinfo: ``RHSA-2024:1234``, ``Important``).
    """

    version: str
    source: str
    advisory: str = ""
    severity: str = ""
    cves: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class AvailableVersions:
    """Versions of one package the host's configured sources offer (apt-cache, dnf)."""

    ecosystem: Ecosystem
    name: str
    versions: tuple[str, ...]
    # Those of ``versions`` a security source offers (``check --security``, ``outdated``).
    security: tuple[SecurityFix, ...] = ()


@dataclass(frozen=True, slots=True)
class HostSnapshot:
    """What one host really has, as collected."""

    host: Host
    os_release: OsRelease | None
    packages: tuple[InstalledPackage, ...]
    # Lines of host output that could not be parsed: reported, never fatal.
    warnings: tuple[str, ...] = ()
    # Only with ``check --installable`` / ``outdated``: what the host's sources offer.
    available: tuple[AvailableVersions, ...] = ()


class FailureKind(str, Enum):
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth-failed"
    HOSTKEY_UNKNOWN = "hostkey-unknown"
    HOSTKEY_CHANGED = "hostkey-changed"
    TIMEOUT = "timeout"
    COLLECT_ERROR = "collect-error"
    # Reached, but the probe's output was cut short, a section failed or did not parse:
    # what was read is not trusted (never turned into ``missing`` findings).
    INCOMPLETE = "incomplete"
    # Checking saved data (``check --snapshot``): the inventory names the host, the data has
    # nothing for it; or what the data has is older than ``--max-age``.
    NO_DATA = "no-data"
    STALE = "stale"


_FAILURE_VALUES = frozenset(k.value for k in FailureKind)


@dataclass(frozen=True, slots=True)
class HostFailure:
    """A host that could not be collected: a value, not an exception."""

    host: Host
    kind: FailureKind
    reason: str
    # What the host said besides the failure (unparsed lines, stderr): shown in reports.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HostWarning:
    """A line of host output pinmgr could not use: every report format shows it."""

    host: str
    env: str
    message: str


class FindingKind(str, Enum):
    OK = "ok"
    DRIFT = "drift"
    MISSING = "missing"
    UNSUPPORTED_OS = "unsupported-os"
    UNPINNED = "unpinned"
    WAIVED = "waived"
    # Hosts of one role (same OS release) disagree with each other on an unpinned package.
    INCONSISTENT = "inconsistent"
    # Hosts of one role in one environment run different OS releases.
    MIXED_OS = "mixed-os"
    # The pinned version is not offered by the host's configured package sources any more.
    NOT_INSTALLABLE = "not-installable"
    # A security source of the host offers a version newer than the pin allows.
    SECURITY_UPDATE = "security-update"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth-failed"
    HOSTKEY_UNKNOWN = "hostkey-unknown"
    HOSTKEY_CHANGED = "hostkey-changed"
    TIMEOUT = "timeout"
    COLLECT_ERROR = "collect-error"
    INCOMPLETE = "incomplete"
    NO_DATA = "no-data"
    STALE = "stale"
    # Saved data has a host the inventory does not know: no environment or role to check it by.
    NOT_IN_INVENTORY = "not-in-inventory"
    # A pinned ecosystem the host could not be checked in (no pip interpreter listed, no rpm
    # database): one finding per host, role and ecosystem, never a silent skip.
    NOT_CHECKED = "not-checked"

    @property
    def is_host_failure(self) -> bool:
        return self._value_ in _FAILURE_VALUES  # (``value`` is itself a Python property)


class Direction(str, Enum):
    OLDER = "older"  # installed is older than pinned
    NEWER = "newer"  # installed is newer than pinned


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact about one host (and usually one package); independent of any output format."""

    kind: FindingKind
    host: str
    env: str
    role: str
    ecosystem: Ecosystem | None = None
    package: str = ""
    expected: str = ""
    actual: str = ""
    direction: Direction | None = None
    reason: str = ""
    os_release: str = ""
    location: Location | None = None
    waiver_reason: str = ""
    # ``security-update`` only: the fixing version, its source and advisory.
    fix: SecurityFix | None = None


@dataclass(frozen=True)
class Summary:
    hosts_total: int
    hosts_collected: int
    counts: tuple[tuple[FindingKind, int], ...]

    def count(self, kind: FindingKind) -> int:
        return dict(self.counts).get(kind, 0)


@dataclass(frozen=True)
class CheckReport:
    findings: tuple[Finding, ...]
    summary: Summary
    lockfile: str = ""
    environments: tuple[str, ...] = field(default=())
    # HostSnapshot.warnings (and HostFailure.warnings) of every host, in host order.
    warnings: tuple[HostWarning, ...] = ()
    # With a history store: each non-ok finding the previous run of the same scope also had,
    # and since when (tz-aware); a non-ok finding absent from it is new. None: no history.
    known_since: Mapping[Finding, dt.datetime] | None = None

    def is_new(self, finding: Finding) -> bool:
        """True for a non-ok finding the previous recorded run did not have (or no history)."""
        if finding.kind is FindingKind.OK:
            return False
        return self.known_since is None or finding not in self.known_since

    @property
    def failed_hosts(self) -> tuple[str, ...]:
        """Hosts that could not be collected, sorted."""
        return tuple(sorted({f.host for f in self.findings if f.kind.is_host_failure}))


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Finding counts of one environment in one recorded run: a point of the report's trend.

    Produced by the history store, drawn by the HTML report; plain values so neither imports
    the other. ``recorded_at`` is timezone-aware.
    """

    recorded_at: dt.datetime
    env: str
    counts: tuple[tuple[FindingKind, int], ...]


@dataclass(frozen=True)
class SourceProblem:
    """A host an inventory source names but pinmgr cannot place: left out, the others still load.

    ``message`` is the whole sentence and names the host (``ansible host 'x': in no role
    group; ...``); ``host`` is the bare name for programs; ``location`` is where the host (or
    the bad value) was written when the source can tell, else the ``[[sources]]`` entry.
    """

    host: str
    message: str
    location: Location | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


@dataclass(frozen=True, slots=True)
class SavedResult:
    """A host's result read back from saved data (snapshot, fact cache): when and where from.

    ``collected_at`` is timezone-aware; it decides which of two copies of a host is kept and
    whether the data is too old (``check --max-age``).
    """

    result: HostSnapshot | HostFailure
    collected_at: dt.datetime
    source: str


@dataclass(frozen=True)
class SshEndpoint:
    """One hop as OpenSSH would reach it, resolved from ssh_config by ``inventory.openssh``.

    Paths are expanded (``~``, ``%h``...). ``identity_files`` empty: OpenSSH's default keys.
    ``known_hosts_files`` is UserKnownHostsFile; ``strict_host_key_checking`` is reported,
    never obeyed when it would turn checking off.
    """

    alias: str
    address: str
    port: int
    user: str
    identity_files: tuple[str, ...] = ()
    certificate_files: tuple[str, ...] = ()
    identities_only: bool = False
    known_hosts_files: tuple[str, ...] = ()
    connect_timeout: float | None = None
    strict_host_key_checking: str = "ask"
    proxy_command: str | None = None


@dataclass(frozen=True)
class SshRoute:
    """How to reach an SSH host: jump hosts in connection order, then the target.

    ``config`` is the file it was resolved from (what ``ssh -F`` should read), None for the
    user's default config.
    """

    target: SshEndpoint
    jumps: tuple[SshEndpoint, ...] = ()
    config: str | None = None
