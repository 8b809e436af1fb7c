"""Package-name syntax per ecosystem: the one rule the lockfile loader and every writer share."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pinmgr.model import Ecosystem
from pinmgr.versions.text import MAX_NAME_CHARS, problem, shown

PACKAGE_RES: Mapping[Ecosystem, re.Pattern[str]] = {
    # Debian policy 5.6.1, plus an optional ":arch" qualifier as dpkg-query prints it.
    Ecosystem.DEB: re.compile(r"^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?$"),
    # rpmbuild's Name: letters, digits and ._+- (build/parsePreamble.c, ALLOWED_CHARS_NAME).
    Ecosystem.RPM: re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9._+-]*$"),
    # PEP 508 distribution name.
    Ecosystem.PIP: re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$"),
    # An application name in the lockfile (a TOML key, shown in every report).
    Ecosystem.APP: re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
}


def name_problem(ecosystem: Ecosystem, name: str) -> str | None:
    """A one-line message saying why ``name`` is no package name of ``ecosystem``, or None.

    ``$`` in the patterns also matches before a final newline: fullmatch is what refuses it.
    """
    reason = problem(name, MAX_NAME_CHARS)
    if reason is not None:
        return f"package name {shown(name)}: {reason}"
    if not PACKAGE_RES[ecosystem].fullmatch(name):
        return f"{shown(name)} is not a valid {ecosystem.value} package name"
    return None


RPM_ARCHES = frozenset(
    {
        "noarch",
        "x86_64",
        "i386",
        "i486",
        "i586",
        "i686",
        "athlon",
        "aarch64",
        "armv7hl",
        "armv7l",
        "ppc64",
        "ppc64le",
        "s390x",
        "riscv64",
        "loongarch64",
    }
)
"""Architectures rpm/dnf name packages with (rpmrc's arch list, the ones distributions ship)."""


def split_arch(package: str) -> tuple[str, str | None]:
    """``glibc.i686`` -> (``glibc``, ``i686``); ``python3.11`` -> (``python3.11``, None)."""
    name, dot, arch = package.rpartition(".")
    if dot and name and arch in RPM_ARCHES:
        return name, arch
    return package, None
