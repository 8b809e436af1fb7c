"""Debian version ordering and syntax, as ``dpkg --compare-versions`` does it.

A port of dpkg's ``parseversion`` (lib/dpkg/parsehelp.c) and ``verrevcmp`` (lib/dpkg/version.c),
so a pin compares exactly as apt/dpkg would on the host. Strings are handled as their UTF-8 bytes
because dpkg orders raw (signed) chars: a byte >= 0x80 sorts between letters and ASCII symbols.
dpkg only *warns* about a leading non-digit or odd characters and still compares (:func:`lint`
names the warning, :func:`parse` and :func:`compare` accept them), but builds and installs refuse
them: :func:`validate`, the rule for anything written into a lockfile, refuses both.

Digit runs are compared as dpkg does, by their digits (leading zeros dropped, then length, then
text), never through ``int``: a run of 5,000 digits orders correctly instead of hitting Python's
int-from-string limit.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pinmgr.errors import VersionError
from pinmgr.versions.text import MAX_VERSION_CHARS, problem, shown

_BLANK = b" \t"
_C_SPACE = b" \t\n\v\f\r"  # what strtol() skips before the epoch
_DIGITS = b"0123456789"
_ALPHA = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INT_MAX = 2**31 - 1
_UPSTREAM_OK = frozenset(_DIGITS + _ALPHA + b".-+~:")
_REVISION_OK = frozenset(_DIGITS + _ALPHA + b".+~")
_PART = re.compile(rb"([^0-9]*)([0-9]*)")

# A number as (count of digits, digits) with leading zeros dropped: orders like its value.
Number = tuple[int, bytes]
# A key for one part: (orders of the non-digit run + (0,), number) pairs, then _END twice.
# dpkg treats end-of-string like a digit (order 0) and a missing number like 0, so _END is
# exactly "nothing left": trailing pairs equal to it are dropped so equal versions get equal keys.
Pair = tuple[tuple[int, ...], Number]
PartKey = tuple[Pair, ...]
_END: Pair = ((0,), (0, b""))


@dataclass(frozen=True)
class DebVersion:
    epoch: int
    upstream: bytes
    revision: bytes


def _fail(version: str, reason: str) -> VersionError:
    return VersionError(f"invalid deb version {shown(version)}: {reason}")


def parse(version: str) -> DebVersion:
    """Split ``[epoch:]upstream[-revision]``; raise VersionError where dpkg errors out."""
    if "\0" in version:
        raise _fail(version, "version string contains a NUL character")
    raw = version.encode("utf-8", "surrogateescape").lstrip(_BLANK)
    if not raw:
        raise _fail(version, "version string is empty")
    text = raw.rstrip(_BLANK)
    if any(c in _BLANK for c in text):
        raise _fail(version, "version string has embedded spaces")
    epoch = 0
    colon = text.find(b":")
    if colon >= 0:
        m = re.match(rb"[ \t\n\v\f\r]*([+-]?)([0-9]*)", text)
        assert m is not None  # the pattern matches the empty string
        if not m.group(2):
            raise _fail(version, "epoch in version is empty")
        if m.end() != colon:
            raise _fail(version, "epoch in version is not number")
        digits = m.group(2).lstrip(b"0")
        if digits and m.group(1) == b"-":  # dpkg tests the sign before the size
            raise _fail(version, "epoch in version is negative")
        # Length first: int() of thousands of digits would hit Python's int-from-string limit.
        if len(digits) > len(str(_INT_MAX)) or int(digits or b"0") > _INT_MAX:
            raise _fail(version, "epoch in version is too big")
        epoch = int(digits or b"0")
        if colon + 1 == len(raw):  # dpkg looks at the untrimmed string here
            raise _fail(version, "nothing after colon in version number")
        text = text[colon + 1 :]
    upstream, hyphen, revision = text.rpartition(b"-")
    if not hyphen:
        upstream, revision = text, b""
    elif not revision:
        raise _fail(version, "revision number is empty")
    if not upstream:
        raise _fail(version, "version number is empty")
    return DebVersion(epoch, upstream, revision)


def validate(version: str) -> None:
    """Raise VersionError unless ``version`` is one dpkg accepts without a warning.

    Stricter than :func:`parse` on purpose: dpkg-deb and dpkg's package database (outside its
    lax mode) turn the warnings into errors, so a version with odd characters, a leading
    non-digit, blanks around it, control characters or more than MAX_VERSION_CHARS characters
    is no version a lockfile may hold.
    """
    reason = problem(version, MAX_VERSION_CHARS)
    if reason is not None:
        raise _fail(version, reason)
    warning = lint(version)
    if warning is not None:
        raise _fail(version, warning)
    if version != version.strip(" \t"):
        raise _fail(version, "blanks around the version")


def lint(version: str) -> str | None:
    """The warning dpkg prints for a version it still accepts, or None."""
    v = parse(version)
    if v.upstream[0] not in _DIGITS:
        return "version number does not start with digit"
    if not set(v.upstream) <= _UPSTREAM_OK:
        return "invalid character in version number"
    if not set(v.revision) <= _REVISION_OK:
        return "invalid character in revision number"
    return None


def _order(c: int) -> int:
    """dpkg's order(): digits/end 0, letters themselves, '~' first, others after letters."""
    if c in _ALPHA:
        return c
    if c == 0x7E:  # '~'
        return -1
    # ASCII symbols become c + 256; a byte >= 0x80 is a negative (signed) char, so c - 256 + 256.
    return c if c >= 0x80 else c + 256


def _number(digits: bytes) -> Number:
    stripped = digits.lstrip(b"0")
    return (len(stripped), stripped)


def _part_key(part: bytes) -> PartKey:
    """dpkg's verrevcmp as a tuple: compare keys of two parts to compare the parts.

    Pairs after the first always start with a non-digit, so only the first pair can equal
    _END (a part starting with a zero number, as ``0~``); trailing _END pairs are dropped.
    Two _END pairs close the key, so a shorter key never runs out while the other still has
    a pair to weigh: ``""`` (read as ``0``) against ``0~`` goes on to compare _END with the
    ``~`` pair, and ``0`` is newer, as dpkg says. (One _END let ``""`` stop first and sort
    below ``0~``.)
    """
    pairs = [((*(_order(c) for c in run), 0), _number(num)) for run, num in _PART.findall(part)]
    while pairs and pairs[-1] == _END:
        pairs.pop()
    return (*pairs, _END, _END)


def key(version: str) -> tuple[int, PartKey, PartKey]:
    """A sort key ordering exactly like ``dpkg --compare-versions``."""
    return _key(version)


@functools.lru_cache(maxsize=16384)
def _key(version: str) -> tuple[int, PartKey, PartKey]:
    # Cached: a fleet repeats the same few versions across thousands of hosts.
    v = parse(version)
    return (v.epoch, _part_key(v.upstream), _part_key(v.revision))


def compare(a: str, b: str) -> int:
    """Negative, zero or positive as ``a`` is older than, equal to or newer than ``b``."""
    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)
