"""Acceptance: drift across environments and waivers, against real sshd test hosts.

"Against the SSH test hosts (3 environments, 2 roles), the matrix shows the planted divergence
and an expired waiver turns a finding back into drift (tested with a fixed clock)."

One lab for the module: dev, staging and production, each with two app and two db hosts.
Planted: every production app host on a newer nginx revision (the same one), one staging db
host on an older postgresql-15, one dev app host with an older curl (unpinned: only the
consistency check can see it) and one dev db host on Ubuntu 22.04 among Debian 12 peers.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pinmgr import api
from pinmgr.diff.exitcode import FailOn, exit_code
from pinmgr.model import CheckReport, Direction, Finding, FindingKind
from pinmgr.reporters.waivers import render as render_waivers
from tests.hostlab import BASE_PACKAGES, Drift, HostSpec, Lab, LabFactory, newer, older

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parents[2]
ENVS = ("dev", "staging", "production")
DEB = BASE_PACKAGES["debian-12"]
JAMMY = BASE_PACKAGES["ubuntu-22.04"]
NGINX_NEW = newer(DEB["nginx"])
PG_OLD = older(DEB["postgresql-15"])
CURL_OLD = older(DEB["curl"])
WAIVER_EXPIRES = dt.date(2030, 6, 30)

PINS = f"""\
schema = 1

[roles.app."debian-12".deb]
nginx = "{DEB["nginx"]}"
openssl = "{DEB["openssl"]}"

[roles.db."debian-12".deb]
openssl = "{DEB["openssl"]}"
postgresql-15 = "{DEB["postgresql-15"]}"

[roles.db."ubuntu-22.04".deb]
openssl = "{JAMMY["openssl"]}"
postgresql-14 = "{JAMMY["postgresql-14"]}"
"""

WAIVER = f"""
[[waivers]]
package = "nginx"
ecosystem = "deb"
role = "app"
env = "production"
reason = "nginx security revision rolled early, OPS-7"
expires = {WAIVER_EXPIRES.isoformat()}
"""

# Dates far from today either way, so the CLI (real clock) sees fixed statuses.
SHOW_WAIVED = """
[[waivers]]
package = "nginx"
role = "app"
env = "production"
reason = "rolled early on purpose"
expires = 2999-12-31

[[waivers]]
package = "postgresql-15"
host = "db-s1"
reason = "downgrade for a replication test"
expires = 2000-01-01

[[waivers]]
package = "redis-server"
reason = "nobody runs it"
expires = 2999-12-31
"""


def specs() -> list[HostSpec]:
    out = []
    for env in ENVS:
        for role in ("app", "db"):
            for i in (1, 2):
                name = f"{role}-{env[0]}{i}"
                drift, release = Drift(), "debian-12"
                if env == "production" and role == "app":
                    drift = Drift(versions={"nginx": NGINX_NEW})
                elif (env, role, i) == ("staging", "db", 1):
                    drift = Drift(versions={"postgresql-15": PG_OLD})
                elif (env, role, i) == ("dev", "app", 2):
                    drift = Drift(versions={"curl": CURL_OLD})
                elif (env, role, i) == ("dev", "db", 2):
                    release = "ubuntu-22.04"
                out.append(HostSpec(name, env=env, role=role, os_release=release, drift=drift))
    return out


@dataclass(frozen=True)
class Setup:
    lab: Lab
    inventory: Path
    lockfile: Path
    waived: Path
    show_waived: Path


@pytest.fixture(scope="module")
def setup(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    lab = hostlab(specs())
    work = tmp_path_factory.mktemp("envmatrix")
    lockfile = work / "pinmgr.toml"
    lockfile.write_text(PINS)
    waived = work / "waived.toml"
    waived.write_text(PINS + WAIVER)
    show = work / "show.toml"
    show.write_text(PINS + SHOW_WAIVED)
    return Setup(lab, lab.write_inventory(work / "inventory.toml"), lockfile, waived, show)


def pinmgr(*args: str, columns: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def check_cli(
    s: Setup, *extra: str, lockfile: Path | None = None, columns: int = 120
) -> subprocess.CompletedProcess[str]:
    envs = [arg for e in ENVS for arg in ("--env", e)]
    return pinmgr(
        "check",
        "-l",
        str(lockfile or s.lockfile),
        "-i",
        str(s.inventory),
        "--known-hosts",
        str(s.lab.known_hosts),
        "-q",
        *envs,
        *extra,
        columns=columns,
    )


# ---------------------------------------------------------------- reading the table


def section(out: str, title: str, end: str | None) -> list[str]:
    lines = out.splitlines()
    start = lines.index(title) + 1
    stop = lines.index(end, start) if end else len(lines)
    return lines[start:stop]


def rows(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """(header, logical rows) of a rich table with ``show_edge=False``.

    A wrapped row continues on lines whose first cell is blank; its cells are joined with
    all whitespace removed (folded versions and wrapped words compare the same way).
    """
    table = [line for line in lines if "│" in line or "┃" in line]
    header = [c.strip() for c in table[0].split("┃")]
    out: list[list[str]] = []
    for line in table[1:]:
        cells = ["".join(c.split()) for c in line.split("│")]
        if cells[0] or not out:
            out.append(cells)
        else:
            out[-1] = [a + b for a, b in zip(out[-1], cells, strict=True)]
    return header, out


def footnote(out: str, status_cell: str) -> str:
    """The footnote a status cell points at ("drift(older)[2]" -> text of "[2] ..."), squashed."""
    number = status_cell.rsplit("[", 1)[1].rstrip("]")
    (line,) = [ln for ln in out.splitlines() if ln.startswith(f"[{number}] ")]
    return "".join(line.split(" ", 1)[1].split())


def squash(text: str) -> str:
    return "".join(text.split())


# ---------------------------------------------------------------- the matrix and findings


@pytest.fixture(scope="module")
def table120(setup: Setup) -> str:
    result = check_cli(setup, columns=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == ""
    return result.stdout


def test_matrix_shows_each_environments_versions(table120: str) -> None:
    lines = section(table120, "Pinned packages per environment", "Findings")
    assert lines[0] == "eco deb"  # one ecosystem: said once, not in every row
    header, matrix = rows(lines)
    # Environments in the order the inventory (and --env) gives them: the promotion order.
    assert header == ["role", "package", "pinned", *ENVS]
    by_key = {(r[0], r[1], r[2]): dict(zip(ENVS, r[3:], strict=True)) for r in matrix}
    assert by_key[("app", "nginx", DEB["nginx"])] == {
        "dev": f"{DEB['nginx']}×2",
        "staging": f"{DEB['nginx']}×2",
        "production": f"{NGINX_NEW}×2",
    }
    pg = by_key[("db", "postgresql-15", squash(DEB["postgresql-15"]))]
    assert pg["dev"] == DEB["postgresql-15"]  # one debian-12 db host in dev
    assert pg["production"] == f"{DEB['postgresql-15']}×2"
    assert pg["staging"] == squash(f"{PG_OLD}×1 {DEB['postgresql-15']}×1")
    # The Ubuntu db host's pins appear only where it runs.
    pg14 = by_key[("db", "postgresql-14", squash(JAMMY["postgresql-14"]))]
    assert pg14 == {"dev": squash(JAMMY["postgresql-14"]), "staging": "", "production": ""}


def test_identical_drift_on_all_production_app_hosts_is_one_row(table120: str) -> None:
    header, found = rows(section(table120, "Findings", None)[:-1])
    assert header[:2] == ["env", "host"]
    col = {name: i for i, name in enumerate(header)}
    problems = [r for r in found if r[col["status"]] != "ok"]
    nginx = [r for r in problems if r[col["package"]] == "nginx"]
    assert len(nginx) == 1, nginx
    (row,) = nginx
    assert row[col["env"]] == "production"
    assert row[col["host"]] == "2hosts"
    assert row[col["installed"]] == NGINX_NEW
    assert row[col["status"]] == "drift(newer)"
    # Each other planted divergence is its own row, with the kind that names it.
    seen = {(r[col["host"]], r[col["package"]], r[col["status"]].split("[")[0]) for r in problems}
    assert seen == {
        ("2hosts", "nginx", "drift(newer)"),
        ("db-s1", "postgresql-15", "drift(older)"),
        ("app-d2", "curl", "inconsistent"),
        ("db-d2", "", "mixed-os"),
    }
    assert table120.splitlines()[-1] == (
        "12 hosts checked: 21 ok, 3 drift, 1 inconsistent, 1 mixed-os"
    )


def test_by_host_lists_every_host(setup: Setup) -> None:
    result = check_cli(setup, "--by-host")
    assert result.returncode == 1
    header, found = rows(section(result.stdout, "Findings", None)[:-1])
    col = {name: i for i, name in enumerate(header)}
    drift = sorted(
        r[col["host"]]
        for r in found
        if r[col["package"]] == "nginx" and "drift" in r[col["status"]]
    )
    assert drift == ["app-p1", "app-p2"]
    assert "hosts" not in " ".join(r[col["host"]] for r in found)
    hosts = {r[col["host"]] for r in found}
    assert hosts == {f"{role}-{e[0]}{i}" for e in ENVS for role in ("app", "db") for i in (1, 2)}


@pytest.mark.parametrize("columns", [80, 120])
def test_plain_output_fits_the_terminal(setup: Setup, columns: int) -> None:
    result = check_cli(setup, columns=columns)
    assert result.returncode == 1
    out = result.stdout
    assert "\x1b" not in out and "\x1b" not in result.stderr
    too_long = [line for line in out.splitlines() if len(line) > columns]
    assert not too_long, too_long
    # The same facts survive the narrow layout.
    _, matrix = rows(section(out, "Pinned packages per environment", "Findings"))
    assert any(r[1] == "nginx" and r[-1].endswith(f"{NGINX_NEW}×2") for r in matrix), matrix
    _, found = rows(section(out, "Findings", None)[:-1])
    assert any("2hosts" in r and "drift(newer)" in r for r in found), found


def test_unknown_environment_is_a_one_line_usage_error(setup: Setup) -> None:
    result = pinmgr(
        "check", "-l", str(setup.lockfile), "-i", str(setup.inventory), "--env", "qa", "-q"
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pinmgr: error:") and "qa" in lines[0]
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- waivers


def library_check(s: Setup, today: dt.date) -> CheckReport:
    options = api.CheckOptions(
        envs=ENVS, today=today, known_hosts=str(s.lab.known_hosts), connect_timeout=10
    )
    return api.check(s.waived, s.inventory, options)


def nginx_findings(report: CheckReport) -> list[Finding]:
    return [f for f in report.findings if f.package == "nginx" and f.env == "production"]


def test_waiver_holds_through_its_last_day(setup: Setup) -> None:
    report = library_check(setup, WAIVER_EXPIRES)
    waived = nginx_findings(report)
    assert sorted(f.host for f in waived) == ["app-p1", "app-p2"]
    for f in waived:
        assert f.kind is FindingKind.WAIVED
        assert f.actual == NGINX_NEW and f.direction is Direction.NEWER
        assert f.waiver_reason == (
            f"nginx security revision rolled early, OPS-7 (until {WAIVER_EXPIRES.isoformat()})"
        )
    # The waiver is scoped: the staging postgresql drift is still drift.
    (pg,) = [f for f in report.findings if f.kind is FindingKind.DRIFT]
    assert (pg.host, pg.package) == ("db-s1", "postgresql-15")
    assert report.summary.count(FindingKind.WAIVED) == 2


def test_expired_waiver_turns_the_finding_back_into_drift(setup: Setup) -> None:
    day_after = WAIVER_EXPIRES + dt.timedelta(days=1)
    report = library_check(setup, day_after)
    drift = nginx_findings(report)
    assert [f.kind for f in drift] == [FindingKind.DRIFT, FindingKind.DRIFT]
    for f in drift:
        assert f.reason == f"waiver expired {WAIVER_EXPIRES.isoformat()}"
        assert f.waiver_reason == ""
    assert report.summary.count(FindingKind.WAIVED) == 0
    assert report.summary.count(FindingKind.DRIFT) == 3
    assert exit_code(report, FailOn.DRIFT) == 1
    # The --show-waived listing says so too, and wraps to a narrow terminal when asked.
    listing = render_waivers(api.read_lockfile(setup.waived), report, day_after, width=60)
    assert "nginx eco=deb env=production role=app - expired 2030-06-30:" in " ".join(
        line.strip() for line in listing.splitlines()
    )
    # Lines fit, except a single unbreakable word (a long file path is never cut).
    assert all(len(line) <= 60 or " " not in line.strip() for line in listing.splitlines()), listing


def test_show_waived_lists_each_waivers_status(setup: Setup) -> None:
    result = check_cli(setup, "--show-waived", lockfile=setup.show_waived)
    assert result.returncode == 1  # the expired waiver leaves the postgresql drift failing
    out = result.stdout
    _, found = rows(section(out, "Findings", "waivers:")[:-1])
    statuses = {(r[1], r[4]): r[-1] for r in found if r[-1] != "ok"}
    waived = statuses[("2hosts", "nginx")]
    assert waived.startswith("waived[")
    assert footnote(out, waived).startswith("rolledearlyonpurpose")
    expired = statuses[("db-s1", "postgresql-15")]
    assert expired.startswith("drift(older)[")
    assert footnote(out, expired) == "waiverexpired2000-01-01"
    listing: list[str] = []
    for line in out[out.index("waivers:\n") :].splitlines()[1:]:
        if line.startswith("    ") and listing:  # a wrapped entry continues
            listing[-1] += " " + line.strip()
        else:
            listing.append(line)
    assert len(listing) == 3, listing
    lines = setup.show_waived.read_text().splitlines()
    expected = [
        ("nginx env=production role=app - active until 2999-12-31, covers 2 finding(s)"),
        ("postgresql-15 host=db-s1 - expired 2000-01-01: downgrade for a replication test"),
        ("redis-server - unused (until 2999-12-31): nobody runs it"),
    ]
    for line, want in zip(listing, expected, strict=True):
        where, _, rest = line.strip().partition(": ")
        assert rest.startswith(want), (line, want)
        # Each waiver is located in the lockfile: its line belongs to that [[waivers]] entry.
        number = int(where.rsplit(":", 2)[1])
        block = "\n".join(lines[number - 1 : number + 6])
        assert f'package = "{want.split()[0]}"' in block, (where, block)
