"""A dnf repository with security advisories, and a dnf root using it, built with the real tools.

Tiny noarch rpms (``rpmbuild``), the repository metadata (``createrepo_c``) and an
``updateinfo.xml`` added the way distributions add theirs (``modifyrepo_c --mdtype=updateinfo``).
``DnfRoot`` is a private ``--installroot`` (its own rpm database, repos, cache and logs) where
the real dnf installs packages and answers ``updateinfo``; ``wrapper`` is a ``dnf`` command for
that root, so a probe script that runs plain ``dnf`` can be pointed at it (bind-mounted over
``/usr/bin/dnf`` in a private mount namespace: the machine never sees it).

Until the rpm lab hosts exist on this branch, this is how the rpm side is tested against the
real dnf rather than text written to look like its output.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

TOOLS = ("rpmbuild", "createrepo_c", "modifyrepo_c", "dnf")
DNF_MAIN = "import sys; from dnf.cli import main; main.user_main(sys.argv[1:], exit_code=True)"


def tools_missing() -> str | None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install rpm createrepo-c dnf)"
    return None


@dataclass(frozen=True)
class Advisory:
    """One updateinfo ``<update>``: id, type, severity, CVE ids, packages (name, ver, rel)."""

    id: str
    type: str
    packages: Sequence[tuple[str, str, str]]
    severity: str = ""
    cves: Sequence[str] = field(default_factory=tuple)

    def xml(self) -> str:
        refs = "".join(
            f'<reference href="https://www.cve.org/CVERecord?id={c}" id={quoteattr(c)} '
            f'title={quoteattr(c)} type="cve"/>'
            for c in self.cves
        )
        pkgs = "".join(
            f"<package name={quoteattr(n)} version={quoteattr(v)} release={quoteattr(r)} "
            f'epoch="0" arch="noarch" src="{n}-{v}-{r}.src.rpm">'
            f"<filename>{n}-{v}-{r}.noarch.rpm</filename></package>"
            for n, v, r in self.packages
        )
        severity = f"<severity>{self.severity}</severity>" if self.severity else ""
        return (
            f'<update from="security@example.invalid" status="stable" type="{self.type}" '
            f'version="2.0"><id>{self.id}</id><title>{self.id}</title>{severity}'
            '<issued date="2026-11-01 00:00:00"/><description>test</description>'
            f"<references>{refs}</references>"
            f'<pkglist><collection short="pm"><name>pm</name>{pkgs}</collection></pkglist>'
            "</update>"
        )


def build_rpm(out: Path, work: Path, name: str, version: str, release: str) -> None:
    spec = work / f"{name}-{version}-{release}.spec"
    spec.write_text(
        f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: pinmgr test package\n"
        "License: MIT\nBuildArch: noarch\n%description\npinmgr test package\n%files\n"
    )
    subprocess.run(
        [
            "rpmbuild",
            "-bb",
            "--define",
            f"_topdir {work / 'rpmbuild'}",
            "--define",
            f"_rpmdir {out}",
            "--define",
            "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
            str(spec),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def build_repo(
    out: Path, packages: Mapping[str, Sequence[str]], advisories: Sequence[Advisory]
) -> Path:
    """``out``: every ``name -> ["version-release", ...]`` built, repodata, updateinfo."""
    out.mkdir(parents=True)
    work = out.parent / f".{out.name}-build"
    work.mkdir()
    for name, evrs in sorted(packages.items()):
        for evr in evrs:
            version, release = evr.rsplit("-", 1)
            build_rpm(out, work, name, version, release)
    shutil.rmtree(work)
    subprocess.run(["createrepo_c", "-q", str(out)], check=True, capture_output=True, timeout=120)
    info = out.parent / f".{out.name}-updateinfo.xml"
    body = "".join(a.xml() for a in advisories)
    info.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<updates>{body}</updates>\n')
    subprocess.run(
        ["modifyrepo_c", "--mdtype=updateinfo", str(info), str(out / "repodata")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@dataclass(frozen=True)
class DnfRoot:
    """A dnf ``--installroot`` with one repository: nothing outside ``path`` is written."""

    path: Path
    repo: Path

    def options(self) -> list[str]:
        return [
            f"--installroot={self.path}",
            f"--setopt=reposdir={self.path / 'etc' / 'yum.repos.d'}",
            "--releasever=9",
            "--noplugins",
            "-y",
        ]

    def create(self) -> DnfRoot:
        repos = self.path / "etc" / "yum.repos.d"
        repos.mkdir(parents=True)
        (repos / "pm.repo").write_text(
            f"[pmtest]\nname=pmtest\nbaseurl=file://{self.repo}\ngpgcheck=0\nenabled=1\n"
        )
        return self

    def dnf(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["dnf", *self.options(), *args], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def wrapper(self, path: Path) -> Path:
        """An executable ``dnf`` for this root (the real dnf's own entry point)."""
        opts = " ".join(shlex.quote(o) for o in self.options())
        path.write_text(
            f'#!/bin/sh\nexec /usr/bin/python3 -c {shlex.quote(DNF_MAIN)} {opts} "$@"\n'
        )
        path.chmod(0o755)
        return path
