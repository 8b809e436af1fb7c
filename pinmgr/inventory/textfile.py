"""Inventory files as text: UTF-8, or one error naming the file:line:col of the first bad byte.

TOML requires UTF-8 and every OpenSSH config pinmgr will meet is ASCII or UTF-8; a stray byte
is a clear ``InventoryError``, never a ``UnicodeDecodeError`` traceback (or a silent U+FFFD
in a host name or key path).
"""

from __future__ import annotations

from pathlib import Path

from pinmgr.errors import InventoryError
from pinmgr.model import Location


def decode(raw: bytes, file: str, what: str) -> str:
    """``raw`` as UTF-8 (a leading byte order mark dropped); ``what`` names the kind of file."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InventoryError(
            f"{what} is not valid UTF-8 (byte 0x{raw[exc.start]:02x})", Location(file, line, col)
        ) from exc


def read(path: Path, what: str) -> str:
    """The file's text; unreadable or not UTF-8 is an ``InventoryError`` at ``path``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InventoryError(
            f"cannot read {what}: {exc.strerror or exc}", Location(str(path), 1)
        ) from exc
    return decode(raw, str(path), what)
