"""tests/machine_state.py, the suite's end-of-run guard: what it counts as a change."""

from __future__ import annotations

import os
from pathlib import Path

from tests.machine_state import Guarded, changes, fingerprint


def test_a_file_replaced_by_an_identical_copy_is_a_change(tmp_path: Path) -> None:
    f = tmp_path / "passwd"
    f.write_text("root:x:0:0:root:/root:/bin/bash\n")
    items = [Guarded(f, "file")]
    before = fingerprint(items)
    assert fingerprint(items) == before
    copy = tmp_path / "passwd.new"
    copy.write_bytes(f.read_bytes())
    os.replace(copy, f)  # what useradd/vipw do: same bytes, new inode
    (line,) = changes(before, fingerprint(items))
    assert line.startswith(f"{f}: was inode ") and "sha256" not in line


def test_content_entries_and_presence(tmp_path: Path) -> None:
    f, d, home_dir = tmp_path / "status", tmp_path / "rpm", tmp_path / ".rpmdb"
    f.write_text("a\n")
    d.mkdir()
    items = [Guarded(f, "file"), Guarded(d, "entries"), Guarded(home_dir, "exists")]
    before = fingerprint(items)
    with f.open("a") as out:  # in place: same inode, new bytes
        out.write("b\n")
    (d / "rpmdb.sqlite").write_text("")
    home_dir.mkdir()
    got = changes(before, fingerprint(items))
    assert len(got) == 3
    assert got[0].startswith(f"{f}: was sha256 ") and "inode" not in got[0]
    assert got[1] == f"{d}: was -; now entry rpmdb.sqlite"
    assert got[2] == f"{home_dir}: was absent; now present"
    present = fingerprint(items)
    (home_dir / "x").write_text("")  # presence only: contents are other tools' business
    assert changes(present, fingerprint(items)) == []
