"""The run store's contract: what a run records and what the store answers, as plain values.

One interface, two implementations (``sqlite``: embedded default; ``postgresql``: shared by
many short-lived CI runners) over one schema (``schema``). The store sees only ``model``
values: the api layer builds a ``RunRecord`` and reads answers back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pinmgr.errors import PinmgrError
from pinmgr.model import CheckReport, Finding, FindingKind, HostFailure, HostSnapshot, TrendPoint


class HistoryError(PinmgrError):
    """The store cannot be used (bad URL, schema newer than this pinmgr): exit 2."""


class StoreUnavailable(HistoryError):
    """The store cannot be opened or written (read-only directory, server down): ``check``
    warns and goes on; ``pinmgr history`` fails with it."""


@dataclass(frozen=True)
class Scope:
    """What makes two runs comparable for ``--fail-on new``: same lockfile, envs and roles.

    ``lockfile`` is the path as given (relative stays relative), so CI runners that check the
    repository out in different directories share a scope. Empty ``envs``/``roles``: all.
    """

    lockfile: str
    envs: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    @staticmethod
    def of(lockfile: str, envs: Sequence[str], roles: Sequence[str]) -> Scope:
        return Scope(lockfile, tuple(sorted(set(envs))), tuple(sorted(set(roles))))

    def __str__(self) -> str:
        envs = ",".join(self.envs) or "*"
        roles = ",".join(self.roles) or "*"
        return f"{self.lockfile} env={envs} role={roles}"


@dataclass(frozen=True)
class RunRecord:
    """One ``check`` or ``collect`` to record: what was collected and (check) what was found."""

    command: str  # "check" or "collect"
    scope: Scope
    recorded_at: dt.datetime  # timezone-aware
    results: Sequence[HostSnapshot | HostFailure]
    report: CheckReport | None = None


class FindingTimes(Mapping[Finding, dt.datetime]):
    """First-seen times of one report's own findings, looked up by identity.

    A 10,000-host report has ~300,000 non-ok findings; hashing each ``Finding`` (a dataclass
    of fourteen fields, enums among them) to file and find it cost seconds. The report's
    findings are the very objects recorded, so their identity is the key; each is kept here,
    so its id cannot be reused. A finding equal to a recorded one but not the same object is
    not in the map.
    """

    __slots__ = ("_by_id",)

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Finding, dt.datetime]] = {}

    def add(self, finding: Finding, when: dt.datetime) -> None:
        self._by_id[id(finding)] = (finding, when)

    def get(self, finding: Finding, default: object = None) -> dt.datetime | None:  # type: ignore[override]
        entry = self._by_id.get(id(finding))
        if entry is None or entry[0] is not finding:
            return default  # type: ignore[return-value]
        return entry[1]

    def __getitem__(self, finding: Finding) -> dt.datetime:
        when = self.get(finding)
        if when is None:
            raise KeyError(finding)
        return when

    def __contains__(self, finding: object) -> bool:
        entry = self._by_id.get(id(finding))
        return entry is not None and entry[0] is finding

    def __iter__(self) -> Iterator[Finding]:
        return (f for f, _ in self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


@dataclass(frozen=True)
class Recorded:
    """What ``record`` answers: the run's id, and when each finding was first seen.

    ``known_since`` holds the non-ok findings that the previous run of the same scope also
    had; a finding absent from it is new.
    """

    run_id: int
    known_since: Mapping[Finding, dt.datetime]
    previous_run: int | None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A past run and its summary (``pinmgr history --runs``)."""

    id: int
    recorded_at: dt.datetime
    command: str
    scope: Scope
    hosts_total: int
    hosts_collected: int
    counts: tuple[tuple[FindingKind, int], ...]


@dataclass(frozen=True, slots=True)
class VersionSpan:
    """A version of a package present on a host from one run until another (or until now).

    ``appeared`` is the first recorded run that had it (``first_recorded``: it was there when
    the host was first recorded, so it may be older); ``disappeared`` the first run without it.
    """

    env: str
    host: str
    ecosystem: str
    package: str
    version: str
    appeared: dt.datetime
    disappeared: dt.datetime | None
    first_recorded: bool


class Store(Protocol):
    """A history store (``open_store`` picks one from a URL)."""

    url: str

    def record(self, run: RunRecord) -> Recorded:
        """Record one run in one transaction; compare its findings with the scope's last run."""
        ...

    def last_findings(self, scope: Scope) -> tuple[Finding, ...] | None:
        """Non-ok findings of the scope's last recorded check (None: no run recorded)."""
        ...

    def runs(self, *, since: dt.datetime | None = None, limit: int = 100) -> list[RunInfo]:
        """Past runs, newest first."""
        ...

    def versions(
        self,
        *,
        host: str | None = None,
        package: str | None = None,
        envs: Sequence[str] = (),
        since: dt.datetime | None = None,
    ) -> list[VersionSpan]:
        """When each version appeared and disappeared on which host (``package``: a glob)."""
        ...

    def trend(self, envs: Sequence[str] = (), limit: int = 30) -> list[TrendPoint]:
        """Finding counts per environment of the last ``limit`` check runs, oldest first."""
        ...

    def prune(self, before: dt.datetime) -> int:
        """Delete runs recorded before ``before`` (and what only they used); the count."""
        ...

    def close(self) -> None: ...
