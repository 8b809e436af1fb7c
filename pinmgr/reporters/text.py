"""Make host-supplied text safe to show: hosts are untrusted, terminals interpret bytes."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def printable(value: str) -> str:
    """Escape control characters (ESC, OSC 8 links, bidi overrides) so they are shown literally."""
    return _UNSAFE.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        value,
    )
