"""dpkg's status file read without dpkg, held against the real ``dpkg-query --admindir``.

``collectors.dpkg_status`` renders each stanza as the probe's ``dpkg-query -W -f=...`` line;
the oracle is dpkg-query itself, run on the same generated database (status values of every
kind, Multi-Arch same/foreign, native, foreign and ``all`` architectures). Arbitrary bytes
as a status file must never raise.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinmgr.collectors.dpkg_status import dpkg_lines, stanzas
from pinmgr.collectors.probe import DPKG_FORMAT
from pinmgr.collectors.rootfs import DirTree

NATIVE = subprocess.run(
    ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
).stdout.strip()
FOREIGN = ("i386", "arm64")
WANTS = ("install", "hold", "deinstall", "purge", "unknown")
STATES = (
    "installed",
    "config-files",
    "half-installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
    "not-installed",
)
EFLAGS = ("ok", "reinstreq")

names = st.from_regex(r"[a-z][a-z0-9+.-]{1,12}", fullmatch=True)
versions = st.from_regex(r"([1-9]:)?[0-9]\.[0-9a-z.+~]{0,6}(-[0-9a-z.+~]{1,5})?", fullmatch=True)


@st.composite
def databases(draw: st.DrawFn) -> list[dict[str, str]]:
    entries: dict[tuple[str, str], dict[str, str]] = {}
    for name in draw(st.lists(names, min_size=1, max_size=12, unique=True)):
        arch = draw(st.sampled_from((NATIVE, "all", *FOREIGN)))
        multi = draw(st.sampled_from(("", "same", "foreign")))
        if arch == "all" and multi == "same":
            multi = ""
        stanza = {
            "Package": name,
            "Status": " ".join(
                (
                    draw(st.sampled_from(WANTS)),
                    draw(st.sampled_from(EFLAGS)),
                    draw(st.sampled_from(STATES)),
                )
            ),
            "Architecture": arch,
            "Version": draw(versions),
        }
        if multi:
            stanza["Multi-Arch"] = multi
        # dpkg refuses these states without the field naming the trigger.
        if stanza["Status"].endswith("triggers-awaited"):
            stanza["Triggers-Awaited"] = "dpkg"
        if stanza["Status"].endswith("triggers-pending"):
            stanza["Triggers-Pending"] = "/usr/share/pmtest"
        entries[(name, arch)] = stanza
        if multi == "same" and draw(st.booleans()):  # a co-installed foreign copy
            twin = dict(stanza, Architecture=FOREIGN[0])
            entries[(name, FOREIGN[0])] = twin
    dpkg = {
        "Package": "dpkg",
        "Status": "install ok installed",
        "Architecture": NATIVE,
        "Version": "1.21.22",
    }
    return [dpkg, *(e for (n, _), e in sorted(entries.items()) if n != "dpkg")]


def _render(db: list[dict[str, str]]) -> str:
    return "".join(
        "".join(f"{k}: {v}\n" for k, v in stanza.items())
        + ("Maintainer: pinmgr tests <t@example.org>\nDescription: x\n")
        + "\n"
        for stanza in db
    )


def _write(root: Path, db: list[dict[str, str]]) -> Path:
    admin = root / "var" / "lib" / "dpkg"
    for sub in ("info", "updates", "triggers"):
        (admin / sub).mkdir(parents=True, exist_ok=True)
    (admin / "status").write_text(_render(db))
    (admin / "arch").write_text("".join(f"{a}\n" for a in (NATIVE, *FOREIGN)))
    return admin


def _dpkg_query(admin: Path) -> list[str]:
    proc = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "-W", f"-f={DPKG_FORMAT}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return sorted(line for line in proc.stdout.split("\n") if line)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(db=databases())
def test_lines_equal_dpkg_query(tmp_path_factory: pytest.TempPathFactory, db: list) -> None:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("rootfs")
    admin = _write(root, db)
    assert dpkg_lines(DirTree(root)) == _dpkg_query(admin)


def test_distroless_status_d_is_read(tmp_path: Path) -> None:
    """Distroless images: no status file, one stanza file per package (no Status field)."""
    status_d = tmp_path / "var" / "lib" / "dpkg" / "status.d"
    status_d.mkdir(parents=True)
    (status_d / "base").write_text(
        "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n"
    )
    (status_d / "base.md5sums").write_text("d41d8cd98f00b204e9800998ecf8427e  etc/x\n")
    (status_d / "libssl3").write_text(
        "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nMulti-Arch: same\n"
    )
    assert dpkg_lines(DirTree(tmp_path)) == [
        "base-files\t12.4+deb12u5\tii \tamd64",
        "libssl3:amd64\t3.0.11-1~deb12u2\tii \tamd64",
    ]


def test_no_database_is_none(tmp_path: Path) -> None:
    assert dpkg_lines(DirTree(tmp_path)) is None


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(data=st.binary(max_size=4096))
def test_arbitrary_status_bytes_never_raise(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").write_bytes(data)
    lines = dpkg_lines(DirTree(root))
    assert lines is not None
    assert all("\n" not in line for line in lines)
    stanzas(data.decode("utf-8", errors="replace"))
