"""osquery results read back by pinmgr: result logs (event, batch, snapshot form) and osqueryi.

osquery itself cannot run here (not in Debian or PyPI): the files under tests/data/osquery/ are
osquery's own published examples or composed from osquery's table specs and serializer
(tests/data/osquery/README.md says which is which). The functional test
(tests/functional/test_osquery_cli.py) feeds rows built from this machine's real dpkg database.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr.collectors.ingest import osquery
from pinmgr.collectors.ingest.ansible_facts import IngestError
from pinmgr.model import Ecosystem, FailureKind, HostFailure, HostSnapshot, OsRelease, PackageState

DATA = Path(__file__).resolve().parents[2] / "data" / "osquery"
T0 = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.timezone.utc)
T1 = T0 + dt.timedelta(days=1)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _by_host(*paths: Path, pip: dict[str, tuple[str, ...]] | None = None) -> dict[str, object]:
    return {s.result.host.name: s for s in osquery.read(list(paths), None, pip)}


def _snap(saved: object) -> HostSnapshot:
    result = saved.result  # type: ignore[attr-defined]
    assert isinstance(result, HostSnapshot), result
    return result


def _versions(snap: HostSnapshot, eco: Ecosystem) -> dict[str, str]:
    return {p.name: p.version for p in snap.packages if p.ecosystem is eco}


def test_event_form_rebuilds_the_newest_state() -> None:
    pip = {"web1.example.com": ("/srv/app/venv", "/usr/bin/python3", "/opt/none/bin/python")}
    hosts = _by_host(DATA / "results-event.log", pip=pip)
    saved = hosts["web1.example.com"]
    snap = _snap(saved)
    assert snap.os_release == OsRelease("debian", "12")
    deb = _versions(snap, Ecosystem.DEB)
    assert deb["openssl"] == "3.0.22-1~deb12u2"  # the day-later differential applied
    assert deb["vim"] == "2:9.0.1378-2+deb12u2"  # the epoch, as dpkg writes the version
    assert deb["libc6:i386"] == deb["libc6"]  # foreign arch qualified as dpkg-query does
    assert "oldpkg" not in deb  # "deinstall ok config-files": not installed
    assert saved.collected_at == T1  # type: ignore[attr-defined]
    pip_rows = {(p.name, p.origin) for p in snap.packages if p.ecosystem is Ecosystem.PIP}
    assert pip_rows == {
        ("django", "/srv/app/venv"),
        ("asgiref", "/srv/app/venv"),
        ("requests", "/usr/bin/python3"),  # /usr/lib/python3/dist-packages
    }
    # The inventory's third interpreter has no rows: not claimed, so check warns about it.
    assert snap.host.pip == ("/srv/app/venv", "/usr/bin/python3")


def test_without_inventory_pip_paths_python_rows_are_not_used() -> None:
    snap = _snap(_by_host(DATA / "results-event.log")["web1.example.com"])
    assert not [p for p in snap.packages if p.ecosystem is Ecosystem.PIP] and not snap.host.pip


def test_differential_without_its_initial_run_is_incomplete() -> None:
    web4 = _by_host(DATA / "results-event.log")["web4.example.com"].result  # type: ignore[attr-defined]
    assert isinstance(web4, HostFailure) and web4.kind is FailureKind.INCOMPLETE
    assert "without the initial run (counter 0)" in web4.reason
    assert "pack_pinmgr_deb_packages" in web4.reason


def test_batch_form_with_string_numbers_and_rpm_evr() -> None:
    saved = _by_host(DATA / "results-batch.log")["db1"]
    snap = _snap(saved)
    assert snap.os_release == OsRelease("rocky", "9.4")
    rpm = {(p.name, p.version, p.arch) for p in snap.packages}
    assert ("openssl", "1:3.0.7-27.el9", "x86_64") in rpm  # epoch 1 kept
    assert ("bash", "5.1.8-9.el9", "x86_64") in rpm  # no epoch: none written
    assert ("postgresql", "13.16-1.el9_4", "x86_64") in rpm
    assert not [r for r in rpm if r[0] == "postgresql" and r[1] != "13.16-1.el9_4"]
    assert len([r for r in rpm if r[0] == "kernel"]) == 2  # several versions of one name
    assert not [r for r in rpm if r[0] == "gpg-pubkey"]
    assert saved.collected_at == T1  # type: ignore[attr-defined]


def test_snapshot_form_newest_snapshot_wins() -> None:
    snap = _snap(_by_host(DATA / "snapshots.log")["web2"])
    assert snap.os_release == OsRelease("ubuntu", "22.04")
    assert _versions(snap, Ecosystem.DEB)["libc6"] == "2.35-0ubuntu3.8"


def test_osqueryi_files_named_after_the_host() -> None:
    saved = _by_host(DATA / "osqueryi")["web3"]
    snap = _snap(saved)
    assert snap.os_release == OsRelease("debian", "12")
    assert _versions(snap, Ecosystem.DEB)["openssl"] == "3.0.17-1~deb12u1"
    mtime = (DATA / "osqueryi" / "web3.deb_packages.json").stat().st_mtime
    assert saved.collected_at.timestamp() >= mtime - 1  # type: ignore[attr-defined]


def test_osquerys_own_documented_lines_are_read() -> None:
    """The examples of osquery's logging docs (processes, event/snapshot/batch form): read
    without error; the host has no package table, so it is incomplete, not empty."""
    (saved,) = osquery.read([DATA / "osquery-docs-examples.log"])
    assert saved.result.host.name == "hostname.local"
    assert isinstance(saved.result, HostFailure)
    assert saved.result.kind is FailureKind.INCOMPLETE
    assert saved.collected_at == dt.datetime(2016, 5, 2, 22, 27, 32, tzinfo=dt.timezone.utc)


def _line(name: str, counter: int, t: int, **body: object) -> str:
    doc = {"name": name, "hostIdentifier": "h1", "unixTime": t, "epoch": 0, "counter": counter}
    return json.dumps({**doc, **body})


OS_ROW = {"platform": "debian", "major": "12", "minor": "", "version": "12 (bookworm)"}


def _deb_row(name: str, version: str, status: str = "install ok installed") -> dict[str, str]:
    return {"name": name, "version": version, "arch": "amd64", "status": status}


def test_a_new_initial_run_replaces_the_state(tmp_path: Path) -> None:
    """A schedule epoch change (or a changed query) starts again at counter 0: rows of the
    earlier run that are not in the new one are gone."""
    lines = [
        _line("os_version", 0, 100, columns=OS_ROW, action="added"),
        _line(
            "deb_packages", 0, 100, diffResults={"added": [_deb_row("a", "1"), _deb_row("b", "1")]}
        ),
        _line("deb_packages", 0, 200, diffResults={"added": [_deb_row("a", "2")]}),
    ]
    (tmp_path / "r.log").write_text("\n".join(lines) + "\n")
    snap = _snap(_by_host(tmp_path / "r.log")["h1"])
    assert _versions(snap, Ecosystem.DEB) == {"a": "2"}


def test_held_and_half_installed_states(tmp_path: Path) -> None:
    rows = [
        _deb_row("a", "1", "hold ok installed"),
        _deb_row("b", "1", "install ok half-configured"),
        _deb_row("c", "1", "install reinstreq installed"),
    ]
    lines = [
        _line("os_version", 0, 100, snapshot=[OS_ROW], action="snapshot"),
        _line("deb_packages", 0, 100, snapshot=rows, action="snapshot"),
    ]
    (tmp_path / "r.log").write_text("\n".join(lines))
    snap = _snap(_by_host(tmp_path / "r.log")["h1"])
    states = {p.name: p.state for p in snap.packages}
    assert states == {
        "a": PackageState.HELD,
        "b": PackageState.HALF_INSTALLED,
        "c": PackageState.HALF_INSTALLED,
    }


def test_a_row_that_does_not_parse_makes_the_host_incomplete(tmp_path: Path) -> None:
    lines = [
        _line("os_version", 0, 100, snapshot=[OS_ROW], action="snapshot"),
        _line(
            "deb_packages", 0, 100, snapshot=[_deb_row("a", "1", "bad status")], action="snapshot"
        ),
    ]
    (tmp_path / "r.log").write_text("\n".join(lines))
    result = _by_host(tmp_path / "r.log")["h1"].result  # type: ignore[attr-defined]
    assert isinstance(result, HostFailure) and result.kind is FailureKind.INCOMPLETE
    assert "deb_packages: 1 row does not parse" in result.reason


JAMMY = "22.04.5 LTS (Jammy Jellyfish)"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"platform": "ubuntu", "major": "22", "minor": "04", "version": JAMMY}, "22.04"),
        ({"platform": "ubuntu", "major": "22", "minor": "4", "version": JAMMY}, "22.04"),
        ({"platform": "debian", "major": "12", "minor": "", "version": "12 (bookworm)"}, "12"),
        ({"platform": "debian", "major": "12", "minor": "0", "patch": "0", "version": "12"}, "12"),
        ({"platform": "rocky", "major": "9", "minor": "4", "version": "9.4 (Blue Onyx)"}, "9.4"),
        ({"platform": "rhel", "major": 9, "minor": 3, "version": ""}, "9.3"),
    ],
)
def test_os_version_as_os_release(row: dict[str, object], expected: str) -> None:
    text = {k: str(v) for k, v in row.items()}
    assert osquery.os_release_of(text) == OsRelease(str(row["platform"]), expected)


HEAD = '{"name":"q","hostIdentifier":"h",'
GOOD = HEAD + '"unixTime":1,"columns":{},"action":"added"}\n'


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (GOOD + "{", "r.log:2:2: not JSON"),
        (GOOD + "[1]", "r.log:2: not an osquery result line"),
        (HEAD + '"unixTime":"x","snapshot":[]}', "r.log:1: unixTime: expected a whole number"),
        (HEAD + '"unixTime":1,"columns":{"a":[1]},"action":"added"}',
         "r.log:1: columns.a: expected a string or a number"),
        (HEAD + '"unixTime":1,"columns":{},"action":"gone"}',
         "r.log:1: action: 'gone' is not added/removed"),
        ('{"name":"q","hostIdentifier":" ","unixTime":1,"snapshot":[]}',
         "r.log:1: hostIdentifier is empty"),
    ],
)  # fmt: skip
def test_bad_lines_are_one_error_naming_file_and_line(
    tmp_path: Path, content: str, expected: str
) -> None:
    (tmp_path / "r.log").write_text(content)
    assert osquery.is_results_log(tmp_path / "r.log")
    with pytest.raises(IngestError) as err:
        osquery.read([tmp_path / "r.log"])
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_detection_leaves_other_saved_kinds_alone(tmp_path: Path) -> None:
    snapshot = {"format": "pinmgr-snapshot", "format_version": 1, "hosts": []}
    (tmp_path / "s.json").write_text(json.dumps(snapshot))
    (tmp_path / "facts").write_text(json.dumps({"ansible_facts": {"ansible_hostname": "x"}}))
    assert not osquery.is_results_log(tmp_path / "s.json")
    assert not osquery.is_results_log(tmp_path / "facts")
    assert not osquery.looks_like_rows(snapshot)
    assert osquery.looks_like_rows([{"name": "bash", "version": "5", "arch": "amd64"}])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
KEYS = st.sampled_from(
    ["name", "hostIdentifier", "unixTime", "counter", "epoch", "columns", "action",
     "snapshot", "diffResults", "added", "removed", "version", "status", "platform", "major"]
)  # fmt: skip
LINE = st.dictionaries(KEYS, JSON, max_size=8).map(
    lambda d: {"name": "deb_packages", "hostIdentifier": "h", "unixTime": 1, "snapshot": [], **d}
)


@FUZZ
@given(lines=st.lists(LINE, min_size=1, max_size=5))
def test_arbitrary_result_lines_are_read_or_refused_in_one_line(
    tmp_path: Path, lines: list[dict[str, object]]
) -> None:
    path = tmp_path / "fuzz.log"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    try:
        results = osquery.read([path])
    except IngestError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert all(isinstance(s.result, HostSnapshot | HostFailure) for s in results)


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_are_read_or_refused_in_one_line(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.log"
    path.write_bytes(b'{"name":"q","hostIdentifier":"h","unixTime":1,"snapshot":[]}\n' + data)
    assert osquery.is_results_log(path)
    try:
        osquery.read([path])
    except IngestError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
