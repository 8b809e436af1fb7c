"""Images built to attack the reader: tar-slip members, links out of the root, bombs, junk.

Hand-built on purpose (no real image tool writes these). Each must be one ``CollectFailed``
naming the image and the member, and nothing may appear outside pinmgr's own temp files:
the paths each attack aims at are checked afterwards. Arbitrary bytes as a layer, and as the
index, must fail the same clean way, never with another exception.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.image import read_image
from pinmgr.model import FailureKind, Host, TransportKind

Member = tuple[str, str, bytes | str]  # (name, kind: file|dir|sym|lnk, data or link target)


def layer(members: list[Member], *, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                assert isinstance(data, bytes)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
            else:
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
            tar.addfile(info)
    raw = buf.getvalue()
    return gzip.compress(raw) if gz else raw


def oci_layout(root: Path, layers: list[bytes]) -> Path:
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}"

    config = put(b"{}")
    manifest = {
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": put(data)}
            for data in layers
        ],
    }
    digest = put(json.dumps(manifest).encode())
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest}
                ],
            }
        )
    )
    return root


def read(path: Path) -> object:
    return read_image(Host("h", "e", ("app",), transport=TransportKind.IMAGE, path=str(path)))


BASE = layer(
    [
        ("etc/os-release", "file", b"ID=debian\nVERSION_ID=12\n"),
        (
            "var/lib/dpkg/status",
            "file",
            b"Package: dpkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.21.22\n",
        ),
    ]
)


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ([("../../../tmp/pinmgr-slip", "file", b"x")], "climbs out of the root"),
        ([("/tmp/pinmgr-slip", "file", b"x")], "absolute path"),
        ([("evil", "sym", "/"), ("evil/tmp/pinmgr-slip", "file", b"x")], "through the symlink"),
        ([("etc/evil", "sym", "../../tmp")], "points outside the root"),
        ([("etc/evil", "lnk", "../../tmp/pinmgr-slip")], "outside the root"),
        ([("etc/evil", "lnk", "/etc/passwd")], "outside the root"),
    ],
    ids=["dotdot", "absolute", "through-symlink", "symlink-up", "hardlink-up", "hardlink-abs"],
)
def test_tar_slip_is_refused(tmp_path: Path, members: list[Member], words: str) -> None:
    image = oci_layout(tmp_path / "img", [BASE, layer(members)])
    with pytest.raises(CollectFailed) as caught:
        read(image)
    assert caught.value.kind is FailureKind.COLLECT_ERROR
    assert words in caught.value.reason
    assert str(image) in caught.value.reason
    assert not Path("/tmp/pinmgr-slip").exists()


def test_absolute_symlink_is_read_inside_the_image(tmp_path: Path) -> None:
    """An absolute link means the image's own root (chroot semantics), never this machine's."""
    top = layer(
        [
            ("usr/lib/os-release", "file", b"ID=rocky\nVERSION_ID=9.3\n"),
            ("etc/os-release", "sym", "/usr/lib/os-release"),
        ]
    )
    snap = read(oci_layout(tmp_path / "img", [BASE, top]))
    assert snap.os_release.key == "rocky-9.3"  # type: ignore[attr-defined]


def test_opaque_and_whiteout_apply_to_lower_layers_only(tmp_path: Path) -> None:
    status = b"Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n"
    lower = layer(
        [
            ("etc/os-release", "file", b"ID=debian\nVERSION_ID=12\n"),
            ("var/lib/dpkg/status.d/a", "file", status % b"a"),
            ("var/lib/dpkg/status.d/b", "file", status % b"b"),
        ]
    )
    upper = layer(
        [
            ("var/lib/dpkg/status.d/.wh..wh..opq", "file", b""),
            ("var/lib/dpkg/status.d/c", "file", status % b"c"),
        ],
        gz=True,
    )
    gone = layer(
        [
            ("var/lib/dpkg/status.d/.wh.c", "file", b""),
            ("var/lib/dpkg/status.d/d", "file", status % b"d"),
        ]
    )
    snap = read(oci_layout(tmp_path / "img", [lower, upper, gone]))
    assert [p.name for p in snap.packages] == ["d"]  # type: ignore[attr-defined]


def test_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINMGR_IMAGE_MAX_BYTES", "65536")
    big = layer([("blob", "file", b"\0" * 200_000)], gz=True)  # a tiny gzip, a big tar
    with pytest.raises(CollectFailed, match="over 65536 bytes uncompressed"):
        read(oci_layout(tmp_path / "img", [BASE, big]))


def test_zstd_layer_is_named(tmp_path: Path) -> None:
    with pytest.raises(CollectFailed, match="zstd"):
        read(oci_layout(tmp_path / "img", [b"\x28\xb5\x2f\xfd" + b"\0" * 64]))


def test_bad_digest_cannot_name_a_path(tmp_path: Path) -> None:
    image = oci_layout(tmp_path / "img", [BASE])
    (image / "index.json").write_text(
        json.dumps({"manifests": [{"digest": "sha256:../../../../etc/passwd"}]})
    )
    with pytest.raises(CollectFailed, match="bad digest"):
        read(image)


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"hello")
    with pytest.raises(CollectFailed, match="not a tar archive or OCI layout"):
        read(tmp_path / "junk")
    with pytest.raises(CollectFailed, match="no such file"):
        read(tmp_path / "absent")


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(data=st.binary(max_size=3000))
def test_arbitrary_layer_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    image = oci_layout(tmp_path_factory.mktemp("fuzz"), [BASE, data])
    try:
        read(image)
    except CollectFailed as exc:
        assert exc.kind in (FailureKind.COLLECT_ERROR, FailureKind.INCOMPLETE)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(data=st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_arbitrary_index_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    image = oci_layout(tmp_path_factory.mktemp("fuzz"), [BASE])
    (image / "index.json").write_bytes(data)
    with pytest.raises(CollectFailed):
        read(image)
