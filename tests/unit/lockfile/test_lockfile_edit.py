"""lockfile.edit / save: each edit changes only the lines it must (checked with difflib)."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable
from pathlib import Path

import pytest
from tomlkit.toml_document import TOMLDocument

from pinmgr.errors import LockfileError, UsageError, VersionError, WriteError
from pinmgr.lockfile import (
    add_waiver,
    check_text,
    dumps,
    load,
    loads,
    parse,
    read_document,
    remove_pin,
    save,
    set_pin,
)
from pinmgr.model import SHARED_ROLE, Ecosystem, Location, Waiver

DATA = Path(__file__).resolve().parents[2] / "data" / "lockfiles"
ODD = (DATA / "odd_formatting.toml").read_text()
DEB, PIP, RPM = Ecosystem.DEB, Ecosystem.PIP, Ecosystem.RPM


def _changes(before: str, after: str) -> list[str]:
    """The line diff with hunk headers (positions) and no context."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if not line.startswith(("---", "+++"))]


def _edit(text: str, edit: Callable[[TOMLDocument], bool | None]) -> tuple[str, bool | None]:
    doc = parse(text)
    result = edit(doc)
    out = dumps(doc)
    assert check_text(out) == [], out
    return out, result


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.toml")))
def test_untouched_document_round_trips_byte_for_byte(name: str) -> None:
    text = (DATA / name).read_text()
    if name == "malformed.toml":
        with pytest.raises(LockfileError, match=r":4:18: invalid TOML"):
            parse(text, name)
        return
    assert dumps(parse(text)) == text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Changing a value keeps literal quoting, padding, tab indent and the trailing comment.
        (
            ("app", "debian-12", DEB, "nginx", "1.22.1-9+deb12u1"),
            [
                "@@ -11 +11 @@",
                "-\tnginx   = '1.22.1-9'    # literal quoting kept",
                "+\tnginx   = '1.22.1-9+deb12u1'    # literal quoting kept",
            ],
        ),
        (
            ("app", "debian-12", DEB, "bash", "5.2.15-2+b8"),
            [
                "@@ -10 +10 @@",
                '-\tbash    = "5.2.15-2+b2"\t# tab-indented, padded',
                '+\tbash    = "5.2.15-2+b8"\t# tab-indented, padded',
            ],
        ),
        # New keys go in sorted position with the table's indent: first, middle, last.
        (("app", "debian-12", DEB, "aaa", "1.0"), ["@@ -9,0 +10 @@", '+\taaa = "1.0"']),
        (("app", "debian-12", DEB, "curl", "7.88.1"), ["@@ -10,0 +11 @@", '+\tcurl = "7.88.1"']),
        (("app", "debian-12", DEB, "zzz", "1.0"), ["@@ -12,0 +13 @@", '+\tzzz = "1.0"']),
        (
            ("app", "debian-12", DEB, "libssl3:i386", "3.0.*"),
            ["@@ -10,0 +11 @@", '+\t"libssl3:i386" = "3.0.*"'],
        ),
        (
            (SHARED_ROLE, "debian-12", DEB, "ca-certificates", "20230311"),
            ["@@ -5,0 +6 @@", '+    ca-certificates = "20230311"'],
        ),
        (("app", "debian-12", PIP, "flask", "3.0.0"), ["@@ -16,0 +17 @@", '+flask = "3.0.0"']),
        (
            ("app", "debian-12", PIP, "zope.interface", "6.*"),
            ["@@ -17,0 +18 @@", '+"zope.interface" = "6.*"'],
        ),
        # New tables: sorted among their siblings, canonical header, blank line kept after.
        (
            ("app", "debian-12", RPM, "bash", "5.1.8-9.el9"),
            ["@@ -19,0 +20,3 @@", '+[roles.app."debian-12".rpm]', '+bash = "5.1.8-9.el9"', "+"],
        ),
        (
            ("app", "rocky-9", RPM, "nginx", "1:1.20.1-14.el9_2.1"),
            [
                "@@ -19,0 +20,3 @@",
                '+[roles.app."rocky-9".rpm]',
                '+nginx = "1:1.20.1-14.el9_2.1"',
                "+",
            ],
        ),
        (
            ("app", "debian-11", DEB, "nginx", "1.18.0-6.1+deb11u3"),
            [
                "@@ -7,0 +8,3 @@",
                "+",
                '+[roles.app."debian-11".deb]',
                '+nginx = "1.18.0-6.1+deb11u3"',
            ],
        ),
        (
            (SHARED_ROLE, "ubuntu-22.04", DEB, "ca-certificates", "20230311ubuntu0.22.04.1"),
            [
                "@@ -7,0 +8,3 @@",
                "+",
                '+[shared."ubuntu-22.04".deb]',
                '+ca-certificates = "20230311ubuntu0.22.04.1"',
            ],
        ),
        # A new role between app and db: the comment right above [roles.db...] stays there.
        (
            ("cache", "debian-12", DEB, "redis-server", "5:7.0.15-1~deb12u1"),
            [
                "@@ -22,0 +23,3 @@",
                '+[roles.cache."debian-12".deb]',
                '+redis-server = "5:7.0.15-1~deb12u1"',
                "+",
            ],
        ),
        # A declared release with no pins gets its first ecosystem table after its header.
        (
            ("db", "debian-12", DEB, "postgresql-15", "15.*"),
            [
                "@@ -26,0 +27,3 @@",
                '+[roles.db."debian-12".deb]',
                '+postgresql-15 = "15.*"',
                "+",
            ],
        ),
    ],
)
def test_set_pin_changes_only_its_lines(
    args: tuple[str, str, Ecosystem, str, str], expected: list[str]
) -> None:
    out, changed = _edit(ODD, lambda doc: set_pin(doc, *args))
    assert changed is True
    assert _changes(ODD, out) == expected
    role, release, ecosystem, package, version = args
    pins = {(p.role, p.os_release, p.ecosystem, p.package): p.spec for p in loads(out).pins}
    assert pins[(role, release, ecosystem, package)] == version


def test_set_pin_same_value_is_a_no_op() -> None:
    out, changed = _edit(
        ODD, lambda doc: set_pin(doc, "app", "debian-12", DEB, "nginx", "1.22.1-9")
    )
    assert changed is False
    assert out == ODD


def test_remove_pin() -> None:
    out, removed = _edit(ODD, lambda doc: remove_pin(doc, "app", "debian-12", DEB, "nginx"))
    assert removed is True
    assert _changes(ODD, out) == [
        "@@ -11 +10,0 @@",
        "-\tnginx   = '1.22.1-9'    # literal quoting kept",
    ]
    # The last pin of a table: the table stays, so the release stays declared.
    out, removed = _edit(ODD, lambda doc: remove_pin(doc, "app", "debian-12", PIP, "requests"))
    assert removed is True
    assert _changes(ODD, out) == ["@@ -17 +16,0 @@", '-requests = ">=2.28, <3"']
    assert ("app", "debian-12") in loads(out).releases
    for args in [
        ("app", "debian-12", DEB, "absent"),
        ("app", "rocky-9", RPM, "nginx"),
        ("nobody", "debian-12", DEB, "nginx"),
        (SHARED_ROLE, "debian-12", PIP, "x"),
    ]:
        out, removed = _edit(ODD, lambda doc, a=args: remove_pin(doc, *a))
        assert removed is False
        assert out == ODD


def test_out_of_order_tables_are_edited_in_the_right_piece() -> None:
    text = (
        "schema = 1\n"
        '[roles.app."debian-12".deb]\n'
        'nginx = "1"\n'
        "\n"
        '[shared."debian-12".deb]\n'
        'libc6 = "2.36-9"\n'
        "\n"
        '[roles.app."debian-12".pip]\n'
        'requests = "2.31.0"\n'
    )
    out, _ = _edit(text, lambda doc: set_pin(doc, "app", "debian-12", PIP, "flask", "3.0.0"))
    assert _changes(text, out) == ["@@ -8,0 +9 @@", '+flask = "3.0.0"']
    out, _ = _edit(text, lambda doc: set_pin(doc, "app", "debian-12", DEB, "bash", "5.2"))
    assert _changes(text, out) == ["@@ -2,0 +3 @@", '+bash = "5.2"']


def test_set_pin_rejects_what_load_would_reject() -> None:
    doc = parse(ODD)
    with pytest.raises(VersionError):
        set_pin(doc, "app", "debian-12", DEB, "nginx", "1.0 beta")
    with pytest.raises(UsageError, match="OS release key"):
        set_pin(doc, "app", "Debian 12", DEB, "nginx", "1.0")
    with pytest.raises(UsageError, match="role name"):
        set_pin(doc, "app server", "debian-12", DEB, "nginx", "1.0")
    with pytest.raises(UsageError, match="not a valid deb package name"):
        set_pin(doc, "app", "debian-12", DEB, "Nginx", "1.0")
    assert dumps(doc) == ODD


def test_add_waiver_appends_after_existing_ones() -> None:
    waiver = Waiver("bash", "accepted: OPS-9", dt.date(2027, 1, 31), DEB, role="app", env="prod")
    out, _ = _edit(ODD, lambda doc: add_waiver(doc, waiver))
    assert _changes(ODD, out)[1:] == [
        "+",
        "+[[waivers]]",
        '+package = "bash"',
        '+ecosystem = "deb"',
        '+role = "app"',
        '+env = "prod"',
        '+reason = "accepted: OPS-9"',
        "+expires = 2027-01-31",
    ]
    assert loads(out).waivers[-1] == Waiver(
        "bash",
        "accepted: OPS-9",
        dt.date(2027, 1, 31),
        DEB,
        role="app",
        env="prod",
        location=loads(out).waivers[-1].location,
    )


def test_add_first_waiver() -> None:
    text = 'schema = 1\n\n[roles.app."debian-12".deb]\nnginx = "1.22.1-9"\n'
    out, _ = _edit(text, lambda doc: add_waiver(doc, Waiver("nginx", "r", dt.date(2030, 1, 1))))
    assert out == text + '\n[[waivers]]\npackage = "nginx"\nreason = "r"\nexpires = 2030-01-01\n'


def test_save_writes_validated_text_atomically(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(ODD)
    doc, original = read_document(path)
    set_pin(doc, "app", "debian-12", DEB, "curl", "7.88.1-10+deb12u5")
    written = save(path, doc, original)
    assert path.read_text() == written
    assert any(p.package == "curl" for p in load(path).pins)
    # A second save from the same stale read is refused: the file changed since.
    with pytest.raises(WriteError, match="changed on disk"):
        save(path, doc, original)


def test_save_refuses_an_invalid_result(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(ODD)
    doc, original = read_document(path)
    doc["typo"] = 1
    with pytest.raises(LockfileError, match="unknown top-level key 'typo'"):
        save(path, doc, original)
    assert path.read_text() == ODD


def test_crlf_file_keeps_crlf_for_new_and_changed_pins() -> None:
    text = 'schema = 1\r\n\r\n[roles.app."debian-12".deb]\r\nbash = "5.2"\r\nzlib1g = "1"\r\n'
    doc = parse(text)
    set_pin(doc, "app", "debian-12", DEB, "nginx", "1.22.1-9")
    set_pin(doc, "app", "debian-12", DEB, "bash", "5.2.15-2+b8")
    out = dumps(doc)
    assert out == (
        'schema = 1\r\n\r\n[roles.app."debian-12".deb]\r\n'
        'bash = "5.2.15-2+b8"\r\nnginx = "1.22.1-9"\r\nzlib1g = "1"\r\n'
    )
    nginx = loads(out, "crlf.toml").pins[1]
    assert nginx.package == "nginx"
    assert nginx.location == Location("crlf.toml", 5, 9)
