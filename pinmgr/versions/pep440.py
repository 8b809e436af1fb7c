"""Python package versions (PEP 440), through ``packaging`` as pip itself orders them.

``packaging`` turns every number of a version into an ``int``; Python refuses to read a number
of more than 4,300 digits that way (``sys.get_int_max_str_digits``), so such a version raises
VersionError here, the documented error, instead of a ValueError: pip cannot read it either, so
no host can have installed it.
"""

from __future__ import annotations

import re
import sys

from packaging.version import InvalidVersion, Version

from pinmgr.errors import VersionError
from pinmgr.versions.text import MAX_VERSION_CHARS, problem, shown

# Python 3.10 before 3.10.7 has no limit (and no function to ask for it).
_MAX_DIGITS: int = getattr(sys, "get_int_max_str_digits", lambda: 0)() or 4300
_LONG_NUMBER = re.compile(f"[0-9]{{{_MAX_DIGITS + 1}}}")
_SPACE = re.compile(r"\s")


def _fail(version: str, reason: str) -> VersionError:
    return VersionError(f"invalid pip version {shown(version)}: {reason}")


def parse(version: str) -> Version:
    """The version as packaging reads it (which ignores blanks around it and any case)."""
    if _LONG_NUMBER.search(version):
        raise _fail(version, f"a number of more than {_MAX_DIGITS} digits")
    try:
        return Version(version)
    except (InvalidVersion, ValueError):
        raise _fail(version, "not a valid PEP 440 version") from None


def validate(version: str) -> None:
    """Raise VersionError unless ``version`` is PEP 440, with no blanks or control characters."""
    reason = problem(version, MAX_VERSION_CHARS)
    if reason is None and _SPACE.search(version):
        reason = "contains whitespace"
    if reason is not None:
        raise _fail(version, reason)
    parse(version)


def compare(a: str, b: str) -> int:
    x, y = parse(a), parse(b)
    return (x > y) - (x < y)


def key(version: str) -> Version:
    return parse(version)
