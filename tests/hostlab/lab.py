"""Real sshd test hosts, one per network/mount/UTS/PID namespace, on a private lab bridge.

Each host is ``ip netns exec NS unshare -m -u -p -f --mount-proc <host-init>``: host-init sets the
hostname and address, mounts the host's own ``/etc/os-release``, dpkg database, virtualenv and
account files (the login user exists only there: see ``accounts.py``) over the real ones
(privately, so the machine never sees them), then ``exec``\\ s sshd (or a listener that never
speaks, for ``hang``). Killing that process ends the whole host, mounts included.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import net, rpmhost
from .accounts import Accounts
from .packages import (
    BASE_PIP,
    OS_RELEASE_FILES,
    DpkgEntry,
    Status,
    default_arch,
    packages_for,
    render_status,
)
from .rpmhost import RpmEntry

if TYPE_CHECKING:
    from pinmgr.model import Host

HostKind = Literal["ssh", "hang", "refused", "unreachable"]
LabFactory = Callable[..., "Lab"]
"""The ``hostlab`` fixture: ``hostlab(specs, timeout=60.0) -> Lab`` (started, stopped for you)."""
LAB_USER = "pinmgr-lab"
VENV_PATH = "/srv/app/venv"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
SYSTEM_PYTHON = "/usr/bin/python3"

_HANG_LISTENER = (
    "import socket\n"
    "s = socket.socket()\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 22))\n"
    "s.listen(256)\n"
    "held = []\n"
    "while True:\n"
    "    held.append(s.accept()[0])\n"
)


def older(version: str) -> str:
    """A version dpkg orders just below ``version`` (last number - 1, else a ``~`` suffix)."""
    head, num, tail = _split_last_number(version)
    if num and int(num) > 0:
        return f"{head}{int(num) - 1}{tail}"
    return f"{version}~lab1"


def newer(version: str) -> str:
    """A version dpkg orders just above ``version`` (last number + 1)."""
    head, num, tail = _split_last_number(version)
    if num:
        return f"{head}{int(num) + 1}{tail}"
    return f"{version}+lab1"


def _split_last_number(version: str) -> tuple[str, str, str]:
    end = len(version)
    while end > 0 and not version[end - 1].isdigit():
        end -= 1
    start = end
    while start > 0 and version[start - 1].isdigit():
        start -= 1
    return version[:start], version[start:end], version[end:]


@dataclass(frozen=True)
class Drift:
    """What to plant on a host, relative to its release's base packages."""

    versions: Mapping[str, str] = field(default_factory=dict)
    """package -> version installed instead of the base one (older or newer)."""
    missing: tuple[str, ...] = ()
    """Base packages absent from the dpkg database."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Packages not in the base set, name -> version."""
    config_files: tuple[str, ...] = ()
    """Packages removed but not purged: state ``rc`` (deinstall ok config-files)."""
    held: tuple[str, ...] = ()
    """Packages on hold: state ``hi`` (hold ok installed)."""
    foreign: Mapping[str, str] = field(default_factory=dict)
    """Second-architecture (i386, Multi-Arch: same) copies, name -> version."""


@dataclass(frozen=True)
class Planted:
    """One planted difference from the base set, as a test should expect to find it."""

    kind: Literal["older", "newer", "missing", "extra", "config-files", "held", "foreign-arch"]
    package: str
    arch: str
    base: str | None
    actual: str | None


@dataclass(frozen=True)
class HostSpec:
    """What one lab host should be; ``kind`` picks sshd, a silent listener, or nothing at all."""

    name: str
    env: str = "staging"
    role: str = "app"
    os_release: str = "debian-12"
    drift: Drift = field(default_factory=Drift)
    pip: Mapping[str, str] | None = None
    """The venv's packages; None -> BASE_PIP on ``app`` hosts, no venv on others."""
    kind: HostKind = "ssh"
    writable: bool = False
    """Overlays over /etc, /usr and /var (status in the upper layer) so apt/dpkg can write."""
    proxy_jump: str | None = None
    """Name of another lab host to reach this one through (ssh_config ProxyJump)."""
    roles: tuple[str, ...] = ()
    """All roles for the inventory; default ``(role,)``."""
    force_command: str | None = None
    """An executable script (with its ``#!`` line) that this host's sshd runs instead of any
    command a client asks for (sshd ``ForceCommand``; the request is in
    ``$SSH_ORIGINAL_COMMAND``, its stdin is the client's): a host that misbehaves on purpose."""
    dnf_repo: str | None = None
    """rpm hosts: a directory holding an rpm repository (``createrepo_c``), the only source of
    the host's dnf (its cache is filled once the host is up); see ``rpmhost.py``."""


@dataclass
class LabHost:
    """A started lab host and everything planted on it."""

    spec: HostSpec
    address: str
    index: int
    netns: str
    dir: Path
    packages: tuple[DpkgEntry, ...]
    planted: tuple[Planted, ...]
    pip: Mapping[str, str]
    host_key_pub: str = ""
    trusted_key: str = ""
    """The key known_hosts holds for this host (differs from host_key_pub after rekey)."""
    proc: subprocess.Popen[bytes] | None = None
    rpms: tuple[RpmEntry, ...] = ()
    """rpm hosts (``rpmhost.is_rpm_release``): their rpm database; ``packages`` is empty."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def env(self) -> str:
        return self.spec.env

    @property
    def role(self) -> str:
        return self.spec.role

    @property
    def roles(self) -> tuple[str, ...]:
        return self.spec.roles or (self.spec.role,)

    @property
    def os_release(self) -> str:
        return self.spec.os_release

    @property
    def kind(self) -> HostKind:
        return self.spec.kind

    @property
    def venv(self) -> str | None:
        """The virtualenv path on the host, or None."""
        return VENV_PATH if self.has_venv else None

    @property
    def has_venv(self) -> bool:
        return self.spec.kind == "ssh" and (self.spec.pip is not None or self.spec.role == "app")

    @property
    def home(self) -> Path:
        """The lab user's home on this host (a dir of the lab's, never the machine's)."""
        return self.dir / "home"

    @property
    def log(self) -> Path:
        """sshd's (or the listener's) stderr."""
        return self.dir / "log"

    def query_lines(self) -> list[str]:
        """What ``dpkg-query -W -f '${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n'``
        prints on this host, in its order."""
        return [e.query_line() for e in sorted(self.packages, key=lambda e: (e.name, e.arch))]

    def installed(self) -> dict[str, str]:
        """binary:Package -> version for entries that are installed (``ii``/``hi``)."""
        return {
            e.binary_package: e.version for e in self.packages if e.status != Status.CONFIG_FILES
        }

    def as_host(self, lab: Lab) -> Host:
        """This host as ``pinmgr.model.Host`` (what the native inventory would load)."""
        from pinmgr.model import Host  # lazily: the lab stays usable without pinmgr

        return Host(
            name=self.name,
            env=self.env,
            roles=self.roles,
            address=self.address,
            user=lab.user,
            port=22,
            key_file=str(lab.client_key),
            proxy_jump=lab.jump_spec(self),
            pip=(VENV_PATH,) if self.has_venv else (),
        )


def plant(spec: HostSpec) -> tuple[tuple[DpkgEntry, ...], tuple[Planted, ...]]:
    """The host's dpkg entries after applying its drift, and the record of what was planted."""
    base = packages_for(spec.os_release, spec.role)
    d = spec.drift
    planted: list[Planted] = []
    entries: dict[tuple[str, str], DpkgEntry] = {}
    for name, version in base.items():
        entries[(name, default_arch(name))] = DpkgEntry(name, default_arch(name), version)
    for name, version in d.versions.items():
        if name not in base:
            raise ValueError(f"{spec.name}: drift.versions names {name}, not a base package")
        kind: Literal["older", "newer"] = "older" if _dpkg_lt(version, base[name]) else "newer"
        if version == base[name]:
            raise ValueError(f"{spec.name}: drift.versions[{name}] equals the base version")
        arch = default_arch(name)
        entries[(name, arch)] = DpkgEntry(name, arch, version)
        planted.append(Planted(kind, name, arch, base[name], version))
    for name in d.missing:
        if name not in base:
            raise ValueError(f"{spec.name}: drift.missing names {name}, not a base package")
        del entries[(name, default_arch(name))]
        planted.append(Planted("missing", name, default_arch(name), base[name], None))
    for name, version in d.extra.items():
        if name in base:
            raise ValueError(f"{spec.name}: drift.extra names {name}, already a base package")
        arch = default_arch(name)
        entries[(name, arch)] = DpkgEntry(name, arch, version)
        planted.append(Planted("extra", name, arch, None, version))
    for name in d.config_files:
        arch = default_arch(name)
        old = entries.get((name, arch))
        if old is None:
            raise ValueError(f"{spec.name}: drift.config_files names {name}, not installed")
        entries[(name, arch)] = replace(old, status=Status.CONFIG_FILES)
        planted.append(Planted("config-files", name, arch, base.get(name), old.version))
    for name in d.held:
        arch = default_arch(name)
        old = entries.get((name, arch))
        if old is None:
            raise ValueError(f"{spec.name}: drift.held names {name}, not installed")
        entries[(name, arch)] = replace(old, status=Status.HELD)
        planted.append(Planted("held", name, arch, base.get(name), old.version))
    for name, version in d.foreign.items():
        entries[(name, "i386")] = DpkgEntry(name, "i386", version)
        planted.append(Planted("foreign-arch", name, "i386", None, version))
    return tuple(sorted(entries.values())), tuple(planted)


def plant_rpm(spec: HostSpec) -> tuple[tuple[RpmEntry, ...], tuple[Planted, ...]]:
    """An rpm host's packages after its drift (versions/missing/extra; ``foreign`` adds an
    i686 copy), and the record of what was planted (see ``rpmhost.plant_rpm``)."""
    d = spec.drift
    if d.held or d.config_files:
        raise ValueError(f"{spec.name}: rpm hosts have no held or config-files state")
    entries, rows = rpmhost.plant_rpm(
        spec.os_release, spec.role, d.versions, d.missing, d.extra, d.foreign
    )
    return tuple(entries), tuple(Planted(*row) for row in rows)  # type: ignore[arg-type]


def _dpkg_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0


def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key):
        return key
    return _toml_str(key)


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class Lab:
    """A set of lab hosts on one private bridge; ``stop()`` undoes everything it did.

    Host-visible files (authorized_keys, venvs, init scripts) live in ``workdir`` which must be
    traversable by the login user, so by default it is a fresh 0755 dir under the system tmp dir.
    """

    def __init__(self, workdir: Path | None = None, user: str = LAB_USER) -> None:
        reason = net.requirements_missing()
        if reason:
            raise net.LabError(reason)
        self.user = user
        self._own_dir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="pinmgr-hostlab-", dir=workdir))
        self.workdir.chmod(0o755)
        self.hosts: dict[str, LabHost] = {}
        self._slot: net.Slot | None = None
        self._next_index = 2
        self._next_unreachable = 1
        self._netns: list[str] = []
        self._links: list[str] = []
        self._stopped = False
        self._site_rel = Path("lib", "python3", "site-packages")
        self._accounts: Accounts | None = None
        atexit.register(self.stop)

    # --- public paths -------------------------------------------------------------------------

    @property
    def client_key(self) -> Path:
        return self.workdir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.workdir / "ssh_config"

    @property
    def bridge(self) -> str:
        if self._slot is None:
            raise net.LabError("lab not started")
        return self._slot.bridge

    @property
    def subnet(self) -> str:
        """The lab's /24, e.g. ``10.213.3.0/24``."""
        if self._slot is None:
            raise net.LabError("lab not started")
        return f"{self._slot.subnet}.0/24"

    @property
    def netns(self) -> tuple[str, ...]:
        return tuple(self._netns)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- start --------------------------------------------------------------------------------

    def start(self, specs: Sequence[HostSpec], timeout: float = 60.0) -> list[LabHost]:
        """Start ``specs`` (may be called again to add hosts); return them once all are ready."""
        if self._stopped:
            raise net.LabError("lab already stopped")
        names = [s.name for s in specs]
        dupes = {n for n in names if names.count(n) > 1} | (set(names) & set(self.hosts))
        if dupes:
            raise ValueError(f"duplicate host names: {sorted(dupes)}")
        net.ensure_guard_route()
        first = self._slot is None
        if first:
            self._slot = net.Slot()
            self._prepare_common()
        slot = self._slot
        assert slot is not None

        new: list[LabHost] = []
        for spec in specs:
            rpms: tuple[RpmEntry, ...] = ()
            if rpmhost.is_rpm_release(spec.os_release):
                spec = replace(spec, writable=True)  # its rpm database lives in the overlays
                rpms, planted = plant_rpm(spec)
                packages: tuple[DpkgEntry, ...] = ()
            elif spec.os_release in OS_RELEASE_FILES:
                packages, planted = plant(spec)
            else:
                raise ValueError(f"{spec.name}: unknown os_release {spec.os_release!r}")
            if spec.kind == "unreachable":
                address, index, ns = f"{net.UNREACHABLE_NET}.{self._next_unreachable}", 0, ""
                self._next_unreachable += 1
            else:
                index = self._next_index
                if index > 254:
                    raise net.LabError("a lab holds at most 253 hosts")
                self._next_index += 1
                address, ns = f"{slot.subnet}.{index}", slot.netns(index)
            host = LabHost(
                spec=spec,
                address=address,
                index=index,
                netns=ns,
                dir=self.workdir / "hosts" / spec.name,
                packages=packages,
                planted=planted,
                pip=dict(spec.pip if spec.pip is not None else BASE_PIP),
                rpms=rpms,
            )
            if not host.has_venv:
                host.pip = {}
            new.append(host)
            self.hosts[spec.name] = host

        for proxy in {h.spec.proxy_jump for h in new if h.spec.proxy_jump}:
            if proxy not in self.hosts:
                raise ValueError(f"proxy_jump names unknown host {proxy!r}")

        live = [h for h in new if h.kind != "unreachable"]
        self._write_host_files(live)
        self._create_network(live, with_bridge=first)
        net.ensure_guard_route()  # again: never let a host run without it
        routed = net.routed_devices([h.address for h in live])
        wrong = {a: d for a, d in routed.items() if d != slot.bridge}
        if wrong:
            raise net.LabError(f"lab addresses not routed via {slot.bridge}: {wrong}")
        for h in live:
            self._spawn(h)
        self._wait_ready(live, timeout)
        self._write_client_files()
        self._fill_dnf_caches([h for h in live if h.spec.dnf_repo and h.kind == "ssh"])
        return new

    def _fill_dnf_caches(self, hosts: Sequence[LabHost]) -> None:
        """``dnf makecache`` as root inside each rpm host, all at once: it fills the cache
        ``dnf -C`` reads; ``dnf history list`` then creates the history database a real host
        has after its first transaction (unprivileged dnf otherwise says it cannot)."""
        script = "dnf -q makecache && dnf -q history list"
        running = [
            (
                h,
                subprocess.Popen(
                    ["nsenter", "-t", str(self.pid1(h)), "-a", "--", "sh", "-c", script],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
            for h in hosts
        ]
        for h, proc in running:
            _, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise net.LabError(f"{h.name}: dnf makecache failed: {err[-400:]}")

    def unreachable_address(self) -> str:
        """An address only the guard route covers: connecting fails at once (no route)."""
        return f"{net.UNREACHABLE_NET}.250"

    def _prepare_common(self) -> None:
        self._accounts = Accounts.from_machine(self.user)
        key = self.client_key
        net.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pinmgr-lab", "-f", str(key)])
        auth = self.workdir / "authorized_keys"
        auth.write_text(key.with_suffix(".pub").read_text())
        auth.chmod(0o644)
        (self.workdir / "sshd_config").write_text(
            "\n".join(
                [
                    "Port 22",
                    "ListenAddress 0.0.0.0",
                    "PidFile none",
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin no",
                    f"AllowUsers {self.user}",
                    f"AuthorizedKeysFile {auth}",
                    "StrictModes no",
                    "UseDNS no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "X11Forwarding no",
                    "AllowTcpForwarding yes",
                    "MaxStartups 200:30:400",
                    "MaxSessions 50",
                    "LogLevel INFO",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        template = self.workdir / "venv-template"
        net.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(template)])
        lib = next((template / "lib").glob("python3*"))
        self._site_rel = Path("lib", lib.name, "site-packages")

    def _write_host_files(self, hosts: Iterable[LabHost]) -> None:
        keygens: list[tuple[LabHost, subprocess.Popen[bytes]]] = []
        for h in hosts:
            h.dir.mkdir(parents=True)
            h.dir.chmod(0o755)
            os_release = (
                rpmhost.OS_RELEASE_FILES.get(h.os_release) or OS_RELEASE_FILES[h.os_release]
            )
            (h.dir / "os-release").write_text(os_release)
            status = render_status(h.os_release, h.packages)
            if h.spec.writable:
                for top in ("etc", "usr", "var"):
                    (h.dir / "upper" / top).mkdir(parents=True)
                    (h.dir / "work" / top).mkdir(parents=True)
                dpkg = h.dir / "upper" / "var" / "lib" / "dpkg"
                (h.dir / "upper" / "usr" / "lib").mkdir(parents=True)
                for osr in ("usr/lib/os-release", "etc/os-release"):
                    (h.dir / "upper" / osr).write_text(os_release)
            else:
                dpkg = h.dir / "dpkg"
            self._write_accounts(h)
            for sub in ("updates", "info", "triggers"):
                (dpkg / sub).mkdir(parents=True, exist_ok=True)
            (dpkg / "status").write_text(status)
            archs = sorted({e.arch for e in h.packages} - {"all", "amd64"})
            (dpkg / "arch").write_text("".join(f"{a}\n" for a in ["amd64", *archs]))
            if rpmhost.is_rpm_release(h.os_release):
                rpmhost.write_root(h.dir / "upper", h.os_release, h.rpms, h.spec.dnf_repo)
            if h.has_venv:
                self._write_venv(h)
            if h.spec.force_command is not None:
                self._write_force_command(h)
            if h.kind == "ssh":
                key = h.dir / "ssh_host_ed25519_key"
                cmd = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", h.name, "-f", str(key)]
                keygens.append((h, subprocess.Popen(cmd, stdout=subprocess.DEVNULL)))
            init = h.dir / "init.sh"
            init.write_text(self._init_script(h))
            init.chmod(0o755)
        for h, proc in keygens:
            if proc.wait(timeout=60) != 0:
                raise net.LabError(f"{h.name}: ssh-keygen failed")
            h.host_key_pub = (h.dir / "ssh_host_ed25519_key.pub").read_text().strip()
            h.trusted_key = h.host_key_pub

    def _write_accounts(self, h: LabHost) -> None:
        """The host's own passwd/group/shadow (machine's + lab user) and home (see accounts.py):
        in the /etc overlay's upper layer of a writable host, else bound over /etc by init."""
        assert self._accounts is not None
        etc = h.dir / "upper" / "etc" if h.spec.writable else h.dir / "etc"
        self._accounts.write(etc, h.home)

    def _write_force_command(self, h: LabHost) -> None:
        """The host's own sshd_config: the lab's, plus ``ForceCommand`` running its script."""
        assert h.spec.force_command is not None
        script = h.dir / "force-command"
        script.write_text(h.spec.force_command)
        script.chmod(0o755)
        common = (self.workdir / "sshd_config").read_text()
        (h.dir / "sshd_config").write_text(f"{common}ForceCommand {script}\n")

    def _write_venv(self, h: LabHost) -> None:
        venv = h.dir / "venv"
        shutil.copytree(self.workdir / "venv-template", venv, symlinks=True)
        cfg = venv / "pyvenv.cfg"
        cfg.write_text(cfg.read_text().replace(str(self.workdir / "venv-template"), VENV_PATH))
        self._write_dist_infos(h)

    def _write_dist_infos(self, h: LabHost) -> None:
        site = h.dir / "venv" / self._site_rel
        for name, version in sorted(h.pip.items()):
            norm = name.replace("-", "_")
            info = site / f"{norm}-{version}.dist-info"
            info.mkdir()
            (info / "METADATA").write_text(
                f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                f"Summary: lab copy of {name}\n"
            )
            (info / "INSTALLER").write_text("pip\n")
            (info / "RECORD").write_text(f"{norm}-{version}.dist-info/METADATA,,\n")

    def _init_script(self, h: LabHost) -> str:
        q = shlex.quote
        lines = [
            "#!/bin/sh",
            "set -eu",
            f"hostname {q(h.name)}",
            "mount --make-rprivate /",
            "ip link set lo up",
            f"ip addr replace {h.address}/24 dev eth0",
            "ip link set eth0 up",
        ]
        if h.spec.writable:
            for top in ("etc", "usr", "var"):
                upper, work = q(str(h.dir / "upper" / top)), q(str(h.dir / "work" / top))
                lines.append(
                    f"mount -t overlay lab-{top} -o lowerdir=/{top},upperdir={upper},"
                    f"workdir={work} /{top}"
                )
        else:
            lines += [
                "mount -t tmpfs -o mode=0755 lab-log /var/log",
                f"mount --bind {q(str(h.dir / 'os-release'))} /etc/os-release",
                f"mount --bind {q(str(h.dir / 'dpkg'))} /var/lib/dpkg",
            ]
            assert self._accounts is not None
            lines += [
                f"mount --bind {q(str(h.dir / 'etc' / name))} /etc/{name}"
                for name in self._accounts.sources
            ]
        lines += ["mount -t tmpfs -o mode=0755 lab-run /run", "mkdir -m 0755 /run/sshd"]
        if h.has_venv:
            lines += [
                "mount -t tmpfs -o mode=0755 lab-srv /srv",
                f"mkdir -p {VENV_PATH}",
                f"mount --bind {q(str(h.dir / 'venv'))} {VENV_PATH}",
            ]
        if h.kind == "ssh":
            own = h.spec.force_command is not None
            cfg = q(str((h.dir if own else self.workdir) / "sshd_config"))
            key = q(str(h.dir / "ssh_host_ed25519_key"))
            lines += [
                # Checked here, in the host's namespace: sshd would only say "no such user" later.
                f"getent passwd {q(self.user)} sshd >/dev/null || {{ echo 'host-init: "
                f"{self.user} or sshd missing from /etc/passwd' >&2; exit 1; }}",
                f"exec {SSHD} -D -e -f {cfg} -h {key}",
            ]
        elif h.kind == "hang":
            lines.append(f"exec {SYSTEM_PYTHON} -c {q(_HANG_LISTENER)}")
        else:  # refused: a host that is up but listens on nothing
            lines.append("exec sleep infinity")
        return "\n".join(lines) + "\n"

    def _create_network(self, hosts: Sequence[LabHost], *, with_bridge: bool) -> None:
        slot = self._slot
        assert slot is not None
        lines: list[str] = []
        if with_bridge:
            self._links.append(slot.bridge)
            lines += [
                f"link add {slot.bridge} type bridge\n",
                f"addr add {slot.subnet}.1/24 dev {slot.bridge}\n",
                f"link set {slot.bridge} up\n",
            ]
        for h in hosts:
            veth = slot.veth(h.index)
            self._netns.append(h.netns)
            self._links.append(veth)
            lines += [
                f"netns add {h.netns}\n",
                f"link add {veth} type veth peer name eth0 netns {h.netns}\n",
                f"link set {veth} master {slot.bridge} up\n",
            ]
        net.run(["ip", "-batch", "-"], stdin="".join(lines))

    def _spawn(self, h: LabHost) -> None:
        with h.log.open("ab") as log:
            h.proc = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    h.netns,
                    "unshare",
                    "-m",
                    "-u",
                    "-p",
                    "-f",
                    "--kill-child",
                    "--mount-proc",
                    str(h.dir / "init.sh"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def _wait_ready(self, hosts: Sequence[LabHost], timeout: float) -> None:
        """Poll every host's port 22 at once until it answers as its kind should, or fail."""
        deadline = time.monotonic() + timeout
        pending = {h.name: h for h in hosts}
        sel = selectors.DefaultSelector()
        retry_at: dict[str, float] = dict.fromkeys(pending, 0.0)
        socks: dict[str, tuple[socket.socket, float, bool]] = {}  # name -> (sock, t0, connected)

        def close(name: str) -> None:
            sock, _, _ = socks.pop(name)
            sel.unregister(sock)
            sock.close()

        try:
            while pending:
                now = time.monotonic()
                if now > deadline:
                    raise net.LabError(
                        f"hosts not ready after {timeout}s: {sorted(pending)}; "
                        f"first log: {_tail(next(iter(pending.values())).log)}"
                    )
                for name, h in list(pending.items()):
                    if h.proc is not None and h.proc.poll() is not None:
                        raise net.LabError(f"{name} exited ({h.proc.returncode}): {_tail(h.log)}")
                    if name in socks and now - socks[name][1] > 1.0:
                        close(name)  # ARP or sshd not answering yet: start over
                        retry_at[name] = now
                    if name not in socks and now >= retry_at[name]:
                        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                        sock.setblocking(False)
                        rc = sock.connect_ex((h.address, 22))
                        if rc not in (0, errno.EINPROGRESS):
                            sock.close()
                            retry_at[name] = now + 0.02
                            continue
                        socks[name] = (sock, now, False)
                        sel.register(sock, selectors.EVENT_WRITE, name)
                for key, _ in sel.select(timeout=0.02):
                    name = str(key.data)
                    h = pending[name]
                    sock, t0, connected = socks[name]
                    if not connected:
                        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if err == errno.ECONNREFUSED and h.kind == "refused":
                            close(name)
                            del pending[name]
                        elif err:
                            close(name)
                            retry_at[name] = time.monotonic() + 0.02
                        elif h.kind == "hang":
                            close(name)
                            del pending[name]
                        else:
                            socks[name] = (sock, t0, True)
                            sel.modify(sock, selectors.EVENT_READ, name)
                    else:
                        try:
                            banner = sock.recv(64)
                        except OSError:
                            banner = b""
                        close(name)
                        if banner.startswith(b"SSH-2.0-"):
                            del pending[name]
                        else:
                            retry_at[name] = time.monotonic() + 0.02
        finally:
            for name in list(socks):
                close(name)
            sel.close()

    # --- client side --------------------------------------------------------------------------

    def _write_client_files(self) -> None:
        """(Re)write known_hosts (each host's trusted key) and ssh_config."""
        lines = []
        for h in self.hosts.values():
            if h.kind == "ssh":
                key = " ".join(h.trusted_key.split()[:2])
                lines.append(f"{h.name},{h.address} {key}")
        self.known_hosts.write_text("".join(f"{line}\n" for line in lines))
        blocks = []
        for h in self.hosts.values():
            block = [
                f"Host {h.name} {h.address}",
                f"  HostName {h.address}",
                f"  User {self.user}",
                "  Port 22",
                f"  IdentityFile {self.client_key}",
                "  IdentitiesOnly yes",
                f"  UserKnownHostsFile {self.known_hosts}",
                "  GlobalKnownHostsFile /dev/null",
                "  StrictHostKeyChecking yes",
                "  UpdateHostKeys no",
                "  KexAlgorithms curve25519-sha256",
                "  BatchMode yes",
                "  ConnectTimeout 5",
                "  LogLevel ERROR",
            ]
            if h.spec.proxy_jump:
                block.append(f"  ProxyJump {h.spec.proxy_jump}")
            blocks.append("\n".join(block) + "\n")
        self.ssh_config.write_text("\n".join(blocks))

    def write_inventory(self, path: Path, hosts: Iterable[LabHost] | None = None) -> Path:
        """Write pinmgr's native inventory (schema 1) for ``hosts`` (default: all) to ``path``."""
        chosen = list(self.hosts.values()) if hosts is None else list(hosts)
        out = ["schema = 1", ""]
        for h in chosen:
            out.append(f"[environments.{_toml_key(h.env)}.hosts.{_toml_key(h.name)}]")
            out.append(f"address = {_toml_str(h.address)}")
            out.append(f"user = {_toml_str(self.user)}")
            out.append("port = 22")
            out.append(f"key = {_toml_str(str(self.client_key))}")
            out.append(f"roles = [{', '.join(_toml_str(r) for r in h.roles)}]")
            if h.has_venv:
                out.append(f"pip = [{_toml_str(VENV_PATH)}]")
            jump = self.jump_spec(h)
            if jump:
                out.append(f"proxy_jump = {_toml_str(jump)}")
            out.append("")
        path.write_text("\n".join(out))
        return path

    def replant(
        self,
        host: LabHost | str,
        drift: Drift | None = None,
        pip: Mapping[str, str] | None = None,
    ) -> LabHost:
        """Change a running host's planted drift and/or venv in place (e.g. "the fix landed"):
        its dpkg status is rewritten through the host's own mounts, ``planted`` updated."""
        h = self.hosts[host if isinstance(host, str) else host.name]
        spec = h.spec
        if drift is not None:
            spec = replace(spec, drift=drift)
        if pip is not None:
            if not h.has_venv:
                raise ValueError(f"{h.name} has no virtualenv")
            spec = replace(spec, pip=pip)
        packages, planted = plant(spec)
        if drift is not None:
            status = render_status(spec.os_release, packages)
            script = (
                "cat > /var/lib/dpkg/status.lab && mv /var/lib/dpkg/status.lab /var/lib/dpkg/status"
            )
            if not spec.writable:  # the bind-mounted dir is the lab's own: write it directly
                tmp = h.dir / "dpkg" / "status.lab"
                tmp.write_text(status)
                tmp.replace(h.dir / "dpkg" / "status")
            else:
                done = self.exec(h, ["sh", "-c", script], input=status)
                if done.returncode != 0:
                    raise net.LabError(f"{h.name}: cannot rewrite dpkg status: {done.stderr}")
        if pip is not None:
            site = h.dir / "venv" / self._site_rel
            for info in site.glob("*.dist-info"):
                shutil.rmtree(info)
        h.spec, h.packages, h.planted = spec, packages, planted
        if pip is not None:
            h.pip = dict(pip)
            self._write_dist_infos(h)
        return h

    def jump_spec(self, host: LabHost) -> str | None:
        """``user@address:22`` of the host's bastion (self-contained, unlike the alias)."""
        if not host.spec.proxy_jump:
            return None
        return f"{self.user}@{self.hosts[host.spec.proxy_jump].address}:22"

    def pid1(self, host: LabHost | str) -> int:
        """The host's PID 1 (sshd or listener) as the root namespace numbers it."""
        h = self.hosts[host if isinstance(host, str) else host.name]
        if h.proc is None:
            raise net.LabError(f"{h.name} is not running")
        children = Path(f"/proc/{h.proc.pid}/task/{h.proc.pid}/children").read_text().split()
        if not children:
            raise net.LabError(f"{h.name} has no PID 1 (exited?)")
        return int(children[0])

    def exec(
        self, host: LabHost | str, args: Sequence[str], *, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` as root inside the host (all its namespaces): tests use it to change a
        host behind pinmgr's back; the machine itself is never touched."""
        return subprocess.run(
            ["nsenter", "-t", str(self.pid1(host)), "-a", "--", *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def rekey(self, host: LabHost | str, *, trust: bool = False, timeout: float = 30.0) -> LabHost:
        """Restart ``host`` with a new host key; known_hosts keeps the old key unless ``trust``."""
        h = self.hosts[host if isinstance(host, str) else host.name]
        if h.kind != "ssh":
            raise ValueError(f"{h.name} is not an ssh host")
        _kill(h)
        for f in h.dir.glob("ssh_host_ed25519_key*"):
            f.unlink()
        key = h.dir / "ssh_host_ed25519_key"
        net.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", h.name, "-f", str(key)])
        h.host_key_pub = key.with_suffix(".pub").read_text().strip()
        if trust:
            h.trusted_key = h.host_key_pub
        self._spawn(h)
        self._wait_ready([h], timeout)
        self._write_client_files()
        return h

    def stop(self) -> None:
        """Kill every host, delete namespaces, veths, bridge and files. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        _kill_all(self.hosts.values())
        net.delete_network(self._netns, self._links)
        if self._slot is not None:
            leftovers = net.lab_netns(self._slot.number) + net.lab_links(self._slot.number)
            if leftovers:  # e.g. a netns still busy: try once more, purging processes first
                net.purge_slot(self._slot.number)
            self._slot.release()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _kill(h: LabHost) -> None:
    _kill_all([h])


def _kill_all(hosts: Iterable[LabHost]) -> None:
    """SIGKILL each host's PID 1 (its namespace dies with it; unshare reaps it and exits), then
    unshare itself as a fallback; poll until no process is left in their namespaces."""
    victims = [h for h in hosts if h.proc is not None]
    for h in victims:
        assert h.proc is not None
        if h.proc.poll() is not None:
            continue
        children = Path(f"/proc/{h.proc.pid}/task/{h.proc.pid}/children")
        with contextlib.suppress(OSError, ValueError):
            for pid in children.read_text().split():
                os.kill(int(pid), signal.SIGKILL)
    # A PID namespace's init only becomes reapable once every other process in it is gone, so
    # unshare exiting means the host is empty; only the fallback path needs polling.
    busy = []
    for h in victims:
        assert h.proc is not None
        try:
            h.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(h.proc.pid, signal.SIGKILL)
            h.proc.wait(timeout=30)
            busy.append(h.netns)
        h.proc = None
    deadline = time.monotonic() + 10
    while busy and time.monotonic() < deadline:
        busy = [ns for ns in busy if net.netns_pids(ns)]
        if busy:
            time.sleep(0.01)  # poll interval; bounded by the deadline


def _tail(path: Path, n: int = 400) -> str:
    try:
        return path.read_text(errors="replace")[-n:].strip() or "(empty log)"
    except OSError:
        return "(no log)"
