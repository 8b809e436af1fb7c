"""The lockfile: load and validate (every problem, with positions), edit in place, write safely."""

from __future__ import annotations

from pinmgr.lockfile.edit import (
    add_waiver,
    dumps,
    parse,
    read_document,
    remove_pin,
    set_pin,
)
from pinmgr.lockfile.load import check_text, load, loads
from pinmgr.lockfile.write import save

__all__ = [
    "add_waiver",
    "check_text",
    "dumps",
    "load",
    "loads",
    "parse",
    "read_document",
    "remove_pin",
    "save",
    "set_pin",
]
