"""``check`` recording into the history store, ``--fail-on new`` and ``pinmgr history``, end
to end with the installed CLI: this machine collected for real by ``pinmgr collect``, then
checked three times from that snapshot (the third with one package changed, as an upgrade
between two runs would), on SQLite and on a real PostgreSQL 15 server."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.cli import run_pinmgr
from tests.functional.test_snapshot_cli import host_packages

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "pins" / "pinmgr.toml"

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query")


# Each test names its store; the suite turns recording off (tests/conftest.py).
_UNSET = ("PINMGR_HISTORY", "PINMGR_NO_HISTORY")


def pinmgr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_pinmgr(*args, cwd=cwd, columns=200, timeout=120, unset=_UNSET)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lockfile, and this machine's snapshot as ``pinmgr collect`` wrote it, twice: as
    collected, and with base-files changed (a pinned package: a new drift)."""
    work = tmp_path_factory.mktemp("history")
    shutil.copy(LOCK, work / "pinmgr.toml")
    result = pinmgr("collect", "-o", "before.json", "-q", "--no-history", cwd=work)
    assert result.returncode == 0, result.stderr
    doc = json.loads((work / "before.json").read_text())
    host_packages(doc, 0, "deb")["base-files"][2] = "12.0"
    (work / "after.json").write_text(json.dumps(doc))
    return work


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, world: Path) -> str:
    if request.param == "sqlite":
        path = world / f"store-{request.node.name}" / "history.sqlite"
        return str(path)
    return str(request.getfixturevalue("pg_server").new_database())


def check(world: Path, store: str, snapshot: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return pinmgr(
        "check", "-l", "pinmgr.toml", "--snapshot", snapshot, "--history", store, "-q", *extra,
        cwd=world,
    )  # fmt: skip


def _findings(stdout: str) -> dict[tuple[str, str], str | None]:
    return {(f["kind"], f["package"]): f["known_since"] for f in json.loads(stdout)["findings"]}


def test_three_runs_fail_on_new_and_history(world: Path, store: str) -> None:
    first = check(world, store, "before.json", "--fail-on", "new", "-f", "json", "--no-ok")
    assert first.returncode == 1, first.stderr  # nothing recorded before: every finding is new
    assert _findings(first.stdout) == {
        ("drift", "bash"): "new",
        ("missing", "nginx"): "new",
        ("not-checked", None): "new",  # the bundled pip pins: this machine lists no interpreter
    }

    second = check(world, store, "before.json", "--fail-on", "new", "-f", "json", "--no-ok")
    assert second.returncode == 0, second.stderr  # the same drift as last time: known
    since = _findings(second.stdout)[("drift", "bash")]
    assert since is not None and since != "new"
    assert dt.datetime.fromisoformat(since.replace("Z", "+00:00")) <= dt.datetime.now(
        dt.timezone.utc
    )

    before = dt.datetime.now(dt.timezone.utc)
    third = check(world, store, "after.json", "--fail-on", "new", "--new-only", "-f", "json")
    after = dt.datetime.now(dt.timezone.utc)
    assert third.returncode == 1, third.stderr
    assert _findings(third.stdout) == {("drift", "base-files"): "new"}  # --new-only
    # Without --fail-on new the old drift fails the run as always.
    assert check(world, store, "after.json", "--no-history").returncode == 1

    shown = pinmgr(
        "history", "localhost", "base-files", "--history", store, "-f", "json", cwd=world
    )
    assert shown.returncode == 0, shown.stderr
    spans = json.loads(shown.stdout)["versions"]
    assert [(s["version"], s["first_recorded"]) for s in spans] == [
        (spans[0]["version"], True),
        ("12.0", False),
    ]
    changed = dt.datetime.fromisoformat(spans[1]["appeared"].replace("Z", "+00:00"))
    assert before <= changed <= after
    assert spans[0]["disappeared"] == spans[1]["appeared"] and spans[1]["disappeared"] is None

    table = pinmgr("history", "localhost", "base-files", "--history", store, cwd=world)
    assert "12.0" in table.stdout and changed.strftime("%Y-%m-%d %H:%M:%SZ") in table.stdout

    runs = pinmgr("history", "--runs", "--history", store, "-f", "json", cwd=world)
    recorded = json.loads(runs.stdout)["runs"]
    assert [(r["id"], r["command"], r["counts"].get("drift")) for r in recorded] == [
        (3, "check", 2),
        (2, "check", 1),
        (1, "check", 1),
    ]


def test_every_format_marks_new_and_known(world: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "h.sqlite")
    check(world, store, "before.json")
    out = tmp_path / "r"
    result = check(
        world, store, "after.json", "-o", f"junit={out}.xml", "-o", f"sarif={out}.sarif",
        "-o", f"markdown={out}.md", "-o", f"github={out}.txt", "--no-ok",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "drift (newer) · known since" in result.stdout and "· new" in result.stdout
    junit = Path(f"{out}.xml").read_text()
    assert "history: new" in junit and "history: known since " in junit
    sarif = json.loads(Path(f"{out}.sarif").read_text())
    marks = {
        r["properties"].get("package"): r["properties"]["history"]
        for r in sarif["runs"][0]["results"]
    }
    assert marks["base-files"] == "new" and marks["bash"].startswith("known since ")
    assert "(new)" in Path(f"{out}.md").read_text()
    github = Path(f"{out}.txt").read_text()
    assert "::[new] localhost" in github and "::[known since " in github


def test_fail_on_new_needs_the_store(world: Path) -> None:
    result = check(world, "unused", "before.json", "--fail-on", "new", "--no-history")
    assert result.returncode == 2
    assert result.stderr == (
        "pinmgr: error: --fail-on new compares with the history store: not with --no-history\n"
    )


def test_a_read_only_directory_warns_and_the_check_goes_on(world: Path, tmp_path: Path) -> None:
    """The lockfile's directory bind-mounted read-only in a private mount namespace (root
    ignores permission bits, not a read-only mount): .pinmgr/ cannot be made there."""
    locked = tmp_path / "ro"
    locked.mkdir()
    shutil.copy(world / "pinmgr.toml", locked / "pinmgr.toml")
    shutil.copy(world / "before.json", locked / "before.json")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && cd "$0" && exec "$@"'
    args = ("check", "-l", "pinmgr.toml", "--snapshot", "before.json", "-q", "--no-ok")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PINMGR_HISTORY", None)
    env.pop("PINMGR_NO_HISTORY", None)
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(locked),
         sys.executable, "-m", "pinmgr", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # as without history: the drift decides
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pinmgr: warning: history not recorded: ")
    assert "Read-only file system" in lines[0]
    assert not (locked / ".pinmgr").exists()


def test_a_store_in_a_read_only_directory_is_still_read(world: Path, tmp_path: Path) -> None:
    """A store recorded earlier, then its directory mounted read-only (a CI cache, another
    user's checkout): history and report --from-history read it; --prune says it cannot."""
    home = tmp_path / "shared"
    home.mkdir()
    shutil.copy(world / "pinmgr.toml", home / "pinmgr.toml")
    env = {k: v for k, v in os.environ.items() if k not in ("PINMGR_HISTORY", "PINMGR_NO_HISTORY")}
    for snap in ("before.json", "after.json"):  # two runs, with a version change between
        shutil.copy(world / snap, home / snap)
        done = subprocess.run(
            [sys.executable, "-m", "pinmgr", "check", "-l", "pinmgr.toml", "--snapshot", snap,
             "-q", "--no-ok"],
            cwd=home, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 1 and done.stderr == "", done.stderr
    store = home / ".pinmgr"
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && cd "$1" && shift && "$@"'

    def read_only(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(store),
             str(home), sys.executable, "-m", "pinmgr", *args],
            env={**env, "NO_COLOR": "1", "COLUMNS": "200"},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    history = read_only("history", "-l", "pinmgr.toml", "localhost", "base-files", "-f", "json")
    assert history.returncode == 0, history.stderr
    versions = {row["version"] for row in json.loads(history.stdout)["versions"]}
    assert "12.0" in versions and len(versions) == 2, versions
    glob = read_only("history", "-l", "pinmgr.toml", "local*", "base-files", "-f", "json")
    assert glob.returncode == 0 and glob.stdout == history.stdout, glob.stderr
    runs = read_only("history", "-l", "pinmgr.toml", "--runs")
    assert runs.returncode == 0 and len(runs.stdout.splitlines()) == 3, runs.stdout + runs.stderr
    page = read_only(
        "report", "-l", "pinmgr.toml", "--from-history", "--html", str(tmp_path / "r.html")
    )
    assert page.returncode in (0, 1), page.stderr
    assert (tmp_path / "r.html").stat().st_size > 0
    prune = read_only("history", "-l", "pinmgr.toml", "--prune", "--keep", "1d")
    assert prune.returncode == 2 and "cannot open the history store" in prune.stderr


def test_prune_keeps_recent_runs(world: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "h.sqlite")
    check(world, store, "before.json")
    result = pinmgr("history", "--prune", "--keep", "90d", "--history", store, cwd=world)
    assert (result.returncode, result.stdout) == (0, "0 runs older than 90d deleted\n")
    bad = pinmgr("history", "--prune", "--history", store, cwd=world)
    assert bad.returncode == 2 and "--prune and --keep AGE go together" in bad.stderr


def test_collect_is_recorded_for_history(world: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "h.sqlite")
    result = pinmgr("collect", "-o", str(tmp_path / "s.json"), "-q", "--history", store, cwd=world)
    assert result.returncode == 0, result.stderr
    runs = json.loads(
        pinmgr("history", "--runs", "--history", store, "-f", "json", cwd=world).stdout
    )
    assert [(r["command"], r["hosts_collected"]) for r in runs["runs"]] == [("collect", 1)]
    shown = pinmgr("history", "localhost", "dpkg", "--history", store, "-f", "json", cwd=world)
    (span,) = json.loads(shown.stdout)["versions"]
    assert span["first_recorded"] and span["disappeared"] is None


def test_report_draws_the_trend_and_reads_the_last_run(world: Path, store: str) -> None:
    """``pinmgr report`` reads the store it is pointed at: the trend of the recorded checks,
    and with ``--from-history`` the last recorded check itself (no host, no snapshot)."""
    assert check(world, store, "before.json").returncode == 1
    assert check(world, store, "after.json").returncode == 1
    page = world / f"report-{Path(store).name}.html"
    made = pinmgr(
        "report",
        "--html",
        str(page),
        "-l",
        "pinmgr.toml",
        "--history",
        store,
        "--from-history",
        "-q",
        cwd=world,
    )
    assert made.returncode == 0, made.stderr
    html = page.read_text()
    assert '<svg class="trend" id="trend"' in html and "No recorded runs yet" not in html
    assert "base-files" in html  # the last run's new drift, from the store
    nothing = pinmgr(
        "report", "--html", str(page), "--no-history", "--from-history", "-q", cwd=world
    )
    assert nothing.returncode == 2 and "--from-history" in nothing.stderr
