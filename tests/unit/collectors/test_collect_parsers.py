"""parse_probe on captured real output and on hostile, broken and forged output."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinmgr.collectors.parsers import (
    MAX_WARNINGS,
    ProbeIncomplete,
    ProbeOutputError,
    escape_text,
    parse_probe,
)
from pinmgr.model import Ecosystem, Host, InstalledPackage, OsRelease, PackageState

DATA = Path(__file__).resolve().parents[2] / "data" / "collect"
NONCE = "0123456789abcdef0123456789abcdef"
HOST = Host("web1", "prod", ("app",))
PIP_HOST = Host("web1", "prod", ("app",), pip=("/usr/bin/python3", "/srv/app/venv"))


def frame(
    sections: list[tuple[str, bytes, int]], *, done: bool = True, nonce: str = NONCE
) -> bytes:
    """Output shaped exactly like the probe's: begin, body, newline, end with status.

    A Debian os-release section is added unless the test brings its own.
    """
    if not any(name == "os-release" for name, _, _ in sections):
        sections = [("os-release", b"ID=debian\nVERSION_ID=12\n", 0), *sections]
    m = f"@@pinmgr {nonce}".encode()
    out = b""
    for name, body, rc in sections:
        out += m + b" begin " + name.encode() + b"\n" + body
        out += b"\n" + m + b" end " + name.encode() + b" " + str(rc).encode() + b"\n"
    if done:
        out += m + b" done\n"
    return out


def by_name(packages: tuple[InstalledPackage, ...], eco: Ecosystem) -> dict[str, InstalledPackage]:
    return {p.name: p for p in packages if p.ecosystem is eco}


def test_captured_debian_12() -> None:
    os_release = (DATA / "os-release.debian-12").read_bytes()
    dpkg = (DATA / "dpkg-query.debian-12.txt").read_bytes()
    lines = [ln for ln in dpkg.decode().splitlines() if ln]
    snap = parse_probe(
        HOST,
        frame([("os-release", os_release, 0), ("dpkg-arch", b"amd64\n", 0), ("dpkg", dpkg, 0)]),
        NONCE,
    )
    assert snap.warnings == ()
    assert snap.os_release == OsRelease("debian", "12")
    debs = by_name(snap.packages, Ecosystem.DEB)
    assert len(debs) == len(lines)
    assert debs["dpkg"].version == "1.21.22"
    assert debs["dpkg"].arch == "amd64"
    # Multi-Arch: same packages lose the native qualifier so pins can say "libc6".
    assert "libc6" in debs
    assert "libc6:amd64" not in debs
    assert debs["zlib1g"].version == "1:1.2.13.dfsg-1"
    assert all(p.state is PackageState.INSTALLED for p in debs.values())


def test_dpkg_states_and_foreign_arch() -> None:
    dpkg = (
        b"libssl3:amd64\t3.0.11-1\tii \tamd64\n"
        b"libssl3:i386\t3.0.11-1\tii \ti386\n"
        b"nginx\t1.22.1-9\thi \tamd64\n"
        b"oldpkg\t1.0-1\trc \tamd64\n"
        b"brokenpkg\t2.0-1\tiU \tamd64\n"
        b"halfconf\t2.0-1\tiF \tamd64\n"
        b"halfinst\t2.0-1\tiH \tamd64\n"
        b"trigawait\t2.0-1\tiW \tamd64\n"
        b"trigpend\t2.0-1\tit \tamd64\n"
        b"reinstreq\t2.0-1\tiiR\tamd64\n"
        b"gone\t\tun \t\n"
        b"purged\t\tpn \t\n"
    )
    snap = parse_probe(HOST, frame([("dpkg-arch", b"amd64\n", 0), ("dpkg", dpkg, 0)]), NONCE)
    debs = by_name(snap.packages, Ecosystem.DEB)
    assert debs["libssl3"].arch == "amd64"
    assert debs["libssl3:i386"].arch == "i386"
    assert debs["nginx"].state is PackageState.HELD
    for name in ("brokenpkg", "halfconf", "halfinst", "trigawait", "trigpend", "reinstreq"):
        assert debs[name].state is PackageState.HALF_INSTALLED, name
    assert "oldpkg" not in debs  # rc: only config files left
    assert "gone" not in debs
    assert "purged" not in debs
    assert snap.warnings == ()


def test_unknown_dpkg_status_makes_the_section_unparsed() -> None:
    dpkg = b"nginx\t1.22.1-9\tii \tamd64\nweird\t1.0\tzz \tamd64\n"
    with pytest.raises(ProbeIncomplete) as exc:
        parse_probe(HOST, frame([("dpkg", dpkg, 0)]), NONCE)
    assert exc.value.reason == (
        "dpkg: 1 line does not parse (first: unknown package status: weird\\t1.0\\tzz \\tamd64)"
    )


def test_dpkg_without_arch_section_keeps_qualifier() -> None:
    snap = parse_probe(HOST, frame([("dpkg", b"libc6:amd64\t2.36-9\tii \tamd64\n", 0)]), NONCE)
    assert [p.name for p in snap.packages] == ["libc6:amd64"]


def test_rpm_epochs_and_gpg_pubkey() -> None:
    rpm = (
        b"bash\t0:5.1.8-9.el9\tx86_64\n"
        b"openssl\t1:3.0.7-27.el9\tx86_64\n"
        b"glibc\t0:2.34-100.el9\ti686\n"
        b"gpg-pubkey\t0:8483c65d-5ccc5b19\t(none)\n"
    )
    snap = parse_probe(HOST, frame([("rpm", rpm, 0)]), NONCE)
    rpms = by_name(snap.packages, Ecosystem.RPM)
    assert rpms["bash"].version == "5.1.8-9.el9"
    assert rpms["openssl"].version == "1:3.0.7-27.el9"
    assert rpms["glibc"].arch == "i686"
    assert "gpg-pubkey" not in rpms
    assert snap.warnings == ()


def test_an_rpm_line_that_does_not_parse_makes_the_host_incomplete() -> None:
    rpm = b"bash\t0:5.1.8-9.el9\tx86_64\nnonsense-without-release\t0:1.0\tx86_64\nx\n"
    with pytest.raises(ProbeIncomplete) as exc:
        parse_probe(HOST, frame([("rpm", rpm, 0)]), NONCE)
    assert exc.value.reason.startswith("rpm: 2 lines do not parse (first: version is not ")
    assert "nonsense-without-release" in exc.value.reason
    assert any("not 3 tab-separated fields: x" in w for w in exc.value.warnings)


def test_pip_names_normalised_and_origin_kept() -> None:
    snap = parse_probe(
        PIP_HOST,
        frame(
            [
                ("pip:0", b"PyYAML\t6.0\nzope.interface\t5.5.2\nNo_Tab_Here\n", 0),
                ("pip:1", b"Django\t4.2.7\n", 0),
            ]
        ),
        NONCE,
    )
    pips = [(p.name, p.version, p.origin) for p in snap.packages]
    assert ("pyyaml", "6.0", "/usr/bin/python3") in pips
    assert ("zope-interface", "5.5.2", "/usr/bin/python3") in pips
    assert ("django", "4.2.7", "/srv/app/venv") in pips
    assert len(pips) == 3
    assert any("No_Tab_Here" in w for w in snap.warnings)


def test_pip_section_failure_names_the_interpreter() -> None:
    with pytest.raises(ProbeIncomplete) as exc:
        parse_probe(PIP_HOST, frame([("pip:0", b"", 0), ("pip:1", b"", 127)]), NONCE)
    assert exc.value.reason == "pip /srv/app/venv: probe exited with status 127 (not found)"


def test_a_section_the_probe_always_prints_is_missing() -> None:
    """A complete-looking stream without a pip interpreter's section (or os-release) would
    turn that interpreter's pins into missing findings: incomplete instead."""
    out = frame([("pip:0", b"Django\t4.2.7\n", 0)])
    with pytest.raises(ProbeIncomplete) as exc:
        parse_probe(PIP_HOST, out, NONCE)
    assert exc.value.reason == "pip /srv/app/venv: section missing"
    m = f"@@pinmgr {NONCE}".encode()
    bare = m + b" begin dpkg\na\t1\tii \tall\n\n" + m + b" end dpkg 0\n" + m + b" done\n"
    with pytest.raises(ProbeIncomplete, match=r"^os-release: section missing$"):
        parse_probe(HOST, bare, NONCE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('ID=rocky\nVERSION_ID="9.3"\n', OsRelease("rocky", "9.3")),
        ("ID='Ubuntu'\nVERSION_ID='22.04'\n", OsRelease("ubuntu", "22.04")),
        (
            '# comment\n\nNAME="A \\"quoted\\" name"\nID=debian\nVERSION_ID=12\n',
            OsRelease("debian", "12"),
        ),
    ],
)
def test_os_release_shell_quoting(text: str, expected: OsRelease) -> None:
    snap = parse_probe(HOST, frame([("os-release", text.encode(), 0)]), NONCE)
    assert snap.os_release == expected
    assert snap.warnings == ()


def test_os_release_without_version_id_or_bad_quoting() -> None:
    snap = parse_probe(
        HOST, frame([("os-release", b'ID=arch\nNAME="unterminated\nnot a pair\n', 0)]), NONCE
    )
    assert snap.os_release is None
    assert any("no VERSION_ID" in w for w in snap.warnings)
    assert any("bad quoting" in w for w in snap.warnings)
    assert any("not KEY=value" in w for w in snap.warnings)


def test_hostile_names_kept_as_data_invalid_utf8_tolerated() -> None:
    dpkg = (
        b"evil\x1b]8;;http://x\x07link\t1.0-1\tii \tamd64\n"
        b"[red]rich[/red]\t2.0\tii \tamd64\n"
        b"caf\xe9\t1.0\tii \tamd64\n"
    )
    snap = parse_probe(HOST, frame([("dpkg", dpkg, 0)]), NONCE)
    names = {p.name for p in snap.packages}
    assert "evil\x1b]8;;http://x\x07link" in names  # kept verbatim: reporters escape
    assert "[red]rich[/red]" in names
    assert "caf\\xe9" in names  # invalid UTF-8 survives as printable text
    assert snap.warnings == ()

    garbage = dpkg + b"\xff\xfe garbage line without tabs \x1b[2J\n"
    with pytest.raises(ProbeIncomplete) as exc:
        parse_probe(HOST, frame([("dpkg", garbage, 0)]), NONCE)
    for text in (exc.value.reason, *exc.value.warnings):
        assert text.isprintable()
        assert "\x1b" not in text
    assert "\\x1b[2J" in exc.value.reason


def test_forged_markers_without_nonce_are_data_not_sections() -> None:
    forged = (
        f"@@pinmgr {'f' * 32} begin dpkg\nfake\t6.6.6\tii \tamd64\n@@pinmgr {'f' * 32} end dpkg 0\n"
    )
    inner_forgery = b"@@pinmgr begin rpm\nrootkit\t0:1-1\tx86_64\n"
    snap = parse_probe(
        HOST, forged.encode() + frame([("dpkg", b"real\t1.0\tii \tamd64\n", 0)]), NONCE
    )
    assert [p.name for p in snap.packages] == ["real"]  # the forged section is not one
    assert sum("outside any probe section" in w for w in snap.warnings) == 3
    # Inside a real section, forged lines are lines that do not parse: no half answer.
    out = frame([("dpkg", b"real\t1.0\tii \tamd64\n" + inner_forgery, 0)])
    with pytest.raises(ProbeIncomplete) as exc:
        parse_probe(HOST, out, NONCE)
    assert exc.value.reason.startswith("dpkg: 2 lines do not parse")


def test_truncated_output_is_incomplete_never_half_a_host() -> None:
    out = frame([("dpkg", b"a\t1\tii \tall\nb\t2\tii \tall\n", 0)])
    m = f"@@pinmgr {NONCE}".encode()
    cut = out.rsplit(m + b" end", 1)[0]  # dpkg end and done markers never arrived
    with pytest.raises(ProbeIncomplete) as exc:
        parse_probe(HOST, cut, NONCE, rc=-1)
    assert exc.value.reason == (
        "dpkg: cut short (no end marker); no final marker (output cut short); "
        "connection closed before the probe's exit status arrived"
    )
    # Every section ended but the final marker is missing: still incomplete.
    with pytest.raises(ProbeIncomplete, match=r"^no final marker"):
        parse_probe(HOST, out.rsplit(m + b" done", 1)[0], NONCE)
    with pytest.raises(ProbeIncomplete, match=r"^probe exited with status 1$"):
        parse_probe(HOST, out, NONCE, rc=1)


def test_no_sections_is_an_error() -> None:
    with pytest.raises(ProbeOutputError):
        parse_probe(HOST, b"sh: 1: Syntax error\n", NONCE)
    with pytest.raises(ProbeOutputError):
        parse_probe(HOST, frame([("dpkg", b"", 0)], nonce="ab" * 16), NONCE)


def test_warnings_are_capped() -> None:
    garbage = b"".join(b"junk %d\n" % i for i in range(MAX_WARNINGS * 3))
    snap = parse_probe(HOST, garbage + frame([("dpkg", b"a\t1\tii \tall\n", 0)]), NONCE)
    assert len(snap.warnings) == MAX_WARNINGS + 1
    assert snap.warnings[-1] == f"{MAX_WARNINGS * 2} more warnings not shown"
    with pytest.raises(ProbeIncomplete) as exc:
        parse_probe(HOST, frame([("dpkg", garbage, 0)]), NONCE)
    assert len(exc.value.warnings) == MAX_WARNINGS + 1
    assert exc.value.reason.startswith(f"dpkg: {MAX_WARNINGS * 3} lines do not parse")


def test_duplicate_rows_are_one_warning_with_a_count() -> None:
    rows = b"nginx\t1.22.1-9\tii \tamd64\n" * 20_000 + b"bash\t5.2.15-2\tii \tamd64\n"
    rpm = b"kernel\t0:5.14-1\tx86_64\nkernel\t0:5.14-2\tx86_64\nkernel\t0:5.14-2\tx86_64\n"
    snap = parse_probe(HOST, frame([("dpkg", rows, 0), ("rpm", rpm, 0)]), NONCE)
    assert [(p.name, p.version) for p in snap.packages] == [
        ("bash", "5.2.15-2"),
        ("nginx", "1.22.1-9"),
        ("kernel", "5.14-1"),  # several installed versions of one rpm are normal
        ("kernel", "5.14-2"),
    ]
    assert snap.warnings == (
        "dpkg: 19999 duplicate package rows ignored, the first row of each kept "
        "(first duplicate: nginx)",
        "rpm: 1 duplicate package row ignored, the first row of each kept "
        "(first duplicate: kernel)",
    )


def test_escape_text_truncates_and_escapes() -> None:
    assert escape_text("a\tb\x1bc") == "a\\tb\\x1bc"
    long = escape_text("x" * 1000, limit=10)
    assert long == "x" * 10 + "…"


def test_duplicate_and_unknown_sections_warn() -> None:
    snap = parse_probe(
        HOST,
        frame(
            [("dpkg", b"a\t1\tii \tall\n", 0), ("dpkg", b"b\t1\tii \tall\n", 0), ("pip:7", b"", 0)]
        ),
        NONCE,
    )
    assert [p.name for p in snap.packages] == ["b"]
    assert any("repeated" in w for w in snap.warnings)
    assert any("unknown probe section" in w and "pip:7" in w for w in snap.warnings)


def test_stderr_reported_only_when_something_failed() -> None:
    noise = b"pyenv: shims not writable\n"
    healthy = parse_probe(HOST, frame([("dpkg", b"a\t1\tii \tall\n", 0)]), NONCE, stderr=noise)
    assert healthy.warnings == ()

    errors = b"".join(b"line %d\n" % i for i in range(10)) + b"dpkg-query: error: \x1b[31mbad\n"
    with pytest.raises(ProbeIncomplete) as failed:
        parse_probe(HOST, frame([("dpkg", b"", 2)]), NONCE, stderr=errors)
    assert failed.value.reason == "dpkg: probe exited with status 2"
    stderr_lines = [w for w in failed.value.warnings if w.startswith("stderr: ")]
    assert stderr_lines[-1] == "stderr: dpkg-query: error: \\x1b[31mbad"
    assert len(stderr_lines) == 5  # the last few lines: the error is usually at the end

    with pytest.raises(ProbeIncomplete) as crashed:
        parse_probe(HOST, frame([], done=False), NONCE, stderr=b"Killed\n", rc=137)
    assert (
        crashed.value.reason == "no final marker (output cut short); probe exited with status 137"
    )
    assert "stderr: Killed" in crashed.value.warnings


def test_native_arch_is_taken_from_dpkg_itself() -> None:
    body = (
        b"dpkg\t1.21.22\tii \tamd64\n"
        b"libc6:amd64\t2.36-9\tii \tamd64\n"
        b"libssl3:i386\t3.0.15-1\tii \ti386\n"
    )
    snap = parse_probe(HOST, frame([("dpkg", body, 0)]), NONCE)
    assert sorted(p.name for p in snap.packages) == ["dpkg", "libc6", "libssl3:i386"]
