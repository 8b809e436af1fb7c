"""Tell a lockfile from an inventory by content, for commands that take either as FILE.

The lockfile header used to advise ``pinmgr validate pins/pinmgr.toml``: a user passes
whichever file they are editing, and its name proves nothing (``prod.toml``).
"""

from __future__ import annotations

import re
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from pinmgr.lockfile.load import TOP_LEVEL_KEYS

_LOCKFILE_TABLE = re.compile(r"^\s*\[\[?\s*(shared|roles|waivers)\b", re.MULTILINE)


def looks_like_lockfile(path: Path) -> bool:
    """Whether ``path`` holds a lockfile (TOML with ``shared``/``roles``/``waivers``).

    A file that does not parse is judged by its table headers, so a broken lockfile still
    reaches the lockfile validator and gets its file:line:col errors, not the inventory's.
    """
    if path.is_dir():
        return False
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    try:
        data = tomlkit.parse(text)
    except TOMLKitError:
        return _LOCKFILE_TABLE.search(text) is not None
    lockfile_keys = set(TOP_LEVEL_KEYS) - {"schema"}
    return bool(lockfile_keys & data.keys()) and "environments" not in data
