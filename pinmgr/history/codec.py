"""Encodings shared by both stores: times, host text, package sets.

Host text is untrusted and may hold NUL or lone surrogates (undecodable bytes), which
PostgreSQL's TEXT and UTF-8 refuse; ``to_db`` escapes them (and the backslash) reversibly so
both stores keep the exact string and give it back through ``from_db``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import operator
import re
import zlib
from array import array
from collections.abc import Iterable

_NEEDS_ESCAPE = re.compile(r"[\\\x00\ud800-\udfff]")
_ESCAPED = re.compile(r"\\(\\|0|u[0-9a-f]{4})")


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    if c == "\\":
        return "\\\\"
    if c == "\x00":
        return "\\0"
    return f"\\u{ord(c):04x}"


def _unescape(m: re.Match[str]) -> str:
    body = m.group(1)
    if body == "\\":
        return "\\"
    if body == "0":
        return "\x00"
    return chr(int(body[1:], 16))


def to_db(text: str) -> str:
    """``text`` safe for any store's TEXT column (plain text passes unchanged)."""
    if text.isascii() and "\\" not in text and "\x00" not in text:
        return text
    return _NEEDS_ESCAPE.sub(_escape, text)


def from_db(text: str) -> str:
    return _ESCAPED.sub(_unescape, text) if "\\" in text else text


def time_text(when: dt.datetime) -> str:
    """UTC, fixed width, so text order is time order in both stores."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def encode_set(ids: Iterable[int]) -> bytes:
    """Sorted distinct ids as 4-byte deltas (small numbers: zlib shrinks them well)."""
    ordered = sorted(ids)  # (a host's ids come nearly sorted: quicker than a set first)
    if any(map(operator.eq, ordered, itertools.islice(ordered, 1, None))):
        ordered = sorted(set(ordered))
    deltas = array("I", map(operator.sub, ordered, itertools.chain((0,), ordered)))
    return deltas.tobytes()


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def compress(raw: bytes) -> bytes:
    return zlib.compress(raw, 1)


def decode_set(body: bytes) -> frozenset[int]:
    deltas = array("I")
    deltas.frombytes(zlib.decompress(body))
    return frozenset(itertools.accumulate(deltas))
