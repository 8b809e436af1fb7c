"""Hand-picked deb cases: Debian policy examples, dpkg's own tests, real Debian/Ubuntu shapes.

Every expected value here was checked with ``dpkg --compare-versions``; the oracle tests cover
thousands more generated pairs.
"""

from __future__ import annotations

import random

import pytest

from pinmgr.errors import VersionError
from pinmgr.versions import compare, deb, sort_key, validate


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("0:1.0", "1.0", 0),
        ("1:1.0", "2.0", 1),
        ("1.0~rc1", "1.0", -1),
        ("1.0~~", "1.0~", -1),
        ("1.0~~a", "1.0~", -1),
        ("1.0~", "1.0", -1),
        ("1.0", "1.0a", -1),
        ("1.0", "1.0-1", -1),
        ("1.0", "1.0-0", 0),
        ("1.0", "1.0.0", -1),
        ("1.0+b1", "1.0", 1),
        ("1.0-1+deb12u1", "1.0-1", 1),
        ("2.0~bpo12+1", "2.0", -1),
        ("1.0-1~bpo12+1", "1.0-1", -1),
        ("1.18.0-6ubuntu14.4", "1.18.0-6ubuntu14", 1),
        ("1.18.0-6ubuntu14.4", "1.18.0-6ubuntu14.10", -1),
        ("1.0", "1.0-0~", 1),  # a zero part followed by '~': "" reads as 0, then end > '~'
        ("1:0", "1:0~1", 1),
        ("0", "0~", 1),
        ("1.0-0", "1.0-0~", 1),
        ("1.0-00~", "1.0-0~", 0),
        ("0~", "~", 1),
        ("1.0-0~~", "1.0-0~", -1),
        ("1.001", "1.1", 0),
        ("1.0", "1.00", 0),
        ("1.99999999999999999999999", "1.99999999999999999999998", 1),
        ("1.0+", "1.0a", 1),
        ("1.0.", "1.0+", 1),
        ("1.0a", "1.0A", 1),
        ("1.0-a-b", "1.0-a", 1),
        ("2:1.0", "10:0.1", -1),
        ("1.2.3-1ubuntu0.22.04.1", "1.2.3-1ubuntu1", -1),
        ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1),
        ("0.0~git20230101.abc123-1", "0.0-1", -1),
        ("1.0a", "1.0é", -1),  # a byte >= 0x80 sorts after letters...
        ("1.0é", "1.0.", -1),  # ...and before ASCII symbols (dpkg compares signed chars)
    ],
)
def test_compare(a: str, b: str, expected: int) -> None:
    assert deb.compare(a, b) == expected
    assert deb.compare(b, a) == -expected
    assert compare("deb", a, b) == expected


def test_policy_tilde_chain_sorts_like_debian_policy() -> None:
    """Debian policy 5.6.12: ``~~`` < ``~~a`` < ``~`` < (nothing) < ``a``."""
    chain = ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]
    assert (
        sorted(random.Random(7).sample(chain, len(chain)), key=lambda v: sort_key("deb", v))
        == chain
    )


def test_equal_versions_have_equal_keys() -> None:
    assert deb.key("0:1.0-0") == deb.key("1.0") == deb.key("1.00")
    assert deb.key("1.0") != deb.key("1.0.0")


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("   ", "version string is empty"),
        ("1 0", "version string has embedded spaces"),
        (":1", "epoch in version is empty"),
        ("a:1", "epoch in version is empty"),
        ("1a:1", "epoch in version is not number"),
        ("1.0-1:2", "epoch in version is not number"),
        ("-1:1", "epoch in version is negative"),
        ("2147483648:1", "epoch in version is too big"),
        ("99999999999999999999:1", "epoch in version is too big"),
        ("1:", "nothing after colon in version number"),
        ("1: ", "version number is empty"),
        ("1.0-", "revision number is empty"),
        ("-1", "version number is empty"),
        ("1:-1", "version number is empty"),
    ],
)
def test_rejects_what_dpkg_rejects(version: str, reason: str) -> None:
    with pytest.raises(VersionError) as info:
        validate("deb", version)
    assert str(info.value) == f"invalid deb version {version!r}: {reason}"


@pytest.mark.parametrize(
    ("version", "warning"),
    [
        ("1.0-1", None),
        (" 1.0 ", None),  # dpkg trims blanks around the version
        ("+1:1.0", None),  # strtol reads '+1' as epoch 1
        ("-0:1.0", None),  # ...and '-0' as epoch 0, which is not negative
        ("2147483647:1", None),
        ("1:1:1", None),  # later colons belong to the upstream part
        ("1.0-a-b", None),  # the revision starts after the last hyphen
        ("a1.0", "version number does not start with digit"),
        ("1.0_1", "invalid character in version number"),
        ("1.0é", "invalid character in version number"),
        ("1.0-1_2", "invalid character in revision number"),
    ],
)
def test_compares_what_dpkg_only_warns_about(version: str, warning: str | None) -> None:
    """dpkg --compare-versions accepts these (with a warning); a lockfile may not hold them."""
    deb.parse(version)
    assert deb.compare(version, version) == 0
    assert deb.lint(version) == warning
    if warning is None and version == version.strip():
        validate("deb", version)
    else:
        with pytest.raises(VersionError, match=warning or "blanks around the version"):
            validate("deb", version)


def test_epoch_forms_parse_like_strtol() -> None:
    assert deb.parse("+1:2.0") == deb.DebVersion(1, b"2.0", b"")
    assert deb.parse("-0:2.0-1") == deb.DebVersion(0, b"2.0", b"1")
    assert deb.compare("+1:1.0", "1:1.0") == 0


def test_empty_is_rejected_although_dpkg_reads_it_as_no_version() -> None:
    """``dpkg --compare-versions '' lt 1`` succeeds ("no version"); a pin must be a version."""
    with pytest.raises(VersionError, match="version string is empty"):
        validate("deb", "")


def test_digit_runs_beyond_pythons_int_limit_compare_by_digits() -> None:
    """5,000-digit runs (Python refuses int() above 4,300): no ValueError, dpkg's order."""
    big = "9" * 5000
    assert compare("deb", f"1.{big}", f"1.{big[:-1]}8") == 1
    assert compare("deb", f"1.{big}", f"1.000{big}") == 0
    assert compare("deb", f"1.{big}-1", f"1.1{big}-1") == -1
    assert sort_key("deb", f"1:{big}") > sort_key("deb", f"1:{big[1:]}")
    with pytest.raises(VersionError, match="epoch in version is too big"):
        compare("deb", f"{big}:1", "1")
    with pytest.raises(VersionError, match=r"\(5002 characters\): longer than 256 characters"):
        validate("deb", f"1.{big}")
