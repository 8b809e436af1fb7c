"""Pin text -> PinPolicy, and installed version -> OK / OLDER / NEWER, per ecosystem."""

from __future__ import annotations

import pytest

from pinmgr.errors import VersionError
from pinmgr.model import Direction, Ecosystem, PinPolicy, PolicyKind
from pinmgr.versions.policy import evaluate, parse_policy

OLDER, NEWER = Direction.OLDER, Direction.NEWER


@pytest.mark.parametrize(
    ("eco", "text", "kind"),
    [
        ("deb", "1.18.0-6ubuntu14.4", PolicyKind.EXACT),
        ("deb", " 1:2.0-1 ", PolicyKind.EXACT),
        ("deb", "1.18.0-6ubuntu14.*", PolicyKind.GLOB),
        ("deb", "1:*", PolicyKind.GLOB),
        ("deb", ">=1.24, <1.26", PolicyKind.RANGE),
        ("deb", "!=1.25-1", PolicyKind.RANGE),
        ("rpm", "2.28-225.el9_3", PolicyKind.EXACT),
        ("rpm", "2.28-225.el9*", PolicyKind.GLOB),
        ("rpm", ">=1:3.0.7-24.el9,<1:3.0.8", PolicyKind.RANGE),
        ("pip", "2.31.0", PolicyKind.EXACT),
        ("pip", "3.0.*", PolicyKind.GLOB),
        ("pip", "1.0rc*", PolicyKind.GLOB),
        ("pip", ">=1.24, <1.26", PolicyKind.RANGE),
        ("pip", "~=1.4.2", PolicyKind.RANGE),
        ("pip", "==1.0.*", PolicyKind.RANGE),
    ],
)
def test_parse_kinds(eco: str, text: str, kind: PolicyKind) -> None:
    assert parse_policy(eco, text) == PinPolicy(kind, text.strip())


@pytest.mark.parametrize(
    ("eco", "text", "message"),
    [
        ("deb", "", "empty deb pin"),
        ("deb", "1:", "invalid deb version '1:': nothing after colon in version number"),
        ("deb", "1.0-", "revision number is empty"),
        ("deb", "1 *", "invalid deb glob '1 \\*': .*embedded spaces"),
        ("deb", "=>1.0", "'=>1.0' must be an operator \\(>=, <=, >, <, ==, !=\\) followed by a"),
        ("deb", ">=1.0,", "invalid range '>=1.0,': empty clause"),
        ("deb", "<1.*", "'\\*' is not allowed in a deb bound"),
        ("deb", ">=1a:1", "epoch in version is not number"),
        ("rpm", "   ", "empty rpm pin"),
        ("rpm", ">=", "must be an operator"),
        ("pip", "1.0-foo", "invalid pip version '1.0-foo'"),
        ("pip", ">=1.0 <2", "is not a PEP 440 specifier"),
        ("pip", "==foo", "is not a PEP 440 specifier"),
        ("apk", "1.0", "unknown ecosystem 'apk'"),
    ],
)
def test_parse_errors(eco: str, text: str, message: str) -> None:
    with pytest.raises(VersionError, match=message):
        parse_policy(eco, text)


def _check(eco: str, pin: str, installed: str) -> Direction | None:
    return evaluate(eco, parse_policy(eco, pin), installed)


@pytest.mark.parametrize(
    ("eco", "pin", "installed", "expected"),
    [
        # exact: equal by the ecosystem's ordering, not by text
        ("deb", "1.18.0-6ubuntu14.4", "1.18.0-6ubuntu14.4", None),
        ("deb", "1.18.0-6ubuntu14.4", "1.18.0-6ubuntu14.3", OLDER),
        ("deb", "1.18.0-6ubuntu14.4", "1.18.0-6ubuntu14.10", NEWER),
        ("deb", "1.0", "0:1.0", None),
        ("deb", "2.36-9+deb12u4", "2.36-9+deb12u4~bpo11+1", OLDER),
        ("rpm", "2.28-225.el9_3", "2.28-225.el9_3", None),
        ("rpm", "2.28-225.el9_3", "2.28-225.el9", OLDER),
        ("rpm", "2.28", "2.28-1", NEWER),  # a missing release sorts below any release
        ("pip", "2.31.0", "2.31", None),
        ("pip", "2.31.0", "2.30.0", OLDER),
        ("pip", "2.31.0", "2.31.0.post1", NEWER),
        # glob: a match is fine; otherwise the order against the glob's literal prefix
        ("deb", "1.18.0-6ubuntu14.*", "1.18.0-6ubuntu14.4", None),
        ("deb", "1.18.0-6ubuntu14.*", "1.18.0-6ubuntu15", NEWER),
        ("deb", "1.18.0-6ubuntu14.*", "1.18.0-6ubuntu13.9", OLDER),
        ("deb", "1.18.0-6ubuntu14.*", "1.18.0-6ubuntu14", OLDER),
        ("deb", "1:*", "2:0.1", NEWER),
        ("deb", "1:*", "0.9", OLDER),
        ("rpm", "2.28-225.el9*", "2.28-225.el9_3", None),
        ("rpm", "2.28-225.el9*", "2.28-226.el9", NEWER),
        ("rpm", "2.28-225.el9*", "2.27-300.el9", OLDER),
        ("pip", "3.0.*", "3.0", None),  # PEP 440 prefix matching, not text
        ("pip", "3.0.*", "3.0.5", None),
        ("pip", "3.0.*", "3.1", NEWER),
        ("pip", "3.0.*", "2.9.9", OLDER),
        ("pip", "1.0rc*", "1.0rc1", None),  # not a PEP 440 prefix: matched as text
        ("pip", "1.0rc*", "1.0", NEWER),
        ("pip", "1.0rc*", "1.0b3", OLDER),
        ("deb", "1.2*", "1.10", NEWER),  # above the prefix 1.2 (though below 1.20, a match)
        ("deb", "1.2*", "1.1.9", OLDER),
        # range: each bound with the ecosystem's own ordering
        ("deb", ">=1.24, <1.26", "1.25.3-1", None),
        ("deb", ">=1.24, <1.26", "1.23.9", OLDER),
        ("deb", ">=1.24, <1.26", "1.26", NEWER),
        ("deb", ">=1.24, <1.26", "1.26~rc1", None),  # dpkg: 1.26~rc1 < 1.26
        ("deb", "<2.0", "1:1.0", NEWER),  # the epoch wins
        ("deb", ">1.0, <=1.2", "1.0", OLDER),
        ("deb", ">1.0, <=1.2", "1.2-0", None),  # dpkg: 1.2-0 == 1.2
        ("deb", "==1.0-1", "1.0-2", NEWER),
        ("deb", "!=1.25-1", "1.25-1", NEWER),
        ("deb", ">=1.24, !=1.25-1", "1.23", OLDER),  # a bound beats '!=' when both fail
        ("rpm", ">=1.0^git1, <1.0.1", "1.0^git5", None),
        ("rpm", ">=1.0^git1, <1.0.1", "1.0", OLDER),
        ("rpm", ">=1.0^git1, <1.0.1", "1.0.1", NEWER),
        ("rpm", ">=1:3.0.7-24.el9,<1:3.0.8", "1:3.0.7-25.el9_3", None),
        ("rpm", ">=1:3.0.7-24.el9,<1:3.0.8", "3.0.7-25.el9_3", OLDER),
        ("pip", ">=1.24, <1.26", "1.25.1", None),
        ("pip", ">=1.24, <1.26", "1.23", OLDER),
        ("pip", ">=1.24, <1.26", "1.26.0", NEWER),
        ("pip", ">=1.24, <1.26", "1.26.0rc1", NEWER),  # PEP 440: <1.26 excludes 1.26 pre-releases
        ("pip", ">=1.24, <1.26", "1.25.0rc1", None),  # an installed pre-release is still judged
        ("pip", "~=1.4.2", "1.4.5", None),
        ("pip", "~=1.4.2", "1.4.1", OLDER),
        ("pip", "~=1.4.2", "1.5.0", NEWER),
        ("pip", "==1.0.*", "1.0.3", None),
        ("pip", "==1.0.*", "1.1", NEWER),
        ("pip", "==1.0.*", "0.9", OLDER),
        ("pip", "!=2.0", "2.0.0", NEWER),
    ],
)
def test_evaluate(eco: str, pin: str, installed: str, expected: Direction | None) -> None:
    assert _check(eco, pin, installed) is expected


def test_every_kind_on_every_ecosystem_can_pass_and_fail() -> None:
    pins = {PolicyKind.EXACT: "1.2", PolicyKind.GLOB: "1.2*", PolicyKind.RANGE: ">=1.2, <1.3"}
    for eco in Ecosystem:
        for kind, text in pins.items():
            policy = parse_policy(eco, text)
            assert policy.kind is kind
            assert evaluate(eco, policy, "1.2") is None
            assert evaluate(eco, policy, "1.1") is OLDER
            assert evaluate(eco, policy, "1.4") is NEWER


def test_invalid_installed_version_raises() -> None:
    with pytest.raises(
        VersionError,
        match=r"^installed version '1:' is not a valid deb version: nothing after colon in version",
    ):
        evaluate("deb", parse_policy("deb", "1.0"), "1:")


@pytest.mark.parametrize(
    ("pin", "installed", "expected"),
    [
        ("===foo", "foo", None),  # not PEP 440 at all: a plain string match
        ("===foo", "FOO", None),  # case-insensitive, as packaging compares it
        ("===foo", "foo2", NEWER),
        ("===1.0", "1.0", None),
        ("===1.0", "1.0.0", NEWER),  # no normalisation: a different string
        ("===1.0", "bar", NEWER),
    ],
)
def test_arbitrary_equality_compares_plain_strings(
    pin: str, installed: str, expected: Direction | None
) -> None:
    assert evaluate("pip", parse_policy("pip", pin), installed) is expected


@pytest.mark.parametrize("pin", ["1.0", "==1.0", ">=1.0", "1.*", "~=1.0", "===1.0, >=1.0"])
def test_non_pep440_installed_version_names_itself(pin: str) -> None:
    with pytest.raises(VersionError) as info:
        evaluate("pip", parse_policy("pip", pin), "foo")
    assert info.value.message == "installed version 'foo' is not PEP 440"


@pytest.mark.parametrize(
    ("eco", "installed", "says"),
    [
        ("deb", "5.2\\xc3(-1", "invalid character in version number"),
        ("deb", "5.2.15-2\x1b[0m", "contains the control character U+001B"),
        ("rpm", "1.0 beta-1", "' ' is not allowed"),
        ("deb", "1." + "0" * 5000, "longer than 256 characters"),
        ("pip", "1." + "0" * 5000, "(longer than 256 characters)"),
    ],
)
def test_installed_version_is_checked_before_it_is_compared(
    eco: str, installed: str, says: str
) -> None:
    pin = {"deb": "5.2.15-2", "rpm": "1.0-1", "pip": "1.0"}[eco]
    with pytest.raises(VersionError, match=r"^installed version ") as info:
        evaluate(eco, parse_policy(eco, pin), installed)
    assert says in info.value.message and len(info.value.message) < 200


@pytest.mark.parametrize("text", ["1.0\n", "1.0\x1b", ">=1.0,\x07<2", "1" * 257])
def test_pin_text_with_control_characters_or_over_the_cap_is_refused(text: str) -> None:
    with pytest.raises(VersionError, match=r"^invalid deb pin "):
        parse_policy("deb", text)
