"""A suite-shaped apt archive (``dists/<suite>/Release``) like Debian's and Ubuntu's, built with
the real ``apt-ftparchive``.

``debrepo.py`` builds a flat repository (no Release file, so no Origin, Label or Suite); the
security side of pinmgr tells a ``bookworm-security`` suite from ``bookworm`` by exactly those
Release fields, so tests need archives whose Release files carry the fields the real archives
carry::

    Debian security:  Origin: Debian   Label: Debian-Security  Suite: stable-security
                      Codename: bookworm-security
    Ubuntu pockets:   Origin: Ubuntu   Label: Ubuntu  Suite: jammy-security  Codename: jammy

Layout (one archive may hold several suites, like deb.debian.org/debian)::

    pool/<suite>/<name>_<version>_all.deb
    dists/<suite>/main/binary-amd64/Packages   (apt-ftparchive packages)
    dists/<suite>/Release                       (apt-ftparchive release -o ...::Origin=...)

A host uses it as ``deb [trusted=yes] file:DIR <suite> main``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.functional.debrepo import build_deb
from tests.functional.debrepo import tools_missing as deb_tools_missing

COMPONENT = "main"
ARCH = "amd64"


@dataclass(frozen=True)
class Suite:
    """One suite: its Release fields and the packages it carries (name -> versions)."""

    suite: str
    codename: str
    origin: str
    label: str
    packages: Mapping[str, Sequence[str]]

    @property
    def dist(self) -> str:
        """The directory under ``dists/`` (what a sources.list line names)."""
        return self.suite if self.origin == "Ubuntu" else self.codename


def debian_suites(
    main: Mapping[str, Sequence[str]],
    security: Mapping[str, Sequence[str]],
    updates: Mapping[str, Sequence[str]] | None = None,
) -> list[Suite]:
    """bookworm, bookworm-security and (optionally) bookworm-updates, fields as Debian's."""
    suites = [
        Suite("stable", "bookworm", "Debian", "Debian", main),
        Suite("stable-security", "bookworm-security", "Debian", "Debian-Security", security),
    ]
    if updates is not None:
        suites.append(Suite("stable-updates", "bookworm-updates", "Debian", "Debian", updates))
    return suites


def ubuntu_suites(
    main: Mapping[str, Sequence[str]],
    security: Mapping[str, Sequence[str]],
    updates: Mapping[str, Sequence[str]] | None = None,
) -> list[Suite]:
    """jammy, jammy-security and (optionally) jammy-updates, fields as Ubuntu's."""
    suites = [
        Suite("jammy", "jammy", "Ubuntu", "Ubuntu", main),
        Suite("jammy-security", "jammy", "Ubuntu", "Ubuntu", security),
    ]
    if updates is not None:
        suites.append(Suite("jammy-updates", "jammy", "Ubuntu", "Ubuntu", updates))
    return suites


def tools_missing() -> str | None:
    """Why archives cannot be built here, or None."""
    if shutil.which("apt-ftparchive") is None:
        return "apt-ftparchive not installed (apt-get install apt-utils)"
    return deb_tools_missing()


def _ftparchive(args: Sequence[str], cwd: Path) -> str:
    done = subprocess.run(
        ["apt-ftparchive", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def build_archive(out: Path, suites: Sequence[Suite]) -> Path:
    """The archive in ``out`` (world-readable: apt reads ``file:`` sources as ``_apt``)."""
    for suite in suites:
        pool = out / "pool" / suite.dist
        pool.mkdir(parents=True, exist_ok=True)
        for name, versions in sorted(suite.packages.items()):
            for version in versions:
                build_deb(pool, name, version)
        shutil.rmtree(pool / ".stage", ignore_errors=True)
        dist = out / "dists" / suite.dist
        binary = dist / COMPONENT / f"binary-{ARCH}"
        binary.mkdir(parents=True)
        (binary / "Packages").write_text(_ftparchive(["packages", f"pool/{suite.dist}"], out))
        fields = {
            "Origin": suite.origin,
            "Label": suite.label,
            "Suite": suite.suite,
            "Codename": suite.codename,
            "Architectures": ARCH,
            "Components": COMPONENT,
        }
        opts = [a for k, v in fields.items() for a in ("-o", f"APT::FTPArchive::Release::{k}={v}")]
        # Captured, then written: apt-ftparchive would hash a half-written Release of its own.
        (dist / "Release").write_text(_ftparchive([*opts, "release", "."], dist))
    for path in [out, *out.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return out


def sources_lines(directory: str, suites: Sequence[Suite]) -> str:
    """``sources.list`` lines for the archive as the host sees it at ``directory``."""
    return "".join(f"deb [trusted=yes] file:{directory} {s.dist} {COMPONENT}\n" for s in suites)
