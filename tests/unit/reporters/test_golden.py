"""Golden files for every report format, from one fixed report covering every finding kind.

Host-supplied text in the report is hostile on purpose (OSC 8 links, rich ``[markup]``,
``|``, ``<``, ``%``, CR/LF followed by a forged workflow command, a host warning trying every
CI runner's commands): a golden diff shows at once if any format starts passing such text
through. The report has host warnings too (one host with more than a table shows).

Regenerate after an intended change with ``PINMGR_UPDATE_GOLDEN=1 .venv/bin/pytest
tests/unit/reporters/test_golden.py`` and review the diff of tests/golden/.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pinmgr.diff.report import build
from pinmgr.model import (
    CheckReport,
    Direction,
    Ecosystem,
    Finding,
    FindingKind,
    HostWarning,
    Location,
    SecurityFix,
)
from pinmgr.reporters import github, json, junit, markdown, sarif, table

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
LOCK = "pins/pinmgr.toml"

OSC8 = "evil\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
FORGED = "output over 67108864 bytes\r\n::warning file=x::forged ~~s~~ $x^2$ *em* _u_"
# Host output that tries every CI runner's commands, line breaks and markup at once.
HOSTILE_WARNING = (
    "::error file=x::forged\r\n##vso[task.setvariable variable=x]1\x0bsection_start:1:s"
    "\x1b[0K \u2028  ::stop-commands::t ##[group]g ##teamcity[x] [red]r[/red] %0A <b>&</b>"
)


def _loc(line: int, col: int = 1) -> Location:
    return Location(LOCK, line, col)


def findings() -> list[Finding]:
    """One finding of every kind (some twice), hostile text where a host could put it."""
    deb, pip = Ecosystem.DEB, Ecosystem.PIP
    K = FindingKind
    return [
        Finding(K.OK, "web1", "prod", "app", deb, "bash", "5.2.15-2+b2", "5.2.15-2+b2",
                os_release="debian-12", location=_loc(12)),
        Finding(K.DRIFT, "web1", "prod", "app", deb, "openssl", "3.0.11-1~deb12u2",
                "3.0.13-1~deb12u1", Direction.NEWER, os_release="debian-12", location=_loc(14)),
        Finding(K.DRIFT, "web1", "prod", "app", pip, "requests", "==2.31.0", "2.28.1",
                Direction.OLDER, reason="/opt/app/venv", os_release="debian-12",
                location=_loc(20, 3)),
        Finding(K.DRIFT, "web2", "prod", "app", deb, "nginx", "1.22.1-9", "1.22.1-9",
                reason="half-installed", os_release="debian-12", location=_loc(13)),
        Finding(K.MISSING, "web2", "prod", "app", deb, OSC8, "1.0-1",
                os_release="debian-12", location=_loc(15)),
        Finding(K.WAIVED, "web1", "prod", "app", deb, "[red]boom[/red]", "1.0|2",
                "1.1<script>", Direction.NEWER, os_release="debian-12", location=_loc(16, 5),
                waiver_reason="CVE fix, 100% needed: `notes` | <b>x</b> & co (until 2026-12-31)"),
        Finding(K.UNPINNED, "web1", "prod", "app", deb, "vim", actual="2:9.0.1378-2",
                os_release="debian-12"),
        Finding(K.INCONSISTENT, "web2", "prod", "app", deb, "curl", "7.88.1-10", "",
                reason="1 of 2 app hosts (debian-12) have it: 7.88.1-10 on 1, absent on 1",
                os_release="debian-12"),
        Finding(K.UNSUPPORTED_OS, "db1", "staging", "db", expected="debian-12",
                actual="rocky-9", reason="OS release rocky-9 is not declared for role db",
                os_release="rocky-9"),
        Finding(K.MIXED_OS, "db1", "staging", "db", expected="debian-12", actual="rocky-9",
                reason="db hosts in staging run debian-12 (2), rocky-9 (1)",
                os_release="rocky-9"),
        Finding(K.NOT_INSTALLABLE, "web2", "prod", "app", deb, "nginx", "1.22.1-9",
                "1.22.1-9", reason="sources offer 1.22.1-9+deb12u1", os_release="debian-12",
                location=_loc(13)),
        Finding(K.SECURITY_UPDATE, "web2", "prod", "app", deb, "openssl", "3.0.11-1~deb12u2",
                "3.0.11-1~deb12u2", os_release="debian-12", location=_loc(14),
                reason="security fix 3.0.13-1~deb12u1 from Debian-Security bookworm-security "
                "(DSA-5,x::error::y; CVE-2024-0727)",
                fix=SecurityFix("3.0.13-1~deb12u1", "Debian-Security bookworm-security",
                                "DSA-5,x::error::y", "high\n::warning::", ("CVE-2024-0727",))),
        Finding(K.UNREACHABLE, "web7", "staging", "app",
                reason="connection refused on 10.0.0.7:22"),
        Finding(K.AUTH_FAILED, "web:8,x%y", "staging", "app,db",
                reason="authentication failed for deploy"),
        Finding(K.HOSTKEY_UNKNOWN, "web9", "staging", "app",
                reason="unknown host key SHA256:q1w2e3; trust it with: ssh-keyscan -p 22 web9"),
        Finding(K.HOSTKEY_CHANGED, "web10", "staging", "app", reason="host key changed"),
        Finding(K.TIMEOUT, "web11", "staging", "app", reason="timed out after 10 s"),
        Finding(K.INCOMPLETE, "web11", "staging", "app",
                reason="dpkg: probe exited with status 2"),
        Finding(K.NO_DATA, "web13", "staging", "app",
                reason="no data for this host in the saved snapshots or facts"),
        Finding(K.STALE, "web14", "staging", "app",
                reason="data in fleet.json.gz was collected 2026-12-01T02:00:00Z, 5d ago "
                "(over --max-age 24h)"),
        Finding(K.NOT_IN_INVENTORY, "web15", "staging", "",
                reason="in facts/s1_web15 but not in the inventory: no environment or role "
                "to check it against"),
        Finding(K.NOT_CHECKED, "web16", "staging", "app", Ecosystem.PIP, "", "1 pip pin",
                reason="1 pip pin not checked: no pip interpreter listed for this host; set "
                'pip = ["/usr/bin/python3"] (or a virtualenv) on the host in the inventory '
                "(Ansible: pinmgr_pip)", os_release="debian-12", location=_loc(21)),
        Finding(K.COLLECT_ERROR, "web12", "staging", "app", reason=FORGED),
    ]  # fmt: skip


def warnings() -> list[HostWarning]:
    """Host warnings in host order: a plain one, a hostile one, and one host with too many."""
    return [
        HostWarning("web1", "prod", "pip: unparsed line 'requests 2.28.1 extra'"),
        HostWarning("web2", "prod", HOSTILE_WARNING),
        *(HostWarning("web11", "staging", f"dpkg: unexpected line {i}") for i in range(1, 8)),
    ]


def with_warnings(report: CheckReport, found: Sequence[HostWarning]) -> CheckReport:
    # build() gains a warnings argument on another branch; replace() works either way.
    return dataclasses.replace(report, warnings=tuple(found))


def hostile_report() -> CheckReport:
    report = build(
        findings(),
        hosts_total=11,
        hosts_collected=4,
        lockfile=LOCK,
        environments=("prod", "staging"),
    )
    return with_warnings(report, warnings())


FORMATS: dict[str, Callable[[CheckReport], str]] = {
    "check.json": json.render,
    "check.table.txt": lambda r: table.render(r, width=100, color=False),
    "check.junit.xml": junit.render,
    "check.sarif": sarif.render,
    "check.md": markdown.render,
    "check.github.txt": github.render,
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_golden(name: str) -> None:
    got = FORMATS[name](hostile_report()).encode("utf-8")
    path = GOLDEN / name
    if os.environ.get("PINMGR_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(got)
    assert path.exists(), f"{path} missing: run with PINMGR_UPDATE_GOLDEN=1"
    assert got == path.read_bytes(), f"{name} differs from {path} (PINMGR_UPDATE_GOLDEN=1)"


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_deterministic_and_order_independent(name: str) -> None:
    """Same findings in any input order give byte-identical output (one sort in build)."""
    first = FORMATS[name](hostile_report())
    shuffled = build(
        list(reversed(findings())),
        hosts_total=11,
        hosts_collected=4,
        lockfile=LOCK,
        environments=("prod", "staging"),
    )
    shuffled = with_warnings(shuffled, warnings())
    assert FORMATS[name](shuffled) == first
    assert FORMATS[name](hostile_report()) == first


def test_fixture_covers_every_kind() -> None:
    assert {f.kind for f in findings()} == set(FindingKind)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_no_escape_bytes_or_raw_controls(name: str) -> None:
    out = FORMATS[name](hostile_report())
    assert "\x1b" not in out
    assert "\r" not in out
    bad = [c for c in out if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    assert not bad


def test_table_fits_80_columns_without_colour() -> None:
    out = table.render(hostile_report(), width=80, color=False)
    assert out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "\x1b" not in out
    # the hostile markup is shown literally, not interpreted by rich
    assert "[red]" in out
