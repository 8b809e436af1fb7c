"""Safe file replacement: readers see the old file or the new one, never a torn write.

Used for the lockfile (``pin``, ``lock``, ``accept``) and generated files. The sequence is the
classic one: temp file in the same directory (so ``rename`` is atomic), write, fsync, give it the
old file's mode, rename over the target, fsync the directory (so the rename survives a crash).
An advisory ``flock`` on the directory keeps two pinmgr runs from interleaving, and the caller's
``expected_original`` turns a lost update (someone edited the file meanwhile) into an error,
and a read-only file (no write permission, or for root no owner write bit) is refused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pinmgr.errors import WriteError

TEMP_SUFFIX = ".pinmgr-tmp"

_STEP_HOOK: Callable[[str], None] | None = None
"""Test seam: called with each step's name, so a test can kill the process between steps."""

STEPS = (
    "locked",
    "checked",
    "temp-created",
    "temp-half-written",
    "temp-written",
    "temp-synced",
    "temp-moded",
    "renamed",
    "dir-synced",
)


def _step(name: str) -> None:
    if _STEP_HOOK is not None:
        _STEP_HOOK(name)


def write_atomic(
    path: str | Path,
    text: str | bytes,
    expected_original: bytes | None,
    *,
    lock_timeout: float = 10.0,
) -> None:
    """Replace ``path`` with ``text`` (UTF-8, newlines untouched) atomically and durably.

    ``expected_original`` is what the caller read before computing ``text``: if the file now
    differs (or has vanished), raise ``WriteError`` instead of overwriting someone's change.
    ``None`` means the caller read nothing: the file is written whatever it holds now.
    A symlink is followed, so the link stays a link. Raises ``WriteError`` when another pinmgr
    holds the lock for longer than ``lock_timeout`` seconds, or on any OS error.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    target = Path(os.path.realpath(path))
    try:
        with _locked(target.parent, lock_timeout):
            _step("locked")
            _remove_stale_temps(target)
            current = _stat_or_none(target)
            if current is not None and not _writable(target, current):
                raise WriteError(
                    f"{path} is read-only (no write permission); nothing written "
                    "(chmod u+w to allow pinmgr to replace it)"
                )
            if expected_original is not None:
                on_disk = target.read_bytes() if current is not None else None
                if on_disk != expected_original:
                    raise WriteError(
                        f"{path} changed on disk since it was read; nothing written, "
                        "run the command again"
                    )
            _step("checked")
            _replace(target, data, current)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _replace(target: Path, data: bytes, current: os.stat_result | None) -> None:
    fd, temp_name = _create_temp(target)
    temp = Path(temp_name)
    try:
        _step("temp-created")
        with os.fdopen(fd, "wb") as out:
            half = len(data) // 2
            out.write(data[:half])
            out.flush()
            _step("temp-half-written")
            out.write(data[half:])
            out.flush()
            _step("temp-written")
            os.fsync(out.fileno())
            _step("temp-synced")
            if current is not None:
                os.fchmod(out.fileno(), stat.S_IMODE(current.st_mode))
                with contextlib.suppress(PermissionError):
                    os.fchown(out.fileno(), current.st_uid, current.st_gid)
            else:
                os.fchmod(out.fileno(), 0o666 & ~_umask())
            _step("temp-moded")
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _step("renamed")
    _fsync_dir(target.parent)
    _step("dir-synced")


def _create_temp(target: Path) -> tuple[int, str]:
    """A fresh, exclusively created temp file beside ``target`` (same filesystem)."""
    for attempt in range(100):
        name = target.parent / f".{target.name}.{os.getpid()}.{attempt}{TEMP_SUFFIX}"
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), str(name)
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "no free temporary file name", str(target.parent))


def _remove_stale_temps(target: Path) -> None:
    """Temp files left by a killed run; safe to delete because we hold the directory lock."""
    for stale in target.parent.glob(f".{target.name}.*{TEMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _writable(target: Path, st: os.stat_result) -> bool:
    """Whether the user may write the file itself, not just its directory.

    Replacing by rename needs only the directory's permission, so without this check a
    lockfile someone made read-only would be replaced anyway. Root may write anything, so
    for root "read-only" means what it means to the owner: no owner write bit (``chmod
    a-w`` / ``u-w``); then pinmgr refuses as it does for any other user.
    """
    return os.access(target, os.W_OK) and bool(st.st_mode & stat.S_IWUSR)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(directory: Path, timeout: float) -> Iterator[None]:
    """Exclusive advisory lock on the directory itself: no sidecar file to clean up or commit.

    The kernel drops the lock when the process dies, so a killed run never blocks the next one.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriteError(
                        f"another pinmgr run is writing in {directory}; try again later"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
