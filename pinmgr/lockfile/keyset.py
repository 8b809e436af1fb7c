"""The key packages ``pinmgr init`` pins: what a server's behaviour hangs on.

Web servers, databases, language runtimes, TLS and SSH, the C library and the init system:
the packages whose version a team decides on, not the hundreds of libraries under them. Of
these, what is installed on the host gets pinned (names as Debian and RHEL-likes spell them;
glob patterns as ``fnmatch`` reads them). Documented in docs/quickstart.md.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

KEY_PACKAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "web servers and proxies",
        ("nginx", "nginx-core", "nginx-full", "nginx-light", "apache2", "httpd", "haproxy",
         "caddy", "lighttpd", "varnish", "traefik"),
    ),
    (
        "databases and caches",
        ("postgresql", "postgresql-[0-9]*", "postgresql-server", "postgresql[0-9]*-server",
         "mariadb-server", "mariadb-server-[0-9]*", "mysql-server", "mysql-server-[0-9]*",
         "mysql-community-server", "redis", "redis-server", "valkey-server", "memcached",
         "mongodb-org-server", "sqlite3", "sqlite"),
    ),
    (
        "language runtimes",
        ("python3", "python3-minimal", "python3.[0-9]", "python3.[0-9][0-9]", "python3[0-9]",
         "python3[0-9][0-9]", "nodejs", "openjdk-[0-9]*-jre-headless",
         "java-[0-9]*-openjdk-headless", "ruby", "ruby[0-9].[0-9]", "php", "php[0-9].[0-9]-fpm",
         "php-fpm", "golang-go"),
    ),
    (
        "TLS and remote access",
        ("openssl", "openssl-libs", "libssl[0-9]*", "openssh-server", "openssh-client",
         "openssh-clients", "ca-certificates"),
    ),
    (
        "base system",
        ("libc6", "glibc", "systemd", "sudo", "bash", "coreutils"),
    ),
)  # fmt: skip
"""(group, patterns): every name pattern of the key set, grouped as the docs list them."""

PATTERNS: tuple[str, ...] = tuple(p for _, patterns in KEY_PACKAGES for p in patterns)


def is_key(name: str) -> bool:
    """Whether a package name (without ``:arch``) is in the key set."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in PATTERNS)


def key_names(names: Iterable[str]) -> list[str]:
    """The key packages among ``names``, sorted, each once."""
    return sorted({n for n in names if is_key(n)})
