"""The lockfile: load and validate (every problem, with positions), edit in place, write safely."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pinmgr.lockfile.load import check_text, load, loads

if TYPE_CHECKING:
    from pinmgr.lockfile.edit import (
        add_waiver,
        dumps,
        parse,
        read_document,
        remove_pin,
        set_pin,
    )
    from pinmgr.lockfile.write import save

# The editing half needs tomlkit; a read-only `pinmgr check` never imports it.
_LAZY = {
    "add_waiver": "edit",
    "dumps": "edit",
    "parse": "edit",
    "read_document": "edit",
    "remove_pin": "edit",
    "set_pin": "edit",
    "save": "write",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"pinmgr.lockfile.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
