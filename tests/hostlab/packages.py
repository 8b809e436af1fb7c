"""Per-release package data for lab hosts: real names and versions, rendered as a dpkg database.

The versions are real published ones for each release (Debian's from the bookworm archive, Ubuntu's
from jammy/noble updates), so pins written from ``BASE_PACKAGES`` look like a real fleet's and the
version comparators see realistic strings (epochs, ``~``, ``+deb12u``, ``ubuntu0.22.04``, ``t64``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

OS_RELEASE_FILES: dict[str, str] = {
    "debian-12": """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
""",
    "ubuntu-22.04": """\
PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
""",
    "ubuntu-24.04": """\
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
""",
}
"""Verbatim ``/etc/os-release`` of each supported release."""

RELEASES: tuple[str, ...] = tuple(OS_RELEASE_FILES)

_DEBIAN_12 = """\
apt 2.6.2
base-files 12.4+deb12u15
bash 5.2.15-2+b13
ca-certificates 20250419~deb12u2
coreutils 9.1-1
cron 3.0pl1-162
curl 7.88.1-10+deb12u15
dpkg 1.21.23
git 1:2.39.5-0+deb12u3
gnupg 2.2.40-1.1+deb12u2
gzip 1.12-1
iproute2 6.1.0-3
less 590-2.1~deb12u2
libapt-pkg6.0 2.6.2
libc6 2.36-9+deb12u14
libcurl4 7.88.1-10+deb12u15
libexpat1 2.5.0-1+deb12u5
libgcc-s1 12.2.0-14+deb12u1
libglib2.0-0 2.74.6-2+deb12u9
libgnutls30 3.7.9-2+deb12u7
libkrb5-3 1.20.1-2+deb12u5
liblzma5 5.4.1-1+deb12u2
libpcre2-8-0 10.42-1+deb12u2
libpq5 15.20-0+deb12u1
libsqlite3-0 3.40.1-2+deb12u2
libssl3 3.0.22-1~deb12u2
libstdc++6 12.2.0-14+deb12u1
libsystemd0 252.39-1~deb12u2
libxml2 2.9.14+dfsg-1.3~deb12u6
libzstd1 1.5.4+dfsg2-5
login 1:4.13+dfsg1-1+deb12u2
logrotate 3.21.0-1
nginx 1.22.1-9
nginx-common 1.22.1-9
openssh-client 1:9.2p1-2+deb12u10
openssh-server 1:9.2p1-2+deb12u10
openssl 3.0.22-1~deb12u2
passwd 1:4.13+dfsg1-1+deb12u2
perl-base 5.36.0-7+deb12u4
postgresql-15 15.20-0+deb12u1
procps 2:4.0.2-3
python3 3.11.2-1+b1
python3.11 3.11.2-6+deb12u9
redis-server 5:7.0.15-1~deb12u10
rsync 3.5.0+ds1-0+deb12u1
rsyslog 8.2302.0-1+deb12u2
sudo 1.9.13p3-1+deb12u4
systemd 252.39-1~deb12u2
tar 1.34+dfsg-1.2+deb12u1
tzdata 2026f-0+deb12u1
unattended-upgrades 2.9.1+nmu3
util-linux 2.38.1-5+deb12u3
vim 2:9.0.1378-2+deb12u2
zlib1g 1:1.2.13.dfsg-1
"""

_UBUNTU_2204 = """\
apt 2.4.12
base-files 12ubuntu4.6
bash 5.1-6ubuntu1.1
ca-certificates 20240203~22.04.1
coreutils 8.32-4.1ubuntu1.2
cron 3.0pl1-137ubuntu3
curl 7.81.0-1ubuntu1.16
dpkg 1.21.1ubuntu2.3
git 1:2.34.1-1ubuntu1.11
gnupg 2.2.27-3ubuntu2.1
gzip 1.10-4ubuntu4.1
iproute2 5.15.0-1ubuntu2
less 590-1ubuntu0.22.04.1
libapt-pkg6.0 2.4.12
libc6 2.35-0ubuntu3.8
libcurl4 7.81.0-1ubuntu1.16
libexpat1 2.4.7-1ubuntu0.3
libgcc-s1 12.3.0-1ubuntu1~22.04
libglib2.0-0 2.72.4-0ubuntu2.3
libgnutls30 3.7.3-4ubuntu1.5
libkrb5-3 1.19.2-2ubuntu0.3
liblzma5 5.2.5-2ubuntu1
libpcre2-8-0 10.39-3ubuntu0.1
libpq5 14.12-0ubuntu0.22.04.1
libsqlite3-0 3.37.2-2ubuntu0.3
libssl3 3.0.2-0ubuntu1.18
libstdc++6 12.3.0-1ubuntu1~22.04
libsystemd0 249.11-0ubuntu3.12
libxml2 2.9.13+dfsg-1ubuntu0.4
libzstd1 1.4.8+dfsg-3build1
login 1:4.8.1-2ubuntu2.2
logrotate 3.19.0-1ubuntu1.1
nginx 1.18.0-6ubuntu14.4
nginx-common 1.18.0-6ubuntu14.4
openssh-client 1:8.9p1-3ubuntu0.10
openssh-server 1:8.9p1-3ubuntu0.10
openssl 3.0.2-0ubuntu1.18
passwd 1:4.8.1-2ubuntu2.2
perl-base 5.34.0-3ubuntu1.3
postgresql-14 14.12-0ubuntu0.22.04.1
procps 2:3.3.17-6ubuntu2.1
python3 3.10.6-1~22.04.1
python3.10 3.10.12-1~22.04.6
redis-server 5:6.0.16-1ubuntu1
rsync 3.2.7-0ubuntu0.22.04.2
rsyslog 8.2112.0-2ubuntu2.2
sudo 1.9.9-1ubuntu2.4
systemd 249.11-0ubuntu3.12
tar 1.34+dfsg-1ubuntu0.1.22.04.2
tzdata 2024a-0ubuntu0.22.04
unattended-upgrades 2.8ubuntu1
util-linux 2.37.2-4ubuntu3.4
vim 2:8.2.3995-1ubuntu2.17
zlib1g 1:1.2.11.dfsg-2ubuntu9.2
"""

_UBUNTU_2404 = """\
apt 2.7.14build2
base-files 13ubuntu10.1
bash 5.2.21-2ubuntu4
ca-certificates 20240203
coreutils 9.4-3ubuntu6
cron 3.0pl1-184ubuntu2
curl 8.5.0-2ubuntu10.4
dpkg 1.22.6ubuntu6.1
git 1:2.43.0-1ubuntu7.1
gnupg 2.4.4-2ubuntu17
gzip 1.12-1ubuntu3
iproute2 6.1.0-1ubuntu6
less 590-2ubuntu2.1
libapt-pkg6.0t64 2.7.14build2
libc6 2.39-0ubuntu8.3
libcurl4t64 8.5.0-2ubuntu10.4
libexpat1 2.6.1-2build1
libgcc-s1 14-20240412-0ubuntu1
libglib2.0-0t64 2.80.0-6ubuntu3.1
libgnutls30t64 3.8.3-1.1ubuntu3.2
libkrb5-3 1.20.1-6ubuntu2.1
liblzma5 5.6.1+really5.4.5-1build0.1
libpcre2-8-0 10.42-4ubuntu2
libpq5 16.4-0ubuntu0.24.04.2
libsqlite3-0 3.45.1-1ubuntu2
libssl3t64 3.0.13-0ubuntu3.4
libstdc++6 14-20240412-0ubuntu1
libsystemd0 255.4-1ubuntu8.4
libxml2 2.9.14+dfsg-1.3ubuntu3
libzstd1 1.5.5+dfsg2-2build1.1
login 1:4.13+dfsg1-4ubuntu3
logrotate 3.21.0-2build1
nginx 1.24.0-2ubuntu7
nginx-common 1.24.0-2ubuntu7
openssh-client 1:9.6p1-3ubuntu13.5
openssh-server 1:9.6p1-3ubuntu13.5
openssl 3.0.13-0ubuntu3.4
passwd 1:4.13+dfsg1-4ubuntu3
perl-base 5.38.2-3.2build2
postgresql-16 16.4-0ubuntu0.24.04.2
procps 2:4.0.4-4ubuntu3
python3 3.12.3-0ubuntu2
python3.12 3.12.3-1ubuntu0.1
redis-server 5:7.0.15-1build2
rsync 3.2.7-1ubuntu1
rsyslog 8.2312.0-3ubuntu9
sudo 1.9.15p5-3ubuntu5
systemd 255.4-1ubuntu8.4
tar 1.35+dfsg-3build1
tzdata 2024a-3ubuntu1.1
unattended-upgrades 2.9.1+nmu4ubuntu1
util-linux 2.39.3-9ubuntu6.1
vim 2:9.1.0016-1ubuntu7.3
zlib1g 1:1.3.dfsg-3.1ubuntu2
"""


def _table(text: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in text.splitlines() if line.strip())


BASE_PACKAGES: dict[str, dict[str, str]] = {
    "debian-12": _table(_DEBIAN_12),
    "ubuntu-22.04": _table(_UBUNTU_2204),
    "ubuntu-24.04": _table(_UBUNTU_2404),
}
"""Every package a lab host of that release can have, name -> version (``dpkg-query`` form)."""

ROLE_ONLY: dict[str, frozenset[str]] = {
    "app": frozenset({"nginx", "nginx-common"}),
    "db": frozenset(
        {"postgresql-15", "postgresql-14", "postgresql-16", "redis-server"},
    ),
}
"""Packages installed only on hosts of that role; everything else is on every host."""

_ALL_ROLE_ONLY = frozenset().union(*ROLE_ONLY.values())


def packages_for(release: str, role: str) -> dict[str, str]:
    """The packages a host of ``release`` and ``role`` has before any planted drift."""
    wanted = ROLE_ONLY.get(role, frozenset())
    return {
        name: version
        for name, version in BASE_PACKAGES[release].items()
        if name not in _ALL_ROLE_ONLY or name in wanted
    }


BASE_PIP: dict[str, str] = {
    "asgiref": "3.8.1",
    "certifi": "2024.8.30",
    "charset-normalizer": "3.4.0",
    "Django": "4.2.16",
    "gunicorn": "23.0.0",
    "idna": "3.10",
    "packaging": "24.1",
    "psycopg2-binary": "2.9.9",
    "requests": "2.32.3",
    "sqlparse": "0.5.1",
    "urllib3": "2.2.3",
}
"""The pip packages of an app host's ``/srv/app/venv`` unless its spec says otherwise."""


# name -> (section, priority, architecture, multi-arch, description); Debian's archive metadata.
# "t64" names (Ubuntu 24.04's time_t transition) share the metadata of their old name.
_META: dict[str, tuple[str, str, str, str, str]] = {
    "apt": ("admin", "required", "amd64", "", "commandline package manager"),
    "base-files": (
        "admin",
        "required",
        "amd64",
        "foreign",
        "Debian base system miscellaneous files",
    ),
    "bash": ("shells", "required", "amd64", "foreign", "GNU Bourne Again SHell"),
    "ca-certificates": ("misc", "standard", "all", "foreign", "Common CA certificates"),
    "coreutils": ("utils", "required", "amd64", "foreign", "GNU core utilities"),
    "cron": ("admin", "important", "amd64", "foreign", "process scheduling daemon"),
    "curl": ("web", "optional", "amd64", "foreign", "command line tool for transferring data"),
    "dpkg": ("admin", "required", "amd64", "foreign", "Debian package management system"),
    "git": ("vcs", "optional", "amd64", "foreign", "fast, scalable, distributed revision control"),
    "gnupg": ("utils", "optional", "all", "foreign", "GNU privacy guard - a free PGP replacement"),
    "gzip": ("utils", "required", "amd64", "", "GNU compression utilities"),
    "iproute2": ("net", "important", "amd64", "foreign", "networking and traffic control tools"),
    "less": ("text", "important", "amd64", "foreign", "pager program similar to more"),
    "libapt-pkg6.0": ("libs", "optional", "amd64", "same", "package management runtime library"),
    "libc6": ("libs", "optional", "amd64", "same", "GNU C Library: Shared libraries"),
    "libcurl4": (
        "libs",
        "optional",
        "amd64",
        "same",
        "easy-to-use client-side URL transfer library",
    ),
    "libexpat1": ("libs", "optional", "amd64", "same", "XML parsing C library - runtime library"),
    "libgcc-s1": ("libs", "optional", "amd64", "same", "GCC support library"),
    "libglib2.0-0": ("libs", "optional", "amd64", "same", "GLib library of C routines"),
    "libgnutls30": ("libs", "optional", "amd64", "same", "GNU TLS library - main runtime library"),
    "libkrb5-3": ("libs", "optional", "amd64", "same", "MIT Kerberos runtime libraries"),
    "liblzma5": ("libs", "optional", "amd64", "same", "XZ-format compression library"),
    "libpcre2-8-0": ("libs", "optional", "amd64", "same", "New Perl Compatible Regular Expression"),
    "libpq5": ("libs", "optional", "amd64", "same", "PostgreSQL C client library"),
    "libsqlite3-0": ("libs", "optional", "amd64", "same", "SQLite 3 shared library"),
    "libssl3": ("libs", "optional", "amd64", "same", "Secure Sockets Layer toolkit - shared libs"),
    "libstdc++6": ("libs", "optional", "amd64", "same", "GNU Standard C++ Library v3"),
    "libsystemd0": ("libs", "optional", "amd64", "same", "systemd utility library"),
    "libxml2": ("libs", "optional", "amd64", "same", "GNOME XML library"),
    "libzstd1": ("libs", "optional", "amd64", "same", "fast lossless compression algorithm"),
    "login": ("admin", "required", "amd64", "foreign", "system login tools"),
    "logrotate": ("admin", "important", "amd64", "foreign", "Log rotation utility"),
    "nginx": ("httpd", "optional", "amd64", "", "small, powerful, scalable web/proxy server"),
    "nginx-common": ("httpd", "optional", "all", "foreign", "small, powerful web server - common"),
    "openssh-client": ("net", "standard", "amd64", "foreign", "secure shell (SSH) client"),
    "openssh-server": ("net", "optional", "amd64", "foreign", "secure shell (SSH) server"),
    "openssl": ("utils", "optional", "amd64", "foreign", "Secure Sockets Layer toolkit - utility"),
    "passwd": ("admin", "required", "amd64", "foreign", "change and administer password data"),
    "perl-base": ("perl", "required", "amd64", "", "minimal Perl system"),
    "postgresql": ("database", "optional", "amd64", "", "The World's Most Advanced Open Source DB"),
    "procps": ("admin", "important", "amd64", "foreign", "/proc file system utilities"),
    "python3": ("python", "optional", "amd64", "allowed", "interactive high-level language"),
    "redis-server": ("database", "optional", "amd64", "", "Persistent key-value database"),
    "rsync": ("net", "optional", "amd64", "foreign", "fast, versatile, remote file-copying tool"),
    "rsyslog": ("admin", "optional", "amd64", "", "reliable system and kernel logging daemon"),
    "sudo": ("admin", "optional", "amd64", "", "Provide limited super user privileges"),
    "systemd": ("admin", "important", "amd64", "foreign", "system and service manager"),
    "tar": ("utils", "required", "amd64", "foreign", "GNU version of the tar archiving utility"),
    "tzdata": ("localization", "required", "all", "foreign", "time zone and daylight-saving data"),
    "unattended-upgrades": ("admin", "optional", "all", "", "automatic security upgrades"),
    "util-linux": ("utils", "required", "amd64", "foreign", "miscellaneous system utilities"),
    "vim": ("editors", "optional", "amd64", "", "Vi IMproved - enhanced vi editor"),
    "zlib1g": ("libs", "optional", "amd64", "same", "compression library - runtime"),
}

_ESSENTIAL = frozenset(
    {"base-files", "bash", "coreutils", "dpkg", "gzip", "login", "perl-base", "tar", "util-linux"}
)


def _meta(name: str) -> tuple[str, str, str, str, str]:
    base = name.removesuffix("t64")
    if base in _META:
        return _META[base]
    if base.startswith("python3."):
        return _META["python3"]
    if base.startswith("postgresql-"):
        return _META["postgresql"]
    if base.startswith("lib"):
        return ("libs", "optional", "amd64", "same", f"{name} shared library")
    return ("misc", "optional", "amd64", "", f"{name} (lab package)")


def default_arch(name: str) -> str:
    """The architecture the package is built for on amd64 hosts (``all`` or ``amd64``)."""
    return _meta(name)[2]


def is_multi_arch_same(name: str) -> bool:
    """Whether dpkg-query qualifies the name with ``:arch`` (``Multi-Arch: same``)."""
    return _meta(name)[3] == "same"


class Status:
    """dpkg ``Status:`` values for the states the lab plants, and their ``db:Status-Abbrev``."""

    INSTALLED = "install ok installed"
    HELD = "hold ok installed"
    CONFIG_FILES = "deinstall ok config-files"

    ABBREV: ClassVar[dict[str, str]] = {
        INSTALLED: "ii ",
        HELD: "hi ",
        CONFIG_FILES: "rc ",
    }


@dataclass(frozen=True, order=True)
class DpkgEntry:
    """One stanza of a host's dpkg status file."""

    name: str
    arch: str
    version: str
    status: str = Status.INSTALLED

    @property
    def binary_package(self) -> str:
        """``${binary:Package}``: arch-qualified for Multi-Arch: same and foreign packages."""
        if is_multi_arch_same(self.name) or self.arch not in ("all", "amd64"):
            return f"{self.name}:{self.arch}"
        return self.name

    @property
    def abbrev(self) -> str:
        """``${db:Status-Abbrev}`` as dpkg-query prints it (three characters, e.g. ``"ii "``)."""
        return Status.ABBREV[self.status]

    def query_line(self) -> str:
        """The line ``dpkg-query -W -f '${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n'``
        prints for this entry."""
        return f"{self.binary_package}\t{self.version}\t{self.abbrev}"


def _maintainer(release: str, name: str) -> str:
    if release.startswith("ubuntu"):
        return "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"
    return "Debian QA Group <packages@qa.debian.org>"


def render_status(release: str, entries: Iterable[DpkgEntry]) -> str:
    """A ``/var/lib/dpkg/status`` holding ``entries``, in the field order dpkg writes."""
    stanzas = []
    for e in sorted(entries):
        section, priority, _arch, multi_arch, description = _meta(e.name)
        lines = [f"Package: {e.name}", f"Status: {e.status}"]
        if e.name in _ESSENTIAL:
            lines.append("Essential: yes")
        lines += [
            f"Priority: {priority}",
            f"Section: {section}",
            "Installed-Size: 1024",
            f"Maintainer: {_maintainer(release, e.name)}",
            f"Architecture: {e.arch}",
        ]
        if multi_arch:
            lines.append(f"Multi-Arch: {multi_arch}")
        lines += [
            f"Version: {e.version}",
            f"Description: {description}",
            f" Lab copy of {e.name} for {release}; no files are installed.",
        ]
        stanzas.append("\n".join(lines) + "\n")
    return "\n".join(stanzas)
