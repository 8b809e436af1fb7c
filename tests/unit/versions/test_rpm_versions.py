"""Hand-picked rpm cases: rpm's own rpmvercmp test suite plus EVR rules and real EL shapes.

Every expected value here was checked with librpm's ``rpm.vercmp``.
"""

from __future__ import annotations

import random
import re

import pytest

from pinmgr.errors import VersionError
from pinmgr.versions import compare, rpm, sort_key, validate


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("2.0.1a", "2.0.1", 1),
        ("5.5p1", "5.5p10", -1),
        ("10xyz", "10.1xyz", -1),
        ("xyz10", "xyz10.1", -1),
        ("xyz.4", "8", -1),
        ("xyz.4", "2", -1),
        ("5.6p1", "6.5p1", -1),
        ("6.0.rc1", "6.0", 1),
        ("10b2", "10a1", 1),
        ("1.0a", "1.0aa", -1),
        ("10.0001", "10.1", 0),
        ("10.0001", "10.0039", -1),
        ("4.999.9", "5.0", -1),
        ("20101121", "20101122", -1),
        ("2_0", "2.0", 0),
        ("a+", "a_", 0),
        ("+a", "_a", 0),
        ("_+", "_", 0),
        ("+", "_", 0),
        ("1.0~rc1", "1.0", -1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc1~git123", "1.0~rc1", -1),
        ("1.0^", "1.0", 1),
        ("1.0^git1", "1.0", 1),
        ("1.0^git1", "1.0^git2", -1),
        ("1.0^git1", "1.01", -1),
        ("1.0^20160101", "1.0.1", -1),
        ("1.0^20160102", "1.0^20160101^git1", 1),
        ("1.0~rc1^git1", "1.0~rc1", 1),
        ("1.0^git1", "1.0^git1~pre", 1),
    ],
)
def test_rpmvercmp_suite(a: str, b: str, expected: int) -> None:
    assert rpm.vercmp(a.encode(), b.encode()) == expected
    assert rpm.vercmp(b.encode(), a.encode()) == -expected
    assert compare("rpm", a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0-1", -1),  # a missing release sorts below any release
        ("1.0-", "1.0", 1),  # ...even an empty one
        ("1:1.0", "2.0", 1),
        ("0:1.0", "1.0", 0),  # a missing epoch is 0
        ("01:1.0", "1:1.0", 0),
        (":1.0", "0:1.0", 0),  # an empty epoch is 0 too
        ("+1:2", "2", -1),  # '+1' is no epoch: the version is '+1:2', i.e. segments 1 and 2
        ("18446744073709551616:1", "18446744073709551615:9", 1),  # epochs beyond 64 bits
        ("1.0.", "1.0", 0),  # a trailing separator weighs nothing
        ("1.0é", "1.0", 0),  # non-ASCII bytes are separators
        ("2.28-225.el9_3", "2.28-225.el9", 1),
        ("1:3.0.7-25.el9_3", "1:3.0.7-24.el9", 1),
        ("4.18.0-513.24.1.el8_9", "4.18.0-513.9.1.el8_9", 1),
        ("1.3.38-1.amzn2023.0.4", "1.3.38-1.amzn2.0.5", 1),
        ("6.5.6-300.fc39", "6.5.6-300.fc39", 0),
        ("1.0-1.el9", "1.0-1.el9~", 1),
    ],
)
def test_evr(a: str, b: str, expected: int) -> None:
    assert rpm.compare(a, b) == expected
    assert rpm.compare(b, a) == -expected


def test_sort_key() -> None:
    chain = ["1.0~rc1", "1.0", "1.0^git1", "1.0.1", "1.0.1-1", "1:0.1"]
    assert (
        sorted(random.Random(7).sample(chain, len(chain)), key=lambda v: sort_key("rpm", v))
        == chain
    )
    assert rpm.key("1.0") == rpm.key("1.0.")


def test_librpm_compares_what_rpmbuild_would_refuse() -> None:
    """rpm.vercmp orders any non-empty string; only "" (and NUL) cannot even be compared."""
    with pytest.raises(VersionError, match="invalid rpm version '': version string is empty"):
        validate("rpm", "")
    with pytest.raises(VersionError, match="version string is empty"):
        compare("rpm", "", "1")
    validate("rpm", "~")  # rpmbuild takes "Version: ~" and "Version: ^" (checked with rpmspec)
    validate("rpm", "^")
    for odd in ("-", ":", "é", "1 0"):
        assert compare("rpm", odd, odd) == 0
        with pytest.raises(VersionError, match=re.escape(f"invalid rpm version {odd!r}: ")):
            validate("rpm", odd)


def test_numbers_past_pythons_int_limit_compare_by_digits() -> None:
    big = "9" * 5000
    assert compare("rpm", f"{big}:1.0-1", f"{big[1:]}:2.0-1") == 1  # epochs of any length
    assert compare("rpm", f"000{big}:1.0-1", f"{big}:1.0-1") == 0
    assert compare("rpm", f"1.{big}-1", f"1.{big[:-1]}8-1") == 1
    with pytest.raises(VersionError, match="longer than 256 characters"):
        validate("rpm", f"1.{big}-1")


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("1.0-1", True),
        ("1:1.0-1.el9", True),
        ("1.0", True),
        ("4294967295:1-1", True),
        ("4294967296:1-1", False),
        ("00000000004294967295:1-1", True),  # leading zeros: still the same number
        ("1.0 beta-1", False),
        ("1..0-1", False),
        ("1.0-1..el9", False),
        ("1.0%{?dist}-1", False),
        ("1.0-1-2", False),
        (":1.0-1", False),
        ("1.0-", False),
    ],
)
def test_validate_takes_what_rpmbuild_takes(version: str, ok: bool) -> None:
    if ok:
        validate("rpm", version)
    else:
        with pytest.raises(VersionError, match=re.escape(f"invalid rpm version {version!r}: ")):
            validate("rpm", version)
