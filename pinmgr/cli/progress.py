"""A rich progress bar on stderr while hosts are collected; silent when not a TTY or --quiet."""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING

from pinmgr.model import Host, HostFailure, HostSnapshot

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


class Progress:
    """Context manager; ``start(total)`` then ``advance(host, result)`` from any thread."""

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled and sys.stderr.isatty()
        self._lock = threading.Lock()
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._failed = 0

    def __enter__(self) -> Progress:
        if self._enabled:
            # rich is imported only for a bar that shows: under --quiet, in CI or a pipe, its
            # ~20 ms import would otherwise come before the first connection opens.
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("collecting"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]}"),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)

    def start(self, total: int) -> None:
        if self._bar is not None:
            self._task = self._bar.add_task("hosts", total=total, failed="")

    def advance(self, host: Host, result: HostSnapshot | HostFailure) -> None:
        if self._bar is None or self._task is None:
            return
        with self._lock:
            if isinstance(result, HostFailure):
                self._failed += 1
            failed = f"{self._failed} failed" if self._failed else ""
            self._bar.update(self._task, advance=1, failed=failed)
