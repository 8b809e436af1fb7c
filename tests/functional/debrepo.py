"""Tiny real .deb packages and a flat apt repository for them, built with dpkg's own tools.

Each package is ``Architecture: all`` with no maintainer scripts and no dependencies, and
installs one file (``/usr/share/pmtest/<name>``) holding its version, so a test can see which
version dpkg really unpacked. The repository is "flat" (``deb [trusted=yes] file:DIR ./``):
the .debs and a ``Packages`` index (``dpkg-scanpackages --multiversion``) in one directory.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

TOOLS = ("dpkg-deb", "dpkg-scanpackages")


def tools_missing() -> str | None:
    """Why repositories cannot be built here, or None."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install dpkg-dev)"
    return None


def build_deb(out: Path, name: str, version: str) -> Path:
    """Build ``<out>/<name>_<version>_all.deb``; returns its path."""
    stage = out / ".stage" / f"{name}_{version}"
    (stage / "DEBIAN").mkdir(parents=True)
    payload = stage / "usr" / "share" / "pmtest"
    payload.mkdir(parents=True)
    (payload / name).write_text(f"{name} {version}\n")
    (stage / "DEBIAN" / "control").write_text(
        "\n".join(
            [
                f"Package: {name}",
                f"Version: {version}",
                "Architecture: all",
                "Maintainer: pinmgr tests <pinmgr-tests@example.invalid>",
                "Section: misc",
                "Priority: optional",
                "Installed-Size: 1",
                f"Description: pinmgr test package {name}",
                " Installs one file naming its version; no scripts, no dependencies.",
                "",
            ]
        )
    )
    deb = out / f"{name}_{version.replace(':', '%3a')}_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(stage), str(deb)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return deb


def build_repo(out: Path, packages: Mapping[str, Sequence[str]]) -> Path:
    """A flat repository in ``out``: every ``name -> versions`` built, plus ``Packages``.

    The directory (and everything in it) is world-readable: apt fetches ``file:`` sources as
    its unprivileged ``_apt`` user.
    """
    out.mkdir(parents=True, exist_ok=True)
    for name, versions in sorted(packages.items()):
        for version in versions:
            build_deb(out, name, version)
    shutil.rmtree(out / ".stage", ignore_errors=True)
    scan = subprocess.run(
        ["dpkg-scanpackages", "--multiversion", ".", "/dev/null"],
        cwd=out,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    (out / "Packages").write_text(scan.stdout)
    for path in [out, *out.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return out
