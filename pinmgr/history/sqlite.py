"""The embedded store: one SQLite file (default ``.pinmgr/history.sqlite`` beside the lockfile).

WAL journal: readers never wait for a writer, and a process killed mid-write leaves the last
committed state (SQLite rolls the torn transaction back on next open). Writers take the write
lock up front (``BEGIN IMMEDIATE``) and wait for it up to ``BUSY_SECONDS``, so 100 concurrent
``check`` runs queue instead of failing.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pinmgr.history.interface import HistoryError, StoreUnavailable
from pinmgr.history.sql import Row, SqlStore

BUSY_SECONDS = 300.0


class SqliteDialect:
    id_type = "INTEGER PRIMARY KEY"
    blob_type = "BLOB"

    def sql(self, text: str) -> str:
        return text

    def begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def bulk_insert(self, cur: Any, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        marks = ", ".join("?" * len(columns))
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608

    def errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)


def open_sqlite(path: Path, url: str, *, read_only: bool = False) -> SqlStore:
    """Open (creating the directory and file if needed) the store at ``path``.

    ``read_only`` (``pinmgr history``, ``report --from-history``): when the store cannot be
    opened for writing (a read-only directory or file, another user's store), it is opened
    read-only instead, as it is, never migrated.
    """
    try:
        return _open_writable(path, url)
    except StoreUnavailable:
        if not read_only or not path.is_file():
            raise
    return _open_read_only(path, url)


def _open_writable(path: Path, url: str) -> SqlStore:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_SECONDS, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreUnavailable(f"{url}: cannot open the history store: {exc}") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return SqlStore(url, conn, SqliteDialect())
    except (sqlite3.Error, HistoryError) as exc:
        conn.close()
        if isinstance(exc, HistoryError):
            raise
        raise StoreUnavailable(f"{url}: cannot open the history store: {exc}") from exc


def _open_read_only(path: Path, url: str) -> SqlStore:
    """``mode=ro``; in a directory nobody can write, a WAL store's shared-memory file cannot
    be made, so then ``immutable=1`` (nobody can be writing there either)."""
    target = "file:" + urllib.parse.quote(str(path.resolve()))
    last: sqlite3.Error | None = None
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        try:
            conn = sqlite3.connect(target + query, uri=True, timeout=BUSY_SECONDS)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            return SqlStore(url, conn, SqliteDialect(), read_only=True)
        except (sqlite3.Error, HistoryError):
            conn.close()
            raise
    raise StoreUnavailable(f"{url}: cannot open the history store: {last}") from last
