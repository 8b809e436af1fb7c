"""RHEL-family lab hosts: their own rpm database, written by the real librpm, and a real dnf.

An rpm host is a writable lab host (overlays over /etc, /usr, /var) whose upper layers get,
before it starts:

* the release's ``/etc/os-release`` and an ``/etc/rpm/macros`` naming the release's database
  path (``/var/lib/rpm`` on EL and Amazon Linux, ``/usr/lib/sysimage/rpm`` on Fedora and
  openSUSE), so the host's own ``rpm`` and ``dnf`` read the database there, as on the real OS;
* that database: small packages built with ``rpmbuild`` (no files, no scripts: epochs, ``~``
  and ``^`` versions, noarch/x86_64/i686, two kernels) installed with ``rpm --root``, plus a
  ``gpg-pubkey`` entry imported with ``rpm --import``;
* whiteouts hiding dpkg and apt, so the host is an rpm host only;
* when the spec names a repository (``HostSpec.dnf_repo``, built by
  ``tests/functional/rpmrepo.py``), ``/etc/yum.repos.d/pmlab.repo`` as the only source, and
  dnf's cache filled by ``dnf makecache`` run inside the host once it is up.

The machine's own rpm database (``/var/lib/rpm``, ``~/.rpmdb``) is never opened for writing:
every rpm/rpmbuild run here names its database and a throwaway ``HOME``.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

OS_RELEASE_FILES: dict[str, str] = {
    "rocky-9": """\
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.3"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
""",
    "alma-8": """\
NAME="AlmaLinux"
VERSION="8.9 (Midnight Oncilla)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="8.9"
PLATFORM_ID="platform:el8"
PRETTY_NAME="AlmaLinux 8.9 (Midnight Oncilla)"
ANSI_COLOR="0;34"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:almalinux:almalinux:8::baseos"
HOME_URL="https://almalinux.org/"
DOCUMENTATION_URL="https://wiki.almalinux.org/"
BUG_REPORT_URL="https://bugs.almalinux.org/"
ALMALINUX_MANTISBT_PROJECT="AlmaLinux-8"
ALMALINUX_MANTISBT_PROJECT_VERSION="8.9"
REDHAT_SUPPORT_PRODUCT="AlmaLinux"
REDHAT_SUPPORT_PRODUCT_VERSION="8.9"
""",
    "fedora-40": """\
NAME="Fedora Linux"
VERSION="40 (Server Edition)"
ID=fedora
VERSION_ID=40
VERSION_CODENAME=""
PLATFORM_ID="platform:f40"
PRETTY_NAME="Fedora Linux 40 (Server Edition)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:40"
HOME_URL="https://fedoraproject.org/"
DOCUMENTATION_URL="https://docs.fedoraproject.org/en-US/fedora/f40/system-administrators-guide/"
SUPPORT_URL="https://ask.fedoraproject.org/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Fedora"
REDHAT_BUGZILLA_PRODUCT_VERSION=40
REDHAT_SUPPORT_PRODUCT="Fedora"
REDHAT_SUPPORT_PRODUCT_VERSION=40
SUPPORT_END=2025-05-13
VARIANT="Server Edition"
VARIANT_ID=server
""",
    "amzn-2023": """\
NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.4.20240528"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"
SUPPORT_URL="https://aws.amazon.com/premiumsupport/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
VENDOR_NAME="AWS"
VENDOR_URL="https://aws.amazon.com/"
SUPPORT_END="2028-03-15"
""",
    "opensuse-leap-15.5": """\
NAME="openSUSE Leap"
VERSION="15.5"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.5"
PRETTY_NAME="openSUSE Leap 15.5"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:leap:15.5"
BUG_REPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org/"
DOCUMENTATION_URL="https://en.opensuse.org/Portal:Leap"
LOGO="distributor-logo-Leap"
""",
}
"""Verbatim ``/etc/os-release`` of each rpm release the lab can run."""

RELEASE_KEYS: dict[str, str] = {
    "rocky-9": "rocky-9",
    "alma-8": "almalinux-8",
    "fedora-40": "fedora-40",
    "amzn-2023": "amzn-2023",
    "opensuse-leap-15.5": "opensuse-leap-15.5",
}
"""Lab release name -> the lockfile key pinmgr derives from that os-release (ID-VERSION_ID,
shortened to a declared prefix: ``rocky-9.3`` falls under ``rocky-9``)."""

DBPATH: dict[str, str] = {
    "rocky-9": "/var/lib/rpm",
    "alma-8": "/var/lib/rpm",
    "fedora-40": "/usr/lib/sysimage/rpm",
    "amzn-2023": "/var/lib/rpm",
    "opensuse-leap-15.5": "/usr/lib/sysimage/rpm",
}
"""Where each release's rpm keeps its database (rpm's ``%_dbpath`` there)."""

RELEASEVER: dict[str, str] = {
    "rocky-9": "9",
    "alma-8": "8",
    "fedora-40": "40",
    "amzn-2023": "2023",
    "opensuse-leap-15.5": "15.5",
}

# name version arch [role]: versions as ``rpm -qa`` prints them with pinmgr's RPM_FORMAT, epoch
# 0 left out. Real published NEVRAs of each release (kernels: two, as after one update;
# glibc: the multilib pair), plus a few carrying ``~`` and ``^``.
_ROCKY_9 = """\
bash 5.1.8-9.el9 x86_64
chrony 4.5-1.el9 x86_64
curl 7.76.1-29.el9_4 x86_64
glibc 2.34-100.el9 x86_64
glibc 2.34-100.el9 i686
kernel 5.14.0-284.11.1.el9_2 x86_64
kernel 5.14.0-362.8.1.el9_3 x86_64
openssl 1:3.0.7-27.el9 x86_64
podman 4:4.9.4~rc1-1.el9 x86_64
python3 3.9.18-3.el9 x86_64
tzdata 2024a-1.el9 noarch
vim-minimal 2:8.2.2637-20.el9_1 x86_64
nginx 1:1.20.1-14.el9_2.1 x86_64 app
postgresql-server 13.14-1.el9_3 x86_64 db
"""

_ALMA_8 = """\
bash 4.4.20-4.el8_6 x86_64
chrony 4.2-1.el8 x86_64
curl 7.61.1-33.el8 x86_64
glibc 2.28-236.el8_9.7 x86_64
glibc 2.28-236.el8_9.7 i686
kernel 4.18.0-513.5.1.el8_9 x86_64
kernel 4.18.0-513.9.1.el8_9 x86_64
openssl 1:1.1.1k-12.el8_9 x86_64
python3-libs 3.6.8-56.el8_9.alma.1 x86_64
tzdata 2024a-1.el8 noarch
vim-minimal 2:8.0.1763-19.el8_6.4 x86_64
nginx 1:1.14.1-9.module_el8.0.0+184+e34fea82 x86_64 app
postgresql-server 10.23-2.module_el8.9.0+3708+04a9c2a7 x86_64 db
"""

_FEDORA_40 = """\
bash 5.2.26-3.fc40 x86_64
chrony 4.5-3.fc40 x86_64
curl 8.6.0-7.fc40 x86_64
glibc 2.39-8.fc40 x86_64
glibc 2.39-8.fc40 i686
kernel 6.8.5-301.fc40 x86_64
kernel 6.8.9-300.fc40 x86_64
openssl 1:3.2.1-2.fc40 x86_64
python3 3.12.2-2.fc40 x86_64
systemd-rpm-macros 255.4^20240321git1a2b3c4-1.fc40 noarch
tzdata 2024a-5.fc40 noarch
vim-minimal 2:9.1.393-1.fc40 x86_64
nginx 2:1.24.0-5.fc40 x86_64 app
postgresql-server 16.1-4.fc40 x86_64 db
"""

_AMZN_2023 = """\
bash 5.2.15-1.amzn2023.0.2 x86_64
chrony 4.3-1.amzn2023.0.4 x86_64
curl-minimal 8.5.0-1.amzn2023.0.4 x86_64
glibc 2.34-52.amzn2023.0.10 x86_64
kernel 6.1.84-99.169.amzn2023 x86_64
kernel 6.1.90-99.173.amzn2023 x86_64
openssl 1:3.0.8-1.amzn2023.0.12 x86_64
python3 3.9.16-1.amzn2023.0.7 x86_64
tzdata 2024a-1.amzn2023.0.1 noarch
vim-minimal 2:9.0.2153-1.amzn2023.0.2 x86_64
nginx 1:1.24.0-1.amzn2023.0.2 x86_64 app
postgresql15-server 15.6-1.amzn2023.0.1 x86_64 db
"""

_OPENSUSE_155 = """\
bash 4.4-150400.27.3.2 x86_64
chrony 4.1-150400.21.5.1 x86_64
curl 8.0.1-150400.5.41.1 x86_64
glibc 2.31-150300.63.1 x86_64
glibc-32bit 2.31-150300.63.1 x86_64
kernel-default 5.14.21-150500.55.49.1 x86_64
kernel-default 5.14.21-150500.55.52.1 x86_64
openssl-3 3.0.8-150500.5.27.1 x86_64
python3 3.6.15-150300.10.54.1 x86_64
timezone 2024a-150000.75.28.1 x86_64
vim 9.1.0330-150500.20.12.1 x86_64
nginx 1.21.5-150400.3.3.1 x86_64 app
postgresql15-server 15.6-150200.5.23.1 x86_64 db
"""


@dataclass(frozen=True, order=True)
class RpmEntry:
    """One installed rpm: ``version`` as pinmgr collects it (``[E:]V-R``, epoch 0 left out)."""

    name: str
    version: str
    arch: str = "x86_64"

    @property
    def epoch(self) -> str:
        head, colon, _ = self.version.partition(":")
        return head if colon else "0"

    @property
    def vr(self) -> tuple[str, str]:
        """(version, release)."""
        rest = self.version.partition(":")[2] if ":" in self.version else self.version
        v, _, r = rest.rpartition("-")
        return v, r

    @property
    def nevra(self) -> str:
        v, r = self.vr
        return f"{self.name}-{self.epoch}:{v}-{r}.{self.arch}"


def _table(text: str) -> tuple[tuple[RpmEntry, str], ...]:
    rows = []
    for line in text.splitlines():
        name, version, arch, *role = line.split()
        rows.append((RpmEntry(name, version, arch), role[0] if role else ""))
    return tuple(rows)


BASE_RPMS: dict[str, tuple[tuple[RpmEntry, str], ...]] = {
    "rocky-9": _table(_ROCKY_9),
    "alma-8": _table(_ALMA_8),
    "fedora-40": _table(_FEDORA_40),
    "amzn-2023": _table(_AMZN_2023),
    "opensuse-leap-15.5": _table(_OPENSUSE_155),
}
"""Per release: (installed rpm, the only role that has it or "" for every host)."""

RELEASES: tuple[str, ...] = tuple(OS_RELEASE_FILES)

HIDDEN_TOOLS = ("dpkg", "dpkg-query", "apt", "apt-get", "apt-cache")
"""Hidden on rpm hosts (overlay whiteouts in /usr/bin): an rpm host has no dpkg database."""


def is_rpm_release(release: str) -> bool:
    return release in OS_RELEASE_FILES


def rpms_for(release: str, role: str) -> list[RpmEntry]:
    """The rpms a host of ``release`` and ``role`` has before any planted drift."""
    return [e for e, only in BASE_RPMS[release] if not only or only == role]


# --- the oracle: the real librpm ---------------------------------------------------------------


def _quiet_env(home: Path) -> dict[str, str]:
    """rpm's environment: Debian's rpm keeps its default database in ``~/.rpmdb``."""
    return {**os.environ, "HOME": str(home), "LC_ALL": "C"}


@functools.cache
def _scratch() -> Path:
    """One throwaway dir per process: rpm's HOME, a scratch database, built packages."""
    path = Path(tempfile.mkdtemp(prefix="pinmgr-rpmlab-"))
    path.chmod(0o755)
    atexit.register(shutil.rmtree, path, True)
    (path / "home").mkdir()
    return path


def rpm_tool(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run rpm on the machine with a scratch HOME and database (never the machine's own)."""
    scratch = _scratch()
    cmd = ["rpm", "--dbpath", str(scratch / "db"), *args]
    done = subprocess.run(
        cmd, env=_quiet_env(scratch / "home"), capture_output=True, text=True, timeout=120
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])}...: {done.stderr.strip()}")
    return done


def vercmp_many(pairs: Sequence[tuple[str, str]]) -> list[int]:
    """librpm's EVR order (``rpm.vercmp`` in rpm's Lua) of each pair: -1, 0 or 1."""
    if not pairs:
        return []
    for a, b in pairs:
        for v in (a, b):
            if not v or any(c in v for c in '"\\%{}\n'):
                raise ValueError(f"version {v!r} cannot be passed to rpm --eval")
    expr = "\n".join(f'%{{lua: print(rpm.vercmp("{a}", "{b}"))}}' for a, b in pairs)
    out = rpm_tool("--eval", expr).stdout.split()
    if len(out) != len(pairs):
        raise RuntimeError(f"rpm --eval printed {len(out)} results for {len(pairs)} pairs")
    return [int(x) for x in out]


class LibrpmOrder:
    """librpm's order of a set of versions, asked once (one ``rpm --eval`` for every pair)."""

    def __init__(self, versions: Iterable[str]) -> None:
        distinct = sorted(set(versions))
        pairs = [(a, b) for i, a in enumerate(distinct) for b in distinct[i + 1 :]]
        self._order = dict(zip(pairs, vercmp_many(pairs), strict=True))

    def cmp(self, a: str, b: str) -> int:
        if a == b:
            return 0
        if (a, b) in self._order:
            return self._order[(a, b)]
        return -self._order[(b, a)]

    def newest(self, versions: Iterable[str]) -> str:
        return max(versions, key=functools.cmp_to_key(self.cmp))


def query_packages(paths: Iterable[Path]) -> list[RpmEntry]:
    """What the built packages themselves say (``rpm -qp``): the oracle of what a host has."""
    fmt = "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"
    out = rpm_tool("-qp", "--nosignature", "--nodigest", "--qf", fmt, *map(str, paths)).stdout
    entries = []
    for line in out.splitlines():
        name, evr, arch = line.split("\t")
        epoch, _, vr = evr.partition(":")
        entries.append(RpmEntry(name, vr if epoch == "0" else f"{epoch}:{vr}", arch))
    return entries


# --- building packages -------------------------------------------------------------------------


def _spec_for(entries: Sequence[RpmEntry]) -> str:
    """One spec whose subpackages are ``entries`` (distinct names), each with its own EVR."""
    lines = [
        "Name: pmlab-set",
        "Version: 1",
        "Release: 1",
        "Summary: pinmgr lab packages",
        "License: MIT",
        "%description",
        "pinmgr lab packages.",
    ]
    for e in entries:
        v, r = e.vr
        lines += [f"%package -n {e.name}", f"Summary: lab copy of {e.name}"]
        if e.epoch != "0":
            lines.append(f"Epoch: {e.epoch}")
        lines += [f"Version: {v}", f"Release: {r}"]
        if e.arch == "noarch":
            lines.append("BuildArch: noarch")
        lines += [
            f"%description -n {e.name}",
            f"Lab copy of {e.name}: no files, no scripts.",
            f"%files -n {e.name}",
        ]
    return "\n".join(lines) + "\n"


_BUILT: dict[RpmEntry, Path] = {}


def build(entries: Iterable[RpmEntry]) -> dict[RpmEntry, Path]:
    """The .rpm file of each entry, built with ``rpmbuild`` once per process.

    Several packages per rpmbuild run (subpackages with their own Epoch/Version/Release): one
    run per target arch and per "layer" (the n-th version of a name), not one per package.
    """
    wanted = sorted(set(entries) - set(_BUILT))
    layers: dict[tuple[str, int], list[RpmEntry]] = {}
    for e in wanted:
        target = "i686" if e.arch == "i686" else "x86_64"
        n = 0
        while any(o.name == e.name for o in layers.get((target, n), [])):
            n += 1
        layers.setdefault((target, n), []).append(e)
    scratch = _scratch()
    for (target, n), group in sorted(layers.items()):
        top = scratch / "build" / f"{target}-{n}-{len(_BUILT)}"
        top.mkdir(parents=True)
        spec = top / "set.spec"
        spec.write_text(_spec_for(group))
        cmd = [
            "rpmbuild",
            "-bb",
            "--quiet",
            "--target",
            target,
            "--dbpath",
            str(scratch / "db"),
            "--define",
            f"_topdir {top}",
            "--define",
            "_buildhost pinmgr-lab",
            "--define",
            "_build_id_links none",
            "--define",
            "__spec_install_post %{nil}",
            str(spec),
        ]
        done = subprocess.run(
            cmd, env=_quiet_env(scratch / "home"), capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"rpmbuild failed: {done.stderr.strip()[-800:]}")
        for e in group:
            v, r = e.vr
            path = top / "RPMS" / e.arch / f"{e.name}-{v}-{r}.{e.arch}.rpm"
            if not path.exists():
                raise RuntimeError(f"rpmbuild did not write {path}")
            _BUILT[e] = path
    return {e: _BUILT[e] for e in entries}


@functools.cache
def gpg_pubkey() -> Path:
    """An armored OpenPGP public key (made once per process): ``rpm --import`` turns it into
    the ``gpg-pubkey`` pseudo-package every real rpm host has, which pinmgr must skip."""
    scratch = _scratch()
    gnupg = scratch / "gnupg"
    gnupg.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(gnupg)}
    gen = [
        "gpg",
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-gen-key",
        "pinmgr lab <lab@pinmgr.invalid>",
        "rsa2048",
        "sign",
        "never",
    ]
    subprocess.run(gen, env=env, capture_output=True, check=True, timeout=120)
    key = scratch / "lab-key.asc"
    out = subprocess.run(
        ["gpg", "--batch", "--armor", "--export"],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    key.write_bytes(out.stdout)
    subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, check=False)
    return key


# --- a host's root -------------------------------------------------------------------------------


def _whiteout(path: Path) -> None:
    """An overlayfs whiteout: the lower layer's file is gone in the merged view."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def write_root(
    upper: Path, release: str, entries: Sequence[RpmEntry], repo: str | None = None
) -> None:
    """Fill a writable host's upper layers (``upper/etc``, ``upper/usr``, ``upper/var``):
    os-release, rpm macros, the rpm database with ``entries`` and a gpg-pubkey, dnf config."""
    dbpath = DBPATH[release]
    etc = upper / "etc"
    (etc / "rpm").mkdir(parents=True, exist_ok=True)
    (etc / "rpm" / "macros").write_text(f"%_dbpath {dbpath}\n")
    for osr in (upper / "etc" / "os-release", upper / "usr" / "lib" / "os-release"):
        osr.parent.mkdir(parents=True, exist_ok=True)
        osr.write_text(OS_RELEASE_FILES[release])
    for tool in HIDDEN_TOOLS:
        _whiteout(upper / "usr" / "bin" / tool)
    if not release.startswith("opensuse"):  # EL and Fedora: yum is dnf (community.general's
        (upper / "usr" / "bin" / "yum").symlink_to("dnf")  # yum_versionlock runs "yum")
    # rpm --root: the database lands at <root><dbpath>; <root> is split over three upper dirs,
    # so install into a staging root and move the database into the right upper layer.
    stage = upper.parent / "rpmroot"
    files = build(entries)
    common = ["--root", str(stage), "--define", f"_dbpath {dbpath}"]
    if entries:
        rpm_tool(
            *common,
            "-i",
            "--nodeps",
            "--ignorearch",
            "--ignoreos",
            "--noscripts",
            "--notriggers",
            "--nosignature",
            "--nodigest",
            *(str(files[e]) for e in sorted(entries)),
        )
    rpm_tool(*common, "--import", str(gpg_pubkey()))
    db_top = dbpath.strip("/").split("/", 1)[0]  # "var" or "usr"
    target = upper / dbpath.strip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(stage / dbpath.strip("/")), target)
    for lock in target.glob(".rpm.lock"):
        lock.unlink()
    for path in [target, *target.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(stage)
    assert db_top in ("var", "usr")
    dnf = etc / "dnf"
    (dnf / "vars").mkdir(parents=True, exist_ok=True)
    (dnf / "vars" / "releasever").write_text(RELEASEVER[release] + "\n")
    (dnf / "dnf.conf").write_text(
        "[main]\ngpgcheck=0\ninstallonly_limit=3\nclean_requirements_on_remove=False\n"
        "skip_if_unavailable=False\nbest=True\n"
    )
    # Debian's dnf-plugins-core enables "local" (a _dnf_local repo of every downloaded
    # package); no RHEL-family host has it on.
    (dnf / "plugins").mkdir(exist_ok=True)
    (dnf / "plugins" / "local.conf").write_text("[main]\nenabled = false\n")
    repos = etc / "yum.repos.d"
    repos.mkdir(parents=True, exist_ok=True)
    if repo is not None:
        (repos / "pmlab.repo").write_text(
            f"[pmlab]\nname=pinmgr lab repository\nbaseurl=file://{repo}\nenabled=1\n"
            "gpgcheck=0\nmetadata_expire=never\n"
        )


def installed_oracle(entries: Sequence[RpmEntry]) -> list[RpmEntry]:
    """What the host's database holds, as librpm reads it from the built packages."""
    return sorted(query_packages(build(entries).values()))


def plant_rpm(
    release: str,
    role: str,
    versions: Mapping[str, str],
    missing: Sequence[str],
    extra: Mapping[str, str],
    foreign: Mapping[str, str],
) -> tuple[list[RpmEntry], list[tuple[str, str, str, str | None, str | None]]]:
    """(entries, planted) for a drifted host; planted rows are (kind, name, arch, base, actual).

    ``versions``: the newest copy of the name on its main arch is replaced by that version
    (older/newer by librpm's order); ``foreign``: an i686 copy is added.
    """
    base = rpms_for(release, role)
    by_name: dict[str, list[RpmEntry]] = {}
    for e in base:
        by_name.setdefault(e.name, []).append(e)
    entries = list(base)
    planted: list[tuple[str, str, str, str | None, str | None]] = []
    pairs = [(v, _main(by_name, n).version) for n, v in versions.items() if n in by_name]
    orders = iter(vercmp_many(pairs))
    for name, version in versions.items():
        if name not in by_name:
            raise ValueError(f"drift.versions names {name}, not a base rpm of {release}")
        old = _main(by_name, name)
        order = next(orders)
        if order == 0:
            raise ValueError(f"drift.versions[{name}] equals the base version")
        entries[entries.index(old)] = RpmEntry(name, version, old.arch)
        planted.append(("older" if order < 0 else "newer", name, old.arch, old.version, version))
    for name in missing:
        if name not in by_name:
            raise ValueError(f"drift.missing names {name}, not a base rpm of {release}")
        entries = [e for e in entries if e.name != name]
        planted.append(("missing", name, by_name[name][0].arch, by_name[name][0].version, None))
    for name, version in extra.items():
        if name in by_name:
            raise ValueError(f"drift.extra names {name}, already a base rpm")
        entries.append(RpmEntry(name, version))
        planted.append(("extra", name, "x86_64", None, version))
    for name, version in foreign.items():  # replaces the i686 copy the release has, if any
        old = next((e for e in entries if e.name == name and e.arch == "i686"), None)
        if old is not None:
            entries.remove(old)
        entries.append(RpmEntry(name, version, "i686"))
        planted.append(("foreign-arch", name, "i686", old.version if old else None, version))
    return sorted(entries), planted


def _main(by_name: Mapping[str, list[RpmEntry]], name: str) -> RpmEntry:
    """The newest copy on the name's main arch (x86_64/noarch, never the i686 one)."""
    copies = [e for e in by_name[name] if e.arch != "i686"] or by_name[name]
    best = copies[0]
    for other in copies[1:]:
        if vercmp_many([(other.version, best.version)])[0] > 0:
            best = other
    return best
