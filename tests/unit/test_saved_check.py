"""``api.check_saved``: saved data matched with the inventory, without contacting any host."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr import api, snapshot
from pinmgr.errors import PinmgrError, UsageError
from pinmgr.model import (
    CheckReport,
    Ecosystem,
    FailureKind,
    FindingKind,
    Host,
    HostFailure,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
    SavedResult,
)
from pinmgr.snapshot import Snapshot

T0 = dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=dt.timezone.utc)
LOCK = """\
schema = 1

[roles.app."debian-12".deb]
bash = "5.2.15-2+b2"

[roles.app."debian-12".pip]
requests = "2.31.0"

[roles.db."debian-12".deb]
bash = "5.2.15-2+b2"
"""
INVENTORY = """\
schema = 1

[environments.prod.hosts.web1]
roles = ["app"]
pip = ["/srv/venv"]

[environments.prod.hosts.web2]
roles = ["app"]

[environments.staging.hosts.db1]
roles = ["db"]
"""


def _result(name: str, env: str, roles: tuple[str, ...], bash: str) -> HostSnapshot:
    return HostSnapshot(
        Host(name, env, roles),
        OsRelease("debian", "12"),
        (InstalledPackage(Ecosystem.DEB, "bash", bash, "amd64"),),
    )


def _write(path: Path, *results: SavedResult) -> Path:
    snapshot.write(path, Snapshot(results, T0, T0, "0.1.0"))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pinmgr.toml").write_text(LOCK)
    (tmp_path / "inventory.toml").write_text(INVENTORY)
    return tmp_path


def _check(project: Path, *paths: Path, **kw: Any) -> CheckReport:
    return api.check_saved(
        project / "pinmgr.toml",
        project / "inventory.toml",
        paths,
        **kw,  # type: ignore[arg-type]
    )


def _kinds(report: CheckReport) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in report.findings:
        out.setdefault(f.host, set()).add(f.kind.value)
    return out


def test_inventory_gives_env_and_roles_and_gaps_are_findings(project: Path) -> None:
    # The snapshot says web1 is a db host in "old": the inventory (prod, app) wins.
    shard1 = _write(
        project / "s1.json",
        SavedResult(_result("web1", "old", ("db",), "5.2.15-2+b2"), T0, ""),
        SavedResult(_result("ghost", "", (), "1"), T0, ""),
    )
    report = _check(project, shard1)
    kinds = _kinds(report)
    # Its pip pins were not checked (the saved data has no pip packages): a finding, not a skip.
    assert kinds["web1"] == {"ok", "not-checked"}
    web1 = next(f for f in report.findings if f.host == "web1")
    assert (web1.env, web1.role) == ("prod", "app")
    assert kinds["web2"] == {"no-data"} and kinds["db1"] == {"no-data"}
    assert kinds["ghost"] == {"not-in-inventory"}
    # web1's inventory names /srv/venv, the snapshot did not ask it: pip pins not checked, said.
    assert any(w.host == "web1" and "pip pins" in w.message for w in report.warnings)


def test_shards_merge_and_a_host_seen_twice_keeps_the_newer(project: Path) -> None:
    a = _write(project / "a.json", SavedResult(_result("web1", "prod", ("app",), "1"), T0, ""))
    later = T0 + dt.timedelta(hours=2)
    b = _write(
        project / "b.json.gz",
        SavedResult(_result("web1", "prod", ("app",), "5.2.15-2+b2"), later, ""),
        SavedResult(_result("web2", "prod", ("app",), "5.2.15-2+b2"), T0, ""),
        SavedResult(_result("db1", "staging", ("db",), "5.2.15-2+b2"), T0, ""),
    )
    for order in ((a, b), (b, a)):
        report = _check(project, *order)
        app = {"ok", "not-checked"}  # the app pip pin: no pip data saved for web1/web2
        assert _kinds(report) == {"web1": app, "web2": app, "db1": {"ok"}}
        (dup,) = [w for w in report.warnings if "several saved sources" in w.message]
        assert dup.host == "web1" and f"kept {b}" in dup.message and f"ignored {a}" in dup.message


def test_env_and_role_selection_apply_to_saved_data(project: Path) -> None:
    path = _write(project / "s.json", SavedResult(_result("db1", "x", (), "0"), T0, ""))
    report = _check(project, path, options=api.CheckOptions(envs=("staging",)))
    assert _kinds(report) == {"db1": {"drift"}}


def test_a_host_only_in_a_snapshot_keeps_the_snapshots_env_and_roles(project: Path) -> None:
    path = _write(project / "s.json", SavedResult(_result("new1", "prod", ("db",), "0"), T0, ""))
    report = _check(project, path, options=api.CheckOptions(envs=("prod",)))
    assert _kinds(report)["new1"] == {"drift"}
    assert any(w.host == "new1" and "not in the inventory" in w.message for w in report.warnings)
    # Without any inventory the snapshot is the inventory: checked, and no warning about it.
    bare = api.check_saved(project / "pinmgr.toml", None, [path])
    assert _kinds(bare) == {"new1": {"drift"}} and not bare.warnings


def test_stale_data_is_a_host_failure(project: Path) -> None:
    path = _write(
        project / "s.json",
        SavedResult(_result("web1", "prod", ("app",), "5.2.15-2+b2"), T0, ""),
        SavedResult(
            _result("web2", "prod", ("app",), "5.2.15-2+b2"), T0 + dt.timedelta(days=1), ""
        ),
    )
    now = T0 + dt.timedelta(days=1, hours=1)
    report = _check(project, path, max_age=dt.timedelta(hours=24), now=now)
    kinds = _kinds(report)
    assert kinds["web1"] == {"stale"} and kinds["web2"] == {"ok", "not-checked"}
    stale = next(f for f in report.findings if f.kind is FindingKind.STALE)
    assert "25h ago (over --max-age 24h)" in stale.reason
    assert stale.kind.is_host_failure


def test_saved_failures_stay_failures(project: Path) -> None:
    failure = HostFailure(Host("web1", "prod", ("app",)), FailureKind.TIMEOUT, "timed out")
    path = _write(project / "s.json", SavedResult(failure, T0, ""))
    report = _check(project, path)
    web1 = next(f for f in report.findings if f.host == "web1")
    assert web1.kind is FindingKind.TIMEOUT and web1.reason == "timed out"


def test_unknown_or_missing_paths_are_usage_errors(project: Path) -> None:
    with pytest.raises(UsageError, match="no such snapshot"):
        _check(project, project / "nope.json")
    (project / "other.json").write_text('{"hello": 1}')
    with pytest.raises(UsageError, match="neither a pinmgr snapshot nor Ansible facts"):
        _check(project, project / "other.json")
    (project / "broken.json").write_text("{")
    with pytest.raises(PinmgrError, match=r"broken\.json:1:2: not JSON"):
        _check(project, project / "broken.json")


def test_installable_needs_live_hosts(project: Path) -> None:
    path = _write(project / "s.json")
    with pytest.raises(UsageError, match="--installable"):
        _check(project, path, options=api.CheckOptions(installable=True))


def test_diff_of_saved_data_by_environment_and_by_host(project: Path) -> None:
    path = _write(
        project / "s.json",
        SavedResult(_result("web1", "prod", ("app",), "5.2.15-2+b2"), T0, ""),
        SavedResult(_result("web2", "prod", ("app",), "5.2.15-2+b2"), T0, ""),
        SavedResult(_result("db1", "staging", ("db",), "5.2.21-2"), T0, ""),
    )
    inv = project / "inventory.toml"
    result = api.diff_saved(inv, "web1", "db1", [path])
    (row,) = result.rows
    assert not result.failures
    assert "5.2.15-2+b2" in repr(row) and "5.2.21-2" in repr(row)
    assert api.diff_exit_code(result) == 1
    assert api.diff_saved(inv, "web1", "web2", [path]).rows == ()


def test_diff_of_saved_data_names_hosts_without_data(project: Path) -> None:
    path = _write(project / "s.json", SavedResult(_result("web1", "prod", ("app",), "1"), T0, ""))
    result = api.diff_saved(project / "inventory.toml", "prod", "staging", [path])
    assert {(f.host.name, f.kind) for f in result.failures} == {
        ("web2", FailureKind.NO_DATA),
        ("db1", FailureKind.NO_DATA),
    }
    assert api.diff_exit_code(result) == 3


def test_a_directory_of_shards_reads_like_the_files(project: Path) -> None:
    shards = project / "shards"
    shards.mkdir()
    _write(shards / "1.json.gz", SavedResult(_result("web1", "prod", ("app",), "1"), T0, ""))
    _write(shards / "2.json", SavedResult(_result("web2", "prod", ("app",), "1"), T0, ""))
    _write(shards / "3.json", SavedResult(_result("db1", "staging", ("db",), "1"), T0, ""))
    by_dir = _check(project, shards)
    by_files = _check(project, *sorted(shards.iterdir()))
    app = {"drift", "not-checked"}  # the app pip pin: no pip data saved
    assert _kinds(by_dir) == _kinds(by_files) == {"web1": app, "web2": app, "db1": {"drift"}}
    (shards / "4.json").write_text('{"packages": {}}')
    with pytest.raises(UsageError, match=r"4\.json: not a pinmgr snapshot, in a directory"):
        _check(project, shards)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.one_of(
        st.binary(max_size=64),
        st.binary(max_size=64).map(lambda b: b"\x1f\x8b" + b),
        st.binary(max_size=64).map(lambda b: gzip.compress(b, mtime=0)),
        st.binary(max_size=64).map(lambda b: gzip.compress(b, mtime=0)[: len(b) % 30]),
        st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
)
def test_any_bytes_as_a_snapshot_path_is_read_or_one_line(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x"
    path.write_bytes(data)
    try:
        api.load_saved([path])
    except PinmgrError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
