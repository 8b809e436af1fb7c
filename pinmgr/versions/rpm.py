"""RPM version ordering, as librpm's ``rpmvercmp`` and ``rpmverCmp`` (EVR) do it.

A port of rpm 4.18 (rpmio/rpmvercmp.c, lib/rpmver.c), so a pin compares as ``rpm``/``dnf`` would.
Strings are handled as their UTF-8 bytes: every byte other than an ASCII letter, digit, ``~`` or
``^`` is a separator with no weight, so non-ASCII text never changes the order by its value.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pinmgr.errors import VersionError
from pinmgr.versions.base import SortKey

_NUM = re.compile(rb"[0-9]+")
_ALPHA = re.compile(rb"[A-Za-z]+")
_SEP = re.compile(rb"[^0-9A-Za-z~^]+")
_EPOCH = re.compile(rb"([0-9]*):")


@dataclass(frozen=True)
class Evr:
    epoch: int
    version: bytes
    release: bytes | None  # None: no '-' at all, which sorts below any release


def _encode(version: str) -> bytes:
    if not version:
        raise VersionError(f"invalid rpm version {version!r}: version string is empty")
    if "\0" in version:
        raise VersionError(f"invalid rpm version {version!r}: contains a NUL character")
    return version.encode("utf-8", "surrogateescape")


def parse(version: str) -> Evr:
    """Split ``[E:]V[-R]`` like rpmverParse: epoch = leading digits before ':', R after last '-'."""
    raw = _encode(version)
    m = _EPOCH.match(raw)
    epoch = int(m.group(1) or b"0") if m else 0
    rest = raw[m.end() :] if m else raw
    ver, dash, rel = rest.rpartition(b"-")
    return Evr(epoch, ver, rel) if dash else Evr(epoch, rest, None)


def validate(version: str) -> None:
    """rpm parses any non-empty string; only the empty one (and NUL) is rejected."""
    _encode(version)


def _skip(s: bytes, i: int) -> int:
    m = _SEP.match(s, i)
    return m.end() if m else i


def vercmp(a: bytes, b: bytes) -> int:
    """``rpmvercmp`` on one field: -1, 0 or 1."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        i, j = _skip(a, i), _skip(b, j)
        ca, cb = a[i : i + 1], b[j : j + 1]
        if ca == b"~" or cb == b"~":  # '~' sorts before everything, even the end
            if ca != b"~":
                return 1
            if cb != b"~":
                return -1
            i, j = i + 1, j + 1
            continue
        if ca == b"^" or cb == b"^":  # '^' sorts after the end but before anything else
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != b"^":
                return 1
            if cb != b"^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        isnum = ca.isdigit()
        segment = _NUM if isnum else _ALPHA
        sa, sb = segment.match(a, i), segment.match(b, j)
        assert sa is not None  # ca is a letter or digit here
        if sb is None:  # different kinds: the numeric segment is newer
            return 1 if isnum else -1
        x, y = sa.group(), sb.group()
        if isnum:
            x, y = x.lstrip(b"0"), y.lstrip(b"0")
            if len(x) != len(y):
                return 1 if len(x) > len(y) else -1
        if x != y:
            return 1 if x > y else -1
        i, j = sa.end(), sb.end()
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def compare(a: str, b: str) -> int:
    """Full EVR comparison (what ``rpm.vercmp`` in rpm's Lua does): -1, 0 or 1."""
    x, y = parse(a), parse(b)
    if x.epoch != y.epoch:
        return 1 if x.epoch > y.epoch else -1
    rc = vercmp(x.version, y.version)
    if rc or x.release == y.release:
        return rc
    if x.release is None or y.release is None:
        return -1 if x.release is None else 1
    return vercmp(x.release, y.release)


@functools.total_ordering
class RpmKey:
    """Orders by :func:`compare`: rpmvercmp is no plain lexicographic order to build a tuple from.

    Unhashable on purpose: ``1.0`` and ``1.0.`` are equal, so no honest hash exists.
    """

    __slots__ = ("version",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, version: str) -> None:
        validate(version)
        self.version = version

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RpmKey):
            return NotImplemented
        return compare(self.version, other.version) == 0

    def __lt__(self, other: RpmKey) -> bool:
        return compare(self.version, other.version) < 0

    def __repr__(self) -> str:
        return f"RpmKey({self.version!r})"


def key(version: str) -> SortKey:
    """A sort key ordering exactly like librpm's EVR comparison."""
    return RpmKey(version)
