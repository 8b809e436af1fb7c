"""PEP 440 through packaging, and the ecosystem dispatch of the public API."""

from __future__ import annotations

import random

import pytest

from pinmgr.errors import VersionError
from pinmgr.model import Ecosystem
from pinmgr.versions import compare, scheme, sort_key, validate


def test_pep440_order() -> None:
    chain = [
        "1.0.dev0",
        "1.0a1",
        "1.0b1",
        "1.0rc1",
        "1.0",
        "1.0+local",
        "1.0.post1",
        "1.1",
        "1!0.1",
    ]
    assert (
        sorted(random.Random(7).sample(chain, len(chain)), key=lambda v: sort_key("pip", v))
        == chain
    )
    assert compare("pip", "1.0", "1.0.0") == 0
    assert compare(Ecosystem.PIP, "2.0", "10.0") < 0


@pytest.mark.parametrize("bad", ["", "not-a-version", "1..0", "1.0-foo"])
def test_pep440_invalid(bad: str) -> None:
    with pytest.raises(VersionError, match=r"invalid pip version .*: not a valid PEP 440 version"):
        validate("pip", bad)


def test_every_ecosystem_has_a_scheme() -> None:
    for eco in Ecosystem:
        s = scheme(eco)
        assert s.compare("1.0", "1.1") < 0
        assert scheme(eco.value) is s


def test_unknown_ecosystem() -> None:
    with pytest.raises(
        VersionError, match=r"unknown ecosystem 'apk' \(expected one of deb, rpm, pip, app\)"
    ):
        compare("apk", "1", "2")


def test_numbers_past_pythons_int_limit_are_the_documented_error() -> None:
    """packaging int()s every number; 4,301 digits would raise ValueError inside it."""
    assert compare("pip", "1." + "9" * 4300, "1." + "9" * 4299) == 1  # at the limit: compared
    for huge in ("1." + "9" * 4301, "9" * 5000, "1.0.post" + "1" * 5000, "1.0+" + "2" * 5000):
        with pytest.raises(VersionError, match=r"a number of more than 4300 digits$"):
            compare("pip", huge, "1.0")
        with pytest.raises(VersionError):
            sort_key("pip", huge)
        with pytest.raises(VersionError, match="longer than 256 characters"):
            validate("pip", huge)


@pytest.mark.parametrize("blank", [" 1.0", "1.0 ", "1.0\t", "1. 0"])
def test_validate_refuses_blanks_packaging_would_strip(blank: str) -> None:
    with pytest.raises(VersionError, match=r"invalid pip version "):
        validate("pip", blank)
