"""The small contract every ecosystem's version module meets (deb, rpm, pep440)."""

from __future__ import annotations

from typing import Any, Protocol


class SortKey(Protocol):
    """Anything ``sorted(key=...)`` can order: a tuple, a packaging Version, a cmp_to_key box."""

    def __lt__(self, other: Any, /) -> bool: ...


class VersionScheme(Protocol):
    """One ecosystem's version rules; each function raises VersionError on a version it refuses.

    ``validate`` is strict (what a lockfile may hold); ``compare`` and ``key`` take whatever the
    ecosystem's tool compares, of any length, and never raise anything but VersionError.
    """

    def validate(self, version: str) -> None: ...

    def compare(self, a: str, b: str) -> int: ...

    def key(self, version: str) -> SortKey: ...
