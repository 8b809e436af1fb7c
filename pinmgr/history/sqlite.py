"""The embedded store: one SQLite file (default ``.pinmgr/history.sqlite`` beside the lockfile).

WAL journal: readers never wait for a writer, and a process killed mid-write leaves the last
committed state (SQLite rolls the torn transaction back on next open). Writers take the write
lock up front (``BEGIN IMMEDIATE``) and wait for it up to ``BUSY_SECONDS``, so 100 concurrent
``check`` runs queue instead of failing.
"""

from __future__ import annotations

import sqlite3
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


def open_sqlite(path: Path, url: str) -> SqlStore:
    """Open (creating the directory and file if needed) the store at ``path``."""
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
