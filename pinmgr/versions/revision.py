"""Application revisions (lockfile ``apps``): commit ids and free-form release labels.

Revisions have no order: two are the same or they are not. A git commit pinned by a prefix
(``a1b2c3d``, 7+ hex characters) is the same as the full id a host reports. ``compare`` orders
different revisions by text only so that lists sort stably; callers never read a direction into
it (``diff`` and ``check`` report app drift without older/newer).
"""

from __future__ import annotations

import re

from pinmgr.errors import VersionError
from pinmgr.versions.text import MAX_VERSION_CHARS, problem, shown

_COMMIT = re.compile(r"[0-9a-f]{7,64}")


def validate(version: str) -> None:
    reason = problem(version, MAX_VERSION_CHARS)
    if reason is None and (not version or version != version.strip() or " " in version):
        reason = "empty, or with blanks in it"
    if reason is None and "\\" in version:
        reason = "a backslash (an undecodable byte the host sent, escaped)"
    if reason is not None:
        raise VersionError(f"invalid app version {shown(version)}: {reason}")


def same(a: str, b: str) -> bool:
    """Equal, or one a commit id the other abbreviates (7+ hex characters)."""
    if a == b:
        return True
    short, full = sorted((a.lower(), b.lower()), key=len)
    return bool(_COMMIT.fullmatch(short) and _COMMIT.fullmatch(full) and full.startswith(short))


def compare(a: str, b: str) -> int:
    if same(a, b):
        return 0
    return -1 if a < b else 1


def key(version: str) -> str:
    return version
