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
        VersionError, match=r"unknown ecosystem 'apk' \(expected one of deb, rpm, pip\)"
    ):
        compare("apk", "1", "2")
