"""pinmgr.atomic: real files, real flock, real SIGKILL between every write step."""

from __future__ import annotations

import os
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pinmgr import atomic
from pinmgr.errors import WriteError

OLD = ("schema = 1\n# old\n" + "a" * 300_000 + "\n").encode()
NEW = ("schema = 1\n# new\n" + "b" * 700_000 + "\n").encode()
REPO = Path(__file__).resolve().parents[3]

# Runs one write in a child process; the hook kills (or parks) it at the named step.
CHILD = """
import os, signal, sys
from pathlib import Path
from pinmgr import atomic

path, step, action = sys.argv[1], sys.argv[2], sys.argv[3]
new = Path(sys.argv[4]).read_bytes()

def hook(name):
    if name != step:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    print("at " + name, flush=True)
    sys.stdin.read()

atomic._STEP_HOOK = hook
atomic.write_atomic(path, new, Path(path).read_bytes())
"""


def _child(target: Path, step: str, action: str, new_file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target), step, action, str(new_file)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _temps(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{atomic.TEMP_SUFFIX}"))


def test_writes_new_content_exactly(tmp_path: Path) -> None:
    target = tmp_path / "pins.toml"
    target.write_bytes(OLD)
    atomic.write_atomic(target, "x = 1\r\nü = 'é'\n", OLD)
    assert target.read_bytes() == "x = 1\r\nü = 'é'\n".encode()
    assert _temps(tmp_path) == []


def test_keeps_mode_of_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "pins.toml"
    target.write_bytes(OLD)
    target.chmod(0o640)
    atomic.write_atomic(target, NEW, OLD)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_bytes() == NEW


def test_new_file_gets_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "new.toml"
    old_mask = os.umask(0o027)
    try:
        atomic.write_atomic(target, NEW, None)
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_bytes() == NEW


def test_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_bytes(OLD)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    atomic.write_atomic(link, NEW, OLD)
    assert link.is_symlink()
    assert real.read_bytes() == NEW


def test_refuses_when_changed_since_read(tmp_path: Path) -> None:
    target = tmp_path / "pins.toml"
    target.write_bytes(OLD + b"# someone else's edit\n")
    with pytest.raises(WriteError, match="changed on disk"):
        atomic.write_atomic(target, NEW, OLD)
    assert target.read_bytes() == OLD + b"# someone else's edit\n"
    assert _temps(tmp_path) == []


def test_refuses_when_deleted_since_read(tmp_path: Path) -> None:
    target = tmp_path / "pins.toml"
    with pytest.raises(WriteError, match="changed on disk"):
        atomic.write_atomic(target, NEW, OLD)
    assert not target.exists()


def test_missing_directory_is_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="cannot write"):
        atomic.write_atomic(tmp_path / "nope" / "pins.toml", NEW, None)


@pytest.mark.parametrize("step", atomic.STEPS)
def test_sigkill_at_every_step_leaves_old_or_new(tmp_path: Path, step: str) -> None:
    target = tmp_path / "pins.toml"
    target.write_bytes(OLD)
    new_file = tmp_path / "new.bin"
    new_file.write_bytes(NEW)
    child = _child(target, step, "kill", new_file)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    after = target.read_bytes()
    renamed = atomic.STEPS.index(step) >= atomic.STEPS.index("renamed")
    assert after == (NEW if renamed else OLD)
    # The kernel released the dead writer's lock; the next write also sweeps its temp file.
    atomic.write_atomic(target, b"schema = 1\n", after, lock_timeout=5)
    assert target.read_bytes() == b"schema = 1\n"
    assert _temps(tmp_path) == []


def _read_line(child: subprocess.Popen[str], timeout: float) -> str:
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([child.stdout], [], [], deadline - time.monotonic())
        if ready:
            return child.stdout.readline()
    raise AssertionError("child did not reach its step in time")


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    target = tmp_path / "pins.toml"
    target.write_bytes(OLD)
    new_file = tmp_path / "new.bin"
    new_file.write_bytes(NEW)
    child = _child(target, "temp-written", "park", new_file)
    try:
        assert _read_line(child, 30) == "at temp-written\n"
        # The child holds the lock mid-write: a second writer gives up instead of interleaving.
        with pytest.raises(WriteError, match="another pinmgr run"):
            atomic.write_atomic(target, b"schema = 1\n", OLD, lock_timeout=0.2)
        assert target.read_bytes() == OLD
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=60)
    assert child.returncode == 0
    assert target.read_bytes() == NEW
    # The second writer read OLD before the child finished: its update would be lost.
    with pytest.raises(WriteError, match="changed on disk"):
        atomic.write_atomic(target, b"schema = 1\n", OLD)
    assert target.read_bytes() == NEW


@pytest.mark.parametrize("mode", [0o444, 0o044, 0o400, 0o000])
def test_read_only_file_is_refused_and_left_alone(tmp_path: Path, mode: int) -> None:
    """No owner write bit means read-only, for root too (who could rename over it anyway)."""
    target = tmp_path / "pinmgr.toml"
    target.write_text("old\n")
    target.chmod(mode)
    with pytest.raises(WriteError, match=r"pinmgr\.toml is read-only \(no write permission\)"):
        atomic.write_atomic(target, "new\n", b"old\n")
    assert target.read_bytes() == b"old\n"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["pinmgr.toml"]  # no temp file left


def test_owner_writable_file_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "pinmgr.toml"
    target.write_text("old\n")
    target.chmod(0o644)
    atomic.write_atomic(target, "new\n", b"old\n")
    assert target.read_text() == "new\n"
