"""Why a private key file cannot be used, in a few words: shared by both SSH transports.

A key named in the inventory that is missing, unreadable, a directory, not a key at all or
encrypted with nothing to decrypt it otherwise ends as a bare "authentication failed"; these
words let the host's failure reason name the file and the cause instead. Pure file reads, no
paramiko (the openssh transport checks keys without it).
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

NO_SUCH_FILE = "no such file"
PERMISSION_DENIED = "permission denied"
IS_A_DIRECTORY = "is a directory"
NOT_A_KEY = "not a private key"
ENCRYPTED = "encrypted, and no passphrase to decrypt it"

_ARMOUR = re.compile(rb"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----(.*?)-----END", re.S)
_OPENSSH_MAGIC = b"openssh-key-v1\x00"


def os_problem(exc: OSError) -> str:
    """An ``open``/``read`` error as the few words a failure reason uses."""
    if isinstance(exc, FileNotFoundError):
        return NO_SUCH_FILE
    if isinstance(exc, PermissionError):
        return PERMISSION_DENIED
    if isinstance(exc, IsADirectoryError):
        return IS_A_DIRECTORY
    return (exc.strerror or str(exc)).lower()


def read_key(path: str | Path) -> tuple[bytes | None, str]:
    """The file's bytes, or None and why they cannot be read (``os_problem``)."""
    try:
        return Path(path).expanduser().read_bytes(), ""
    except OSError as exc:
        return None, os_problem(exc)


def content_problem(data: bytes) -> str:
    """``NOT_A_KEY``, ``ENCRYPTED`` or "" (looks usable), from the armour of the key text.

    PEM keys say ``Proc-Type: 4,ENCRYPTED`` (or ``ENCRYPTED PRIVATE KEY``); OpenSSH's own
    format names its cipher right after the magic ("none" when not encrypted).
    """
    match = _ARMOUR.search(data)
    if match is None:
        return NOT_A_KEY
    kind, body = match.group(1), match.group(2)
    if kind == b"ENCRYPTED " or b"Proc-Type: 4,ENCRYPTED" in body:
        return ENCRYPTED
    if kind != b"OPENSSH ":
        return ""
    try:
        raw = base64.b64decode(b"".join(body.split()))
    except (binascii.Error, ValueError):
        return NOT_A_KEY
    if not raw.startswith(_OPENSSH_MAGIC) or len(raw) < len(_OPENSSH_MAGIC) + 4:
        return NOT_A_KEY
    at = len(_OPENSSH_MAGIC)
    size = int.from_bytes(raw[at : at + 4], "big")
    cipher = raw[at + 4 : at + 4 + size]
    return "" if cipher == b"none" else ENCRYPTED


def key_problem(path: str | Path) -> str:
    """Why ``path`` cannot be used as a private key without help, or "" when it looks fine."""
    data, problem = read_key(path)
    return problem if data is None else content_problem(data)
