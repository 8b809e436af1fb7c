"""Version ordering per ecosystem: one module each (deb, rpm, pep440) behind ``VersionScheme``.

Callers name the ecosystem and never the module, so the diff layer compares an installed
version with a pin the way the host's own package manager would.
"""

from __future__ import annotations

from pinmgr.errors import VersionError
from pinmgr.model import Ecosystem, assert_never
from pinmgr.versions import deb, pep440, revision, rpm
from pinmgr.versions.base import SortKey, VersionScheme

__all__ = [
    "SortKey",
    "VersionScheme",
    "compare",
    "ecosystem_of",
    "scheme",
    "sort_key",
    "validate",
]


def ecosystem_of(ecosystem: Ecosystem | str) -> Ecosystem:
    """Accept an Ecosystem or its name ("deb", "rpm", "pip")."""
    try:
        return Ecosystem(ecosystem)
    except ValueError:
        names = ", ".join(e.value for e in Ecosystem)
        raise VersionError(f"unknown ecosystem {ecosystem!r} (expected one of {names})") from None


def scheme(ecosystem: Ecosystem | str) -> VersionScheme:
    """The version rules of one ecosystem."""
    eco = ecosystem_of(ecosystem)
    match eco:
        case Ecosystem.DEB:
            return deb
        case Ecosystem.RPM:
            return rpm
        case Ecosystem.PIP:
            return pep440
        case Ecosystem.APP:
            return revision
        case _:
            return assert_never(eco)


def validate(ecosystem: Ecosystem | str, version: str) -> None:
    """Raise VersionError unless ``version`` may be written into a lockfile.

    The one authority for the loader, ``pin``, ``lock``, ``accept`` and the emitters: the
    ecosystem's syntax as its build tools enforce it (dpkg's warnings and rpmbuild's rules are
    errors here), no control characters or undecodable bytes, at most 256 characters.
    ``compare`` and ``sort_key`` are more lenient: they take what dpkg / librpm compare.
    """
    scheme(ecosystem).validate(version)


def compare(ecosystem: Ecosystem | str, a: str, b: str) -> int:
    """Negative, zero or positive as ``a`` is older than, equal to or newer than ``b``."""
    return scheme(ecosystem).compare(a, b)


def sort_key(ecosystem: Ecosystem | str, version: str) -> SortKey:
    """A key for ``sorted``; ``sorted(vs, key=lambda v: sort_key("deb", v))``."""
    return scheme(ecosystem).key(version)
