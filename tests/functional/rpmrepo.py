"""A local rpm repository for rpm lab hosts: packages built with ``rpmbuild`` (by
``tests/hostlab/rpmhost.py``), indexed with the real ``createrepo_c``, served from a directory
(``baseurl=file://DIR``) to the host's real dnf. The dnf counterpart of ``debrepo.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from tests.hostlab.rpmhost import RpmEntry, build

TOOLS = ("rpm", "rpmbuild", "createrepo_c", "dnf")


def tools_missing() -> str | None:
    """Why rpm repositories (and rpm hosts) cannot be made here, or None."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install rpm createrepo-c dnf)"
    return None


def build_repo(out: Path, entries: Iterable[RpmEntry]) -> Path:
    """``out`` holding every entry's package and the ``repodata/`` createrepo_c wrote for them;
    world-readable (the host's dnf runs as the lab user for ``dnf -C list``)."""
    out.mkdir(parents=True, exist_ok=True)
    for entry, path in sorted(build(entries).items()):
        (out / entry.arch).mkdir(exist_ok=True)
        shutil.copy2(path, out / entry.arch / path.name)
    subprocess.run(
        ["createrepo_c", "--quiet", "--no-database", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for path in [out, *out.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return out
