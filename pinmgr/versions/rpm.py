"""RPM version ordering, as librpm's ``rpmvercmp`` and ``rpmverCmp`` (EVR) do it.

A port of rpm 4.18 (rpmio/rpmvercmp.c, lib/rpmver.c), so a pin compares as ``rpm``/``dnf`` would.
Strings are handled as their UTF-8 bytes: every byte other than an ASCII letter, digit, ``~`` or
``^`` is a separator with no weight, so non-ASCII text never changes the order by its value.
Numbers (epochs included) are compared by their digits, never through ``int``.

:func:`compare` orders any string as librpm would; :func:`validate`, the rule for what a lockfile
may hold, accepts only what rpmbuild accepts: ``[E:]V[-R]`` with an unsigned 32-bit epoch and
version and release made of letters, digits and ``._+~^`` without ``..``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pinmgr.errors import VersionError
from pinmgr.versions.base import SortKey
from pinmgr.versions.text import MAX_VERSION_CHARS, problem, shown

_NUM = re.compile(rb"[0-9]+")
_ALPHA = re.compile(rb"[A-Za-z]+")
_SEP = re.compile(rb"[^0-9A-Za-z~^]+")
_EPOCH = re.compile(rb"([0-9]*):")
# What rpmbuild takes (build/parsePreamble.c: ALLOWED_CHARS_VERREL, rpmCharCheck, Epoch as an
# unsigned 32-bit number); '%{}' only draw a "possible unexpanded macro" warning there, and are
# refused here as dpkg's warnings are for deb.
_STRICT = re.compile(r"(?:([0-9]+):)?([A-Za-z0-9._+~^]+)(?:-([A-Za-z0-9._+~^]+))?")
_UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Evr:
    epoch: bytes  # digits without leading zeros ("" is epoch 0)
    version: bytes
    release: bytes | None  # None: no '-' at all, which sorts below any release


def _fail(version: str, reason: str) -> VersionError:
    return VersionError(f"invalid rpm version {shown(version)}: {reason}")


def _encode(version: str) -> bytes:
    if not version:
        raise _fail(version, "version string is empty")
    if "\0" in version:
        raise _fail(version, "contains a NUL character")
    return version.encode("utf-8", "surrogateescape")


def parse(version: str) -> Evr:
    """Split ``[E:]V[-R]`` like rpmverParse: epoch = leading digits before ':', R after last '-'."""
    raw = _encode(version)
    m = _EPOCH.match(raw)
    epoch = m.group(1).lstrip(b"0") if m else b""
    rest = raw[m.end() :] if m else raw
    ver, dash, rel = rest.rpartition(b"-")
    return Evr(epoch, ver, rel) if dash else Evr(epoch, rest, None)


def validate(version: str) -> None:
    """Raise VersionError unless rpmbuild would take ``version`` (as ``[Epoch:]Version-Release``).

    librpm compares any non-empty string, but a package can only be built with this syntax:
    rpmbuild rejects ``1.0 beta``, ``1..0``, ``1.0\\x`` and an epoch above 4294967295.
    """
    _encode(version)
    reason = problem(version, MAX_VERSION_CHARS)
    if reason is not None:
        raise _fail(version, reason)
    m = _STRICT.fullmatch(version)
    if m is None:
        bad = next((c for c in version if not (c.isascii() and (c.isalnum() or c in "._+~^"))), "")
        if bad and bad not in ":-":
            raise _fail(version, f"{bad!r} is not allowed (letters, digits and ._+~^ are)")
        raise _fail(version, "expected [EPOCH:]VERSION[-RELEASE]")
    epoch, ver, rel = m.groups()
    digits = (epoch or "").lstrip("0")
    if len(digits) > len(str(_UINT32_MAX)) or int(digits or "0") > _UINT32_MAX:
        raise _fail(version, f"epoch is above {_UINT32_MAX}")
    if ".." in ver or (rel is not None and ".." in rel):
        raise _fail(version, "'..' is not allowed")


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
        return 1 if (len(x.epoch), x.epoch) > (len(y.epoch), y.epoch) else -1
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
        _encode(version)
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
