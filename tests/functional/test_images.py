"""Acceptance (issue 16, part 1): container images checked like hosts, with no container engine.

Images are made by the real tools (``umoci`` layers, ``skopeo`` archives; see imagebuild.py):
a base layer with os-release, a dpkg status and a virtualenv; a layer that upgrades openssl;
one that deletes a Python package (umoci writes the whiteouts); one with an opaque directory
(a raw layer: umoci never writes opaque markers). pinmgr must report exactly the final
image's versions from the OCI layout, the OCI archive and the docker-save tarball alike. An
rpm image is held against librpm's own listing of the same database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pinmgr.collectors.image import read_image
from pinmgr.model import Ecosystem, Host, HostSnapshot, TransportKind
from tests.functional import imagebuild as ib

pytestmark = pytest.mark.skipif(ib.tools_missing() is not None, reason=str(ib.tools_missing()))

SITE = "opt/venv/lib/python3.11/site-packages"
BASE = {
    "dpkg": "1.21.22",
    "nginx": "1.22.1-9",
    "openssl": "3.0.11-1~deb12u2",
    "libssl3": "3.0.11-1~deb12u2",
    "curl": "7.88.1-10+deb12u5",
}
FINAL_DEB = {**BASE, "openssl": "3.0.13-1~deb12u1"}
FINAL_PIP = {"requests": "2.32.3", "jinja2": "3.1.4"}


def _base(root: Path) -> None:
    ib.write_os_release(root, "debian", "12")
    ib.write_status(root, BASE)
    (root / "opt" / "venv").mkdir(parents=True)
    (root / "opt" / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.2\n")
    for name, version in {"requests": "2.31.0", "flask": "2.3.3", "jinja2": "3.1.2"}.items():
        ib.write_dist_info(root / SITE, name, version)


def _upgrade(root: Path) -> None:
    ib.write_status(root, {**BASE, "openssl": "3.0.13-1~deb12u1"})


def _delete_flask(root: Path) -> None:
    import shutil

    shutil.rmtree(root / SITE / "flask-2.3.3.dist-info")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("images")
    layout = ib.layout(work / "layout", [_base, _upgrade, _delete_flask])
    opaque = {
        f"{SITE}/.wh..wh..opq": None,
        f"{SITE}/requests-2.32.3.dist-info/METADATA": b"Name: requests\nVersion: 2.32.3\n",
        f"{SITE}/jinja2-3.1.4.dist-info/METADATA": b"Name: Jinja2\nVersion: 3.1.4\n",
    }
    ib.add_raw_layer(layout, opaque, work)
    return {
        "oci-layout": layout,
        "oci-archive": ib.oci_archive(layout, work / "image.oci.tar"),
        "docker-save": ib.docker_archive(layout, work / "image.docker.tar"),
    }


def _read(path: Path) -> HostSnapshot:
    host = Host(
        "img", "image", ("app",), transport=TransportKind.IMAGE, path=str(path), pip=("/opt/venv",)
    )
    return read_image(host)


def _versions(snap: HostSnapshot, eco: Ecosystem) -> dict[str, str]:
    return {p.name: p.version for p in snap.packages if p.ecosystem is eco}


def test_whiteouts_are_real_umoci_ones(images: dict[str, Path]) -> None:
    """The deletion layer holds real ``.wh.`` entries written by umoci (not by this test)."""
    index = json.loads((images["oci-layout"] / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((images["oci-layout"] / "blobs" / "sha256" / digest).read_text())
    third = manifest["layers"][2]["digest"].split(":")[1]
    names = subprocess.run(
        ["tar", "tzf", str(images["oci-layout"] / "blobs" / "sha256" / third)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert any(n.endswith("/.wh.flask-2.3.3.dist-info") for n in names)


@pytest.mark.parametrize("form", ["oci-layout", "oci-archive", "docker-save"])
def test_final_image_versions_exactly(images: dict[str, Path], form: str) -> None:
    snap = _read(images[form])
    assert snap.os_release is not None and snap.os_release.key == "debian-12"
    assert _versions(snap, Ecosystem.DEB) == FINAL_DEB
    assert _versions(snap, Ecosystem.PIP) == FINAL_PIP
    assert {p.origin for p in snap.packages if p.ecosystem is Ecosystem.PIP} == {"/opt/venv"}


def test_check_image_from_the_command_line(images: dict[str, Path], tmp_path: Path) -> None:
    lock = tmp_path / "pinmgr.toml"
    lock.write_text(
        'schema = 1\n\n[roles.app."debian-12".deb]\n'
        f'nginx = "{BASE["nginx"]}"\nopenssl = "{BASE["openssl"]}"\n'
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pinmgr",
            "check",
            "-l",
            str(lock),
            "--role",
            "app",
            "-f",
            "json",
            "--image",
            str(images["docker-save"]),
            "--image",
            str(images["oci-archive"]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    got = sorted((f["host"], f["package"], f["kind"], f["actual"]) for f in findings)
    assert got == [
        ("image", "nginx", "ok", BASE["nginx"]),
        ("image", "openssl", "drift", FINAL_DEB["openssl"]),
        ("image-2", "nginx", "ok", BASE["nginx"]),
        ("image-2", "openssl", "drift", FINAL_DEB["openssl"]),
    ]


def test_image_needs_a_role(images: dict[str, Path]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pinmgr", "check", "--image", str(images["oci-layout"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "--role" in proc.stderr


def test_rpm_image_matches_librpm(tmp_path: Path) -> None:
    rpms = [
        ib.build_rpm(tmp_path, "pmkernel", "5.14.0", "284.11.1.el9_2", arch="x86_64"),
        ib.build_rpm(tmp_path, "pmkernel", "5.14.0", "362.8.1.el9_3", arch="x86_64"),
        ib.build_rpm(tmp_path, "pmtool", "1.0", "1.el9", epoch=2),
        ib.build_rpm(tmp_path, "pmlib", "2.0", "10.el9", arch="i686"),
    ]
    oracle: list[str] = []

    def rocky(root: Path) -> None:
        ib.write_os_release(root, "rocky", "9.3")
        ib.install_rpms(root, rpms)
        oracle.extend(ib.rpm_query(root))

    layout = ib.layout(tmp_path / "rocky", [rocky])
    snap = _read(ib.docker_archive(layout, tmp_path / "rocky.tar"))
    assert snap.os_release is not None and snap.os_release.key == "rocky-9.3"
    got = sorted(
        f"{p.name} {p.version if ':' in p.version else '0:' + p.version} {p.arch}"
        for p in snap.packages
    )
    assert got == oracle
    assert len(oracle) == 4
