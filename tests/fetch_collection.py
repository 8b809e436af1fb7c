"""Install one Ansible collection from the ``ansible`` wheel on PyPI into a collections path.

Why: ``community.general`` (``yum_versionlock``, used by ``emit ansible-playbook --hold`` on
rpm hosts) is not part of ansible-core, and Ansible Galaxy is not reachable where CI runs; the
``ansible`` package on PyPI carries the same collection files that ``ansible-galaxy`` would
install. Only that collection's files are extracted (the whole package is ~470 MB installed).

    python tests/fetch_collection.py DEST community.general
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

# The ansible release whose bundled collections match the ansible-core the tests install.
ANSIBLE = "ansible>=12,<13"


def main(dest: str, name: str) -> int:
    namespace, collection = name.split(".", 1)
    prefix = f"ansible_collections/{namespace}/{collection}/"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                tmp,
                ANSIBLE,
            ],
            check=True,
        )
        (wheel,) = Path(tmp).glob("ansible-*.whl")
        target = Path(dest)
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith(prefix)]
            for member in members:
                parts = PurePosixPath(member).parts
                if member.startswith("/") or ".." in parts:
                    raise SystemExit(f"{wheel.name}: unsafe member {member!r}")
            archive.extractall(target, members)
    print(f"{name}: {len(members)} files into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
