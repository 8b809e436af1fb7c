"""Acceptance: pin, unpin, lock and accept change only the lines they must.

"A round-trip test over a hand-written lockfile full of comments and odd formatting: pin,
unpin, lock and accept each change only the lines they must (asserted with a line diff)."

Every edit goes through ``pinmgr.authoring.plan_*`` on ``tests/data/authoring/messy.toml``
(comments above, beside and between tables, tab and space indents, 'literal' and "basic"
strings, padded ``=``, unsorted keys, two blank lines, a waiver); the difflib diff of before
and after must be exactly the expected ``-``/``+`` lines, so anything else the edit touched
fails the test. No hosts: snapshots and reports are built by hand.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pinmgr import authoring
from pinmgr.authoring import Edit, Selection
from pinmgr.diff.report import build
from pinmgr.errors import UsageError, WriteError
from pinmgr.lockfile.fmt import format_text
from pinmgr.lockfile.load import load
from pinmgr.model import (
    CheckReport,
    Direction,
    Ecosystem,
    Finding,
    FindingKind,
    Host,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
)

ROOT = Path(__file__).resolve().parents[2]
MESSY = ROOT / "tests" / "data" / "authoring" / "messy.toml"
DEB, PIP = Ecosystem.DEB, Ecosystem.PIP


@pytest.fixture
def lockfile(tmp_path: Path) -> Path:
    path = tmp_path / "pinmgr.toml"
    shutil.copyfile(MESSY, path)
    return path


def changes(change: Edit) -> list[str]:
    """The edit's line diff without context or headers: only ``-`` and ``+`` lines."""
    before = change.before.decode("utf-8").splitlines()
    diff = difflib.unified_diff(before, change.after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("---", "+++"))]


def applied(change: Edit) -> str:
    """Write the edit and read the file back: what the user gets on disk."""
    authoring.apply(change)
    return change.path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- pin / unpin


def test_pin_changes_one_value_and_keeps_its_quotes_and_comment(lockfile: Path) -> None:
    change = authoring.plan_pin(lockfile, "app", "debian-12", DEB, [("nginx", "1.22.1-9+deb12u1")])
    assert changes(change) == [
        "-    nginx = '1.22.1-9'     # keep in step with nginx-common",
        "+    nginx = '1.22.1-9+deb12u1'     # keep in step with nginx-common",
    ]
    assert change.notes == ()
    after = applied(change)
    assert after == MESSY.read_text().replace("nginx = '1.22.1-9'", "nginx = '1.22.1-9+deb12u1'")


def test_pin_of_a_new_package_goes_in_sorted_position_with_the_tables_indent(
    lockfile: Path,
) -> None:
    change = authoring.plan_pin(lockfile, "app", "debian-12", DEB, [("git", "1:2.39.5-0+deb12u3")])
    assert changes(change) == ['+    git = "1:2.39.5-0+deb12u3"']
    lines = change.after.splitlines()
    assert (
        lines.index('    git = "1:2.39.5-0+deb12u3"')
        == lines.index('    curl    = "7.88.1-10+deb12u15"') + 1
    )  # sorted: after curl, before libssl3


def test_pin_of_a_shared_package_edits_the_shared_table(lockfile: Path) -> None:
    change = authoring.plan_pin(lockfile, "*", "debian-12", DEB, [("ca-certificates", "20240203")])
    assert changes(change) == [
        "-ca-certificates = '20230311'   # literal string",
        "+ca-certificates = '20240203'   # literal string",
    ]


def test_pin_of_a_pip_name_spelled_differently_changes_the_existing_pin(lockfile: Path) -> None:
    """``django`` is the project pinned as ``Django``: no duplicate, the pin is changed."""
    change = authoring.plan_pin(lockfile, "app", "debian-12", PIP, [("django", "4.2.17")])
    assert changes(change) == [
        '-Django = "4.2.16"        # unsorted on purpose: fmt sorts, edits do not',
        '+Django = "4.2.17"        # unsorted on purpose: fmt sorts, edits do not',
    ]


def test_pin_into_a_new_table_adds_only_that_table(lockfile: Path) -> None:
    change = authoring.plan_pin(
        lockfile, "db", "ubuntu-22.04", DEB, [("postgresql-14", "14.12-0ubuntu0.22.04.1")]
    )
    assert changes(change) == [
        '+[roles.db."ubuntu-22.04".deb]',
        '+postgresql-14 = "14.12-0ubuntu0.22.04.1"',
        "+",
    ]
    lines = change.after.splitlines()
    header = lines.index('[roles.db."ubuntu-22.04".deb]')
    assert lines[header - 1] == ""
    assert lines[header - 2] == 'postgresql-server = "15.6-1.el9"'
    assert lines[header + 3] == "[[waivers]]"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_new_table_at_the_end_keeps_a_formatted_file_formatted(
    tmp_path: Path, newline: str
) -> None:
    clean = 'schema = 1\n\n[roles.app."debian-12".deb]\nnginx = "1.22.1-9"\n'
    assert format_text(clean) == clean
    path = tmp_path / "pinmgr.toml"
    path.write_bytes(clean.replace("\n", newline).encode())
    change = authoring.plan_pin(path, "db", "debian-12", DEB, [("libpq5", "15.20-0+deb12u1")])
    assert changes(change) == [
        "+",
        '+[roles.db."debian-12".deb]',
        '+libpq5 = "15.20-0+deb12u1"',
    ]
    assert change.after.endswith(f'libpq5 = "15.20-0+deb12u1"{newline}')
    assert change.after.replace(newline, "").count("\n") == 0  # one line ending throughout
    assert format_text(change.after.replace("\r\n", "\n")) == change.after.replace("\r\n", "\n")


def test_new_table_keeps_the_next_tables_comment_block_with_it(lockfile: Path) -> None:
    change = authoring.plan_pin(
        lockfile, "app", "ubuntu-22.04", DEB, [("nginx", "1.18.0-6ubuntu14.4")]
    )
    lines = change.after.splitlines()
    comment = lines.index("# db tier: PostgreSQL servers")
    assert lines[comment + 1] == '[roles.db."debian-12".deb]'
    assert changes(change) == [
        '+[roles.app."ubuntu-22.04".deb]',
        '+nginx = "1.18.0-6ubuntu14.4"',
        "+",
    ]


def test_unpin_removes_exactly_the_pin_line(lockfile: Path) -> None:
    change = authoring.plan_unpin(lockfile, "app", "debian-12", DEB, ["curl"])
    assert changes(change) == ['-    curl    = "7.88.1-10+deb12u15"']
    change = authoring.plan_unpin(lockfile, "app", "debian-12", PIP, ["DJANGO"])
    assert changes(change) == [
        '-Django = "4.2.16"        # unsorted on purpose: fmt sorts, edits do not'
    ]


def test_unpin_of_every_pin_keeps_the_table_declaring_the_release(lockfile: Path) -> None:
    change = authoring.plan_unpin(lockfile, "db", "rocky-9", Ecosystem.RPM, ["postgresql-server"])
    assert changes(change) == ['-postgresql-server = "15.6-1.el9"']
    assert '[roles.db."rocky-9".rpm]' in change.after.splitlines()


def test_unpin_of_something_not_pinned_is_refused_and_writes_nothing(lockfile: Path) -> None:
    before = lockfile.read_bytes()
    with pytest.raises(UsageError, match=r"not pinned for role app on debian-12 \(deb\): vim"):
        authoring.plan_unpin(lockfile, "app", "debian-12", DEB, ["nginx", "vim"])
    assert lockfile.read_bytes() == before


# ---------------------------------------------------------------- lock --from


def pkg(name: str, version: str, arch: str = "amd64", eco: Ecosystem = DEB) -> InstalledPackage:
    return InstalledPackage(eco, name, version, arch)


def snapshot() -> HostSnapshot:
    """web1 as the collector reports it: multi-arch names carry their arch, pip its spelling."""
    return HostSnapshot(
        Host("web1", "staging", ("app",)),
        OsRelease("debian", "12"),
        (
            pkg("dpkg", "1.21.23"),
            pkg("ca-certificates", "20230311", "all"),
            pkg("curl", "7.88.1-10+deb12u15"),
            pkg("libssl3:amd64", "3.0.22-1~deb12u2"),
            pkg("libssl3:i386", "3.0.22-1~deb12u2", "i386"),
            pkg("nginx", "1.22.1-9+deb12u1"),
            pkg("nginx-common", "1.22.1-9+deb12u1", "all"),
            pkg("openssl", "3.0.22-1~deb12u2"),
            pkg("tzdata", "2025b-0+deb12u1", "all"),
            pkg("vim", "2:9.0.1378-2+deb12u2"),
            pkg("Django", "4.2.17", "", PIP),
            pkg("requests", "2.32.3", "", PIP),
        ),
    )


def test_lock_listed_packages(lockfile: Path) -> None:
    change = authoring.plan_lock(
        lockfile, snapshot(), "app", Selection.LISTED, ["nginx", "libssl3", "vim"]
    )
    assert changes(change) == [
        '-    libssl3 = "3.0.11-1~deb12u2"  # the multi-arch library, native arch',
        "-    nginx = '1.22.1-9'     # keep in step with nginx-common",
        '+    libssl3 = "3.0.22-1~deb12u2"  # the multi-arch library, native arch',
        "+    nginx = '1.22.1-9+deb12u1'     # keep in step with nginx-common",
        '+    vim = "2:9.0.1378-2+deb12u2"',
    ]
    assert "libssl3:i386" not in change.after  # the foreign copy is not the native pin


def test_lock_key_packages_keeps_what_the_host_satisfies(lockfile: Path) -> None:
    change = authoring.plan_lock(lockfile, snapshot(), "app", Selection.KEY)
    assert changes(change) == [
        '-    libssl3 = "3.0.11-1~deb12u2"  # the multi-arch library, native arch',
        "-    nginx = '1.22.1-9'     # keep in step with nginx-common",
        "-    nginx-common = '1.22.1-9'",
        '+    libssl3 = "3.0.22-1~deb12u2"  # the multi-arch library, native arch',
        "+    nginx = '1.22.1-9+deb12u1'     # keep in step with nginx-common",
        "+    nginx-common = '1.22.1-9+deb12u1'",
        '+    tzdata = "2025b-0+deb12u1"',
        '-Django = "4.2.16"        # unsorted on purpose: fmt sorts, edits do not',
        '+Django = "4.2.17"        # unsorted on purpose: fmt sorts, edits do not',
    ]
    # The glob and the range still hold for the host: they are decisions, not versions.
    assert change.notes == (
        "kept, web1 satisfies them: openssl = '3.0.*', requests = '>=2.28, <3'",
        "pinned for role app, overriding the shared pins: tzdata",
    )


def test_lock_of_a_package_the_host_lacks_is_refused(lockfile: Path) -> None:
    with pytest.raises(UsageError, match="not installed there: redis-server"):
        authoring.plan_lock(lockfile, snapshot(), "app", Selection.LISTED, ["redis-server"])


# ---------------------------------------------------------------- accept


def drift(
    host: str, package: str, pinned: str, actual: str, eco: Ecosystem = DEB, role: str = "app"
) -> Finding:
    return Finding(
        FindingKind.DRIFT,
        host,
        "staging",
        role,
        eco,
        package,
        pinned,
        actual,
        Direction.NEWER,
        os_release="debian-12",
    )


def report() -> CheckReport:
    findings = [
        drift("web1", "nginx", "1.22.1-9", "1.22.1-9+deb12u1"),
        drift("web2", "nginx", "1.22.1-9", "1.22.1-9+deb12u1"),
        drift("web1", "libssl3:amd64", "3.0.11-1~deb12u2", "3.0.22-1~deb12u2"),
        drift("web1", "tzdata", "2024a-0+deb12u1", "2025b-0+deb12u1"),  # a shared pin
        drift("web1", "curl", "7.88.1-10+deb12u15", "7.88.1-10+deb12u16"),
        drift("web2", "curl", "7.88.1-10+deb12u15", "7.88.1-10+deb12u14"),  # hosts disagree
        drift("web1", "django", "4.2.16", "4.2.17", PIP),
        Finding(FindingKind.MISSING, "web2", "staging", "app", DEB, "nginx-common", "1.22.1-9"),
        Finding(FindingKind.OK, "web1", "staging", "app", DEB, "openssl", "3.0.*", "3.0.22-1"),
        Finding(FindingKind.WAIVED, "db1", "staging", "db", DEB, "libpq5", "15.20-0", "15.21-0"),
    ]
    return build(findings, hosts_total=3, hosts_collected=3)


def test_accept_changes_drifting_pins_where_they_live(lockfile: Path) -> None:
    change = authoring.plan_accept(lockfile, report())
    assert changes(change) == [
        '-tzdata = "2024a-0+deb12u1"',
        '+tzdata = "2025b-0+deb12u1"',
        '-    libssl3 = "3.0.11-1~deb12u2"  # the multi-arch library, native arch',
        "-    nginx = '1.22.1-9'     # keep in step with nginx-common",
        '+    libssl3 = "3.0.22-1~deb12u2"  # the multi-arch library, native arch',
        "+    nginx = '1.22.1-9+deb12u1'     # keep in step with nginx-common",
        '-Django = "4.2.16"        # unsorted on purpose: fmt sorts, edits do not',
        '+Django = "4.2.17"        # unsorted on purpose: fmt sorts, edits do not',
    ]
    (note,) = change.notes
    assert note.startswith("curl (deb, debian-12): hosts disagree (")
    assert "pinmgr pin curl=VERSION --role app --os debian-12" in note


def test_accept_of_one_package_only(lockfile: Path) -> None:
    change = authoring.plan_accept(lockfile, report(), ["nginx"])
    assert changes(change) == [
        "-    nginx = '1.22.1-9'     # keep in step with nginx-common",
        "+    nginx = '1.22.1-9+deb12u1'     # keep in step with nginx-common",
    ]


def test_accept_without_drift_changes_nothing(lockfile: Path) -> None:
    change = authoring.plan_accept(lockfile, build([], hosts_total=1, hosts_collected=1))
    assert not change.changed and changes(change) == []
    assert change.notes == ("no drift to accept",)


# ---------------------------------------------------------------- all edits in a row


def test_edits_in_a_row_leave_everything_else_byte_for_byte(lockfile: Path) -> None:
    original = MESSY.read_text()
    applied(authoring.plan_pin(lockfile, "app", "debian-12", DEB, [("git", "1:2.39.5-0+deb12u3")]))
    applied(authoring.plan_unpin(lockfile, "app", "debian-12", DEB, ["curl"]))
    applied(authoring.plan_lock(lockfile, snapshot(), "app", Selection.LISTED, ["nginx"]))
    final = applied(authoring.plan_accept(lockfile, report(), ["tzdata"]))
    diff = difflib.unified_diff(original.splitlines(), final.splitlines(), lineterm="", n=0)
    assert [line for line in diff if line[:1] in "+-" and line[:3] not in ("---", "+++")] == [
        '-tzdata = "2024a-0+deb12u1"',
        '+tzdata = "2025b-0+deb12u1"',
        '-    curl    = "7.88.1-10+deb12u15"',
        '+    git = "1:2.39.5-0+deb12u3"',
        "-    nginx = '1.22.1-9'     # keep in step with nginx-common",
        "+    nginx = '1.22.1-9+deb12u1'     # keep in step with nginx-common",
    ]
    lock = load(lockfile)  # still a valid lockfile, waiver included
    assert [w.package for w in lock.waivers] == ["nginx"]


def test_apply_refuses_a_stale_edit(lockfile: Path) -> None:
    change = authoring.plan_pin(lockfile, "app", "debian-12", DEB, [("nginx", "1.22.1-9+deb12u1")])
    meanwhile = lockfile.read_text() + "# a colleague's edit\n"
    lockfile.write_text(meanwhile)
    with pytest.raises(WriteError):
        authoring.apply(change)
    assert lockfile.read_text() == meanwhile


# ---------------------------------------------------------------- fmt


def pinmgr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def comments(text: str) -> Counter[str]:
    """Every comment, whole-line or inline (the file has no ``#`` inside strings)."""
    return Counter(line[line.index("#") :].strip() for line in text.splitlines() if "#" in line)


def test_fmt_check_fails_on_the_messy_file_and_writes_nothing(lockfile: Path) -> None:
    before = lockfile.read_bytes()
    result = pinmgr("fmt", "--check", "-l", str(lockfile))
    assert result.returncode == 1, result.stderr
    assert "is not formatted" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout.startswith("--- a/pinmgr.toml\n+++ b/pinmgr.toml\n")
    assert lockfile.read_bytes() == before


def test_fmt_keeps_every_comment_and_the_meaning(lockfile: Path) -> None:
    original = lockfile.read_text()
    before = load(lockfile)
    result = pinmgr("fmt", "-l", str(lockfile))
    assert result.returncode == 0, result.stderr
    formatted = lockfile.read_text()
    assert formatted != original
    assert comments(formatted) == comments(original)
    after = load(lockfile)

    def meaning(lock: object) -> set[tuple[str, ...]]:
        from pinmgr.model import Lockfile

        assert isinstance(lock, Lockfile)
        return {(p.role, p.os_release, p.ecosystem.value, p.package, p.spec) for p in lock.pins}

    assert meaning(after) == meaning(before)
    assert [(w.package, w.reason) for w in after.waivers] == [("nginx", "CVE fix rolled early")]
    assert '    curl = "7.88.1-10+deb12u15"' in formatted.splitlines()  # `=` spacing normalised
    # Pins are sorted now (Django before requests), and fmt is idempotent.
    lines = formatted.splitlines()
    assert lines.index(
        'Django = "4.2.16"        # unsorted on purpose: fmt sorts, edits do not'
    ) < (lines.index('requests = ">=2.28, <3"'))
    again = pinmgr("fmt", "--check", "-l", str(lockfile))
    assert again.returncode == 0 and "already formatted" in again.stdout
