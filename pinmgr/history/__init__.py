"""The run store: every ``check`` and ``collect`` recorded, for ``pinmgr history`` and
``check --fail-on new``. ``open_store`` picks the implementation from a URL.
"""

from __future__ import annotations

from pathlib import Path

from pinmgr.history.interface import HistoryError, Store

DEFAULT_DIR = ".pinmgr"
DEFAULT_FILE = "history.sqlite"


def default_path(lockfile: str | Path) -> Path:
    """``.pinmgr/history.sqlite`` in the lockfile's directory."""
    return Path(lockfile).parent / DEFAULT_DIR / DEFAULT_FILE


def open_store(url: str | None, lockfile: str | Path, *, read_only: bool = False) -> Store:
    """``url``: ``postgresql://...``, ``sqlite:///path``, a plain path, or None (the default).

    ``read_only``: the caller only reads; a SQLite store it cannot write is opened read-only.
    """
    if url and url.startswith(("postgresql://", "postgres://")):
        from pinmgr.history.postgresql import open_postgresql

        return open_postgresql(url)
    if url and "://" in url and not url.startswith("sqlite://"):
        scheme = url.split("://", 1)[0]
        raise HistoryError(
            f"--history {scheme}://...: unknown store (use a path, sqlite:///PATH or "
            "postgresql://...)"
        )
    from pinmgr.history.sqlite import open_sqlite

    if url:
        path = Path(url.removeprefix("sqlite://")) if url.startswith("sqlite://") else Path(url)
    else:
        path = default_path(lockfile)
    return open_sqlite(path, str(path), read_only=read_only)


__all__ = ["HistoryError", "Store", "default_path", "open_store"]
