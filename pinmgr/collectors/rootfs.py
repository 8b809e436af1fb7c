"""An unpacked root filesystem on disk (a mounted cloud image, a chroot, a debootstrap result).

Read through ``collectors.tree``: every path is resolved component by component with
``lstat``/``readlink`` inside the root, and the final open refuses a symlink, so a link in the
tree (``etc/os-release -> /etc/os-release``) reads the tree's file, never this machine's.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.tree import Node, snapshot_of
from pinmgr.model import FailureKind, Host, HostSnapshot


class DirTree:
    """``collectors.tree.Tree`` over a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def _path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def node(self, key: str) -> Node | None:
        try:
            st = os.lstat(self._path(key))
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            try:
                return "link", str(self._path(key).readlink())
            except OSError:
                return None
        if stat.S_ISDIR(st.st_mode):
            return "dir", ""
        if stat.S_ISREG(st.st_mode):
            return "file", ""
        return "other", ""

    def read(self, key: str, limit: int) -> bytes:
        try:
            fd = os.open(self._path(key), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise CollectFailed(
                FailureKind.COLLECT_ERROR, f"{self.label}: cannot read /{key}: {exc.strerror}"
            ) from exc
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise CollectFailed(
                FailureKind.COLLECT_ERROR, f"{self.label}: /{key} is over {limit} bytes"
            )
        return data

    def children(self, key: str) -> list[str]:
        try:
            return sorted(p.name for p in self._path(key).iterdir())
        except OSError:
            return []


def read_rootfs(host: Host) -> HostSnapshot:
    """The snapshot of the tree at ``host.path``; ``CollectFailed`` when it is not a directory."""
    root = Path(host.path or "")
    if not host.path or not root.is_dir():
        raise CollectFailed(
            FailureKind.COLLECT_ERROR, f"rootfs {host.path or '(no path)'}: not a directory"
        )
    return snapshot_of(DirTree(root), host)
