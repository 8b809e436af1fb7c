"""Acceptance (issue 16, part 2): how far the fleet has diverged from its golden image.

A golden root filesystem (a directory holding the dpkg status and os-release the db role's
hosts were built with) and two real sshd test hosts built from the same package set with
planted drift: one on a newer postgresql-15, one missing rsync and with htop added. ``pinmgr
diff golden production`` must list exactly those three packages.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pinmgr import api
from tests.hostlab import BASE_PACKAGES, OS_RELEASE_FILES, Drift, HostSpec, LabFactory, newer
from tests.hostlab.lab import plant
from tests.hostlab.packages import render_status

pytestmark = pytest.mark.hosts

DEB = BASE_PACKAGES["debian-12"]
HTOP = "3.2.2-2"


@pytest.fixture(scope="module")
def setup(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("golden")
    golden = work / "golden-db"
    entries, _ = plant(HostSpec("golden", role="db", os_release="debian-12"))
    (golden / "var" / "lib" / "dpkg").mkdir(parents=True)
    (golden / "var" / "lib" / "dpkg" / "status").write_text(render_status("debian-12", entries))
    (golden / "usr" / "lib").mkdir(parents=True)
    (golden / "usr" / "lib" / "os-release").write_text(OS_RELEASE_FILES["debian-12"])
    (golden / "etc").mkdir()
    (golden / "etc" / "os-release").symlink_to("../usr/lib/os-release")
    lab = hostlab(
        [
            HostSpec(
                "db1",
                env="production",
                role="db",
                os_release="debian-12",
                drift=Drift(versions={"postgresql-15": newer(DEB["postgresql-15"])}),
            ),
            HostSpec(
                "db2",
                env="production",
                role="db",
                os_release="debian-12",
                drift=Drift(missing=("rsync",), extra={"htop": HTOP}),
            ),
        ]
    )
    path = lab.write_inventory(work / "inventory.toml")
    with path.open("a") as out:
        out.write(
            '\n[environments.golden.hosts.golden-db]\ntransport = "rootfs"\n'
            'path = "golden-db"\nroles = ["db"]\n'
        )
    return path, lab.known_hosts


def test_diff_lists_exactly_the_planted_differences(setup: tuple[Path, Path]) -> None:
    inventory, known_hosts = setup
    options = api.CheckOptions(known_hosts=str(known_hosts))
    result = api.diff(inventory, "golden", "production", options)
    assert not result.failures
    got = {(r.package, r.left, tuple(sorted(r.right))) for r in result.rows}
    assert got == {
        (
            "postgresql-15",
            (DEB["postgresql-15"],),
            tuple(sorted((DEB["postgresql-15"], newer(DEB["postgresql-15"])))),
        ),
        ("rsync", (DEB["rsync"],), tuple(sorted(("", DEB["rsync"])))),
        ("htop", ("",), tuple(sorted(("", HTOP)))),
    }


def test_diff_cli_exit_code_and_golden_column(setup: tuple[Path, Path]) -> None:
    inventory, known_hosts = setup
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pinmgr",
            "diff",
            "golden",
            "production",
            "-i",
            str(inventory),
            "--known-hosts",
            str(known_hosts),
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "golden" in proc.stdout and "postgresql-15" in proc.stdout
