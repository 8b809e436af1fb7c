"""Python package versions (PEP 440), through ``packaging`` as pip itself orders them."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from pinmgr.errors import VersionError


def parse(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        raise VersionError(
            f"invalid pip version {version!r}: not a valid PEP 440 version"
        ) from None


def validate(version: str) -> None:
    parse(version)


def compare(a: str, b: str) -> int:
    x, y = parse(a), parse(b)
    return (x > y) - (x < y)


def key(version: str) -> Version:
    return parse(version)
