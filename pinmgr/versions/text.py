"""Checks every pinned string passes before any ecosystem rule: length, control bytes, UTF-8.

A version or package name reaches the lockfile from a host (``lock``, ``accept``), a command line
(``pin``) or a hand edit, and from there lands in apt preferences, Ansible YAML and CI logs. Text
that no package manager would produce is refused here, never repaired: a collector decodes
invalid UTF-8 from a host as ``\\xc3`` escapes or lone surrogates, and neither may pass as a
version. The caps are far above any real version or name (the longest in Debian and Fedora are
under 100 characters) and keep error messages and reports bounded.
"""

from __future__ import annotations

import re

MAX_VERSION_CHARS = 256
MAX_NAME_CHARS = 256
_SHOWN_CHARS = 60
# C0 controls, DEL, C1 controls (Unicode category Cc) and lone surrogates (undecodable bytes).
_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def shown(text: str) -> str:
    """``text`` quoted for a one-line message, cut to its start when it is long."""
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return f"{text[:_SHOWN_CHARS]!r}... ({len(text)} characters)"


def problem(text: str, limit: int) -> str | None:
    """Why ``text`` can be no version or package name of any ecosystem, or None."""
    if len(text) > limit:
        return f"longer than {limit} characters"
    bad = _BAD.search(text)
    if bad is None:
        return None
    ch = bad.group()
    if "\ud800" <= ch <= "\udfff":
        return "not valid UTF-8 (a byte the host sent could not be decoded)"
    return f"contains the control character U+{ord(ch):04X}"
