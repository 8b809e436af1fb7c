"""lockfile.load / check_text: the model built from TOML, and every problem with its location."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pinmgr.errors import LockfileError
from pinmgr.lockfile import check_text, load, loads
from pinmgr.model import SHARED_ROLE, Ecosystem, Location, PolicyKind

DATA = Path(__file__).resolve().parents[2] / "data" / "lockfiles"


def _where(problems: list[LockfileError]) -> list[tuple[int, int, str]]:
    out = []
    for p in problems:
        assert p.location is not None
        out.append((p.location.line, p.location.col, p.message))
    return out


def test_valid_file_builds_the_model() -> None:
    path = DATA / "valid.toml"
    lf = load(path)
    assert lf.schema == 1
    assert lf.path == str(path)
    assert lf.roles == ("app", "db")
    assert ("db", "debian-12") in lf.releases
    assert lf.releases_for("db") == ("debian-12",)
    assert lf.releases_for("app") == ("debian-12", "rocky-9", "ubuntu-22.04")
    by_key = {(p.role, p.os_release, p.ecosystem, p.package): p for p in lf.pins}
    nginx = by_key[("app", "debian-12", Ecosystem.DEB, "nginx")]
    assert nginx.policy.kind is PolicyKind.EXACT and nginx.spec == "1.22.1-9"
    assert nginx.location == Location(str(path), 9, 9)
    assert by_key[("app", "debian-12", Ecosystem.DEB, "openssl")].policy.kind is PolicyKind.GLOB
    requests = by_key[("app", "debian-12", Ecosystem.PIP, "requests")]
    assert requests.policy.kind is PolicyKind.RANGE
    assert requests.location == Location(str(path), 13, 12)
    assert by_key[("app", "debian-12", Ecosystem.DEB, "libssl3:i386")].location == Location(
        str(path), 11, 18
    )
    assert by_key[("app", "rocky-9", Ecosystem.RPM, "nginx")].spec == "1:1.20.1-14.el9_2.1"
    shared = by_key[(SHARED_ROLE, "debian-12", Ecosystem.DEB, "ca-certificates")]
    assert shared.location == Location(str(path), 5, 19)
    # The role's openssl overrides the shared one; shared ca-certificates still applies.
    chosen = {p.package: p for p in lf.pins_for("app", "debian-12")}
    assert chosen["openssl"].spec == "3.0.*"
    assert chosen["ca-certificates"].role == SHARED_ROLE
    assert {p.package for p in lf.pins_for("db", "debian-12")} == {"ca-certificates", "openssl"}


def test_waivers() -> None:
    lf = load(DATA / "valid.toml")
    first, second = lf.waivers
    assert first.package == "nginx"
    assert first.ecosystem is Ecosystem.DEB
    assert (first.role, first.env, first.host) == ("app", "production", None)
    assert first.reason == "CVE fix rolled early, see OPS-123"
    assert first.expires == dt.date(2026, 12, 31)
    assert type(first.expires) is dt.date
    assert first.location is not None and first.location.line == 20
    # Expired waivers still load: showing them as expired is the diff's job, not the loader's.
    assert second.host == "web-1" and second.ecosystem is None
    assert second.expires == dt.date(2025, 1, 31)


def test_three_mistakes_all_reported_with_line_and_column() -> None:
    path = DATA / "three_mistakes.toml"
    with pytest.raises(LockfileError) as info:
        load(path)
    problems = list(info.value.problems)
    assert _where(problems) == [
        (5, 9, "version of nginx must be a string (quoted), got float"),
        (8, 24, "unknown ecosystem 'apt' (expected one of deb, rpm, pip)"),
        (12, 8, problems[2].message),
    ]
    assert problems[2].message.startswith("bash: invalid deb version '5.1 beta'")
    # The one-line message lists every problem as file:line:col, for CLIs that print only it.
    text = str(info.value)
    assert text.startswith(f"3 problems in {path}:")
    for line, col in ((5, 9), (8, 24), (12, 8)):
        assert f"{path}:{line}:{col}: " in text


def test_many_mistakes() -> None:
    text = (DATA / "many_mistakes.toml").read_text()
    found = _where(check_text(text, "m.toml"))
    expected = [
        (1, 10, "unsupported schema 2"),
        (2, 1, "unknown top-level key 'role'"),
        (2, 1, "did you mean 'roles'?"),
        (4, 9, "'debian12' is not an OS release key"),
        (7, 8, "role name 'app server'"),
        (11, 1, "'nginx' is directly under [roles.app.\"debian-12\"]"),
        (14, 1, "'Bad_Name' is not a valid deb package name"),
        (15, 11, "version of openssl must be a string (quoted), got array"),
        (19, 1, "duplicate pin: 'requests' and 'Requests'"),
        (21, 1, "waiver #1: missing 'reason'"),
        (23, 11, "waiver #1: expires must be a TOML date"),
        (29, 11, "got date-time"),
        (30, 1, "waiver #2: unknown key 'colour'"),
        (34, 8, "role 'ap' is not a role of this lockfile; did you mean 'app'?"),
    ]
    for line, col, fragment in expected:
        assert any((line, col) == (fl, fc) and fragment in message for fl, fc, message in found), (
            line,
            col,
            fragment,
            found,
        )
    assert len(found) == len(expected) - 1  # two fragments of one message


def test_malformed_toml_message_has_position() -> None:
    path = DATA / "malformed.toml"
    with pytest.raises(LockfileError) as info:
        load(path)
    assert str(info.value) == (
        f"{path}:4:18: invalid TOML: string not closed before the end of the line (missing quote?)"
    )
    assert info.value.problems == (info.value,)


@pytest.mark.parametrize(
    ("text", "line", "col", "fragment"),
    [
        ("schema = 1\n[roles.app\n", 2, 11, "Unexpected character"),
        ("schema = 1\nx = [1,\n", 3, 1, "unexpected end of file"),
        ("schema = 1\n[a]\nb = 1\n[a]\n", 4, 1, 'Key "a" already exists'),
        (
            'schema = 1\n[roles.app."debian-12".deb]\nnginx = "1"\nnginx = "2"\n',
            4,
            1,
            'roles.app."debian-12".deb.nginx is set twice',
        ),
    ],
)
def test_syntax_errors(text: str, line: int, col: int, fragment: str) -> None:
    (problem,) = check_text(text, "f.toml")
    assert problem.location == Location("f.toml", line, col)
    assert fragment in problem.message


def test_missing_schema_and_wrong_types() -> None:
    assert _where(check_text("", "f")) == [
        (1, 1, "missing 'schema = 1' at the top of the lockfile")
    ]
    found = _where(check_text('schema = "1"\nroles = 3\nwaivers = {a = 1}\n', "f"))
    assert [(line, col) for line, col, _ in found] == [(1, 10), (2, 9), (3, 11)]
    assert "roles must be a table" in found[1][2]
    assert "waivers must be an array of tables" in found[2][2]


def test_duplicate_waiver_and_inline_waivers() -> None:
    text = (
        "schema = 1\n"
        "waivers = [\n"
        '  { package = "a", reason = "r", expires = 2030-01-01 },\n'
        '  { package = "a", reason = "again", expires = 2031-01-01 },\n'
        '  { package = "b", reason = "", expires = 2031-01-01, ecosystem = "apk" },\n'
        "]\n"
    )
    found = _where(check_text(text, "f"))
    assert found[0][:2] == (4, 3) and "duplicate waiver for a" in found[0][2]
    assert found[1][:2] == (5, 29) and "reason must be a non-empty string" in found[1][2]
    assert found[2][:2] == (5, 67) and "unknown ecosystem 'apk'" in found[2][2]
    assert len(found) == 3


def test_os_release_and_package_shapes() -> None:
    text = (
        "schema = 1\n"
        '[roles.app."Debian-12".deb]\n'
        '[roles.app."debian-bookworm".deb]\n'
        '[roles.app."opensuse-leap-15.5".rpm]\n'
        'python3-libs = "3.9.18-3.el9"\n'
        '[roles.app."rocky-9".pip]\n'
        '"-bad" = "1.0"\n'
    )
    found = _where(check_text(text, "f"))
    assert [(line, col) for line, col, _ in found] == [(2, 12), (3, 12), (7, 1)]
    assert "expected lowercase ID-VERSION_ID" in found[0][2]
    assert "not a valid pip package name" in found[2][2]


def test_check_text_valid_is_empty_and_loads_matches() -> None:
    text = (DATA / "valid.toml").read_text()
    assert check_text(text, "v.toml") == []
    assert len(loads(text, "v.toml").pins) == 8


def test_unreadable_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(LockfileError, match="cannot read lockfile"):
        load(tmp_path / "absent.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"schema = 1\n# caf\xe9\n")
    with pytest.raises(LockfileError) as info:
        load(bad)
    assert info.value.location == Location(str(bad), 2, 6)
    assert "not valid UTF-8" in info.value.message


def test_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbfschema = 1\n[roles.app."debian-12".deb]\nnginx = "1.22.1-9"\n')
    (pin,) = load(path).pins
    assert pin.location == Location(str(path), 3, 9)
