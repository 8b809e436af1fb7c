"""Make host-supplied text safe to show: hosts are untrusted, terminals interpret bytes."""

from __future__ import annotations

import io
import re

from rich.console import Console

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def printable(value: str) -> str:
    """Escape control characters (ESC, OSC 8 links, bidi overrides) so they are shown literally."""
    return _UNSAFE.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        value,
    )


def string_console(width: int, color: bool) -> Console:
    """A rich Console writing into a string: reporters return text, the CLI decides where.

    ``color=False`` means no escape sequence at all (NO_COLOR, pipes, files).
    """
    return Console(
        file=io.StringIO(),
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )


def rendered(console: Console) -> str:
    """Everything printed to a ``string_console`` so far."""
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()
