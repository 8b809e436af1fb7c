"""The snapshot file: round trip, the documented schema, merging, and hostile input."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr import snapshot
from pinmgr.model import (
    Ecosystem,
    FailureKind,
    Host,
    HostFailure,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
    PackageState,
    SavedResult,
)
from pinmgr.snapshot import Snapshot, SnapshotError

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "snapshot.schema.json").read_text()
)
T0 = dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=dt.timezone.utc)


def _snap_host(name: str, env: str = "prod", when: dt.datetime = T0) -> SavedResult:
    host = Host(name, env, ("app", "db"), pip=("/srv/venv",))
    packages = (
        InstalledPackage(Ecosystem.DEB, "bash", "5.2.15-2+b2", "amd64"),
        InstalledPackage(Ecosystem.DEB, "libssl3:i386", "3.0.11-1~deb12u2", "i386"),
        InstalledPackage(Ecosystem.DEB, "nginx", "1:1.22.1-9", "amd64", PackageState.HELD),
        InstalledPackage(Ecosystem.PIP, "requests", "2.31.0", origin="/srv/venv"),
        InstalledPackage(Ecosystem.RPM, "bash", "5.1.8-6.el9", "x86_64"),
    )
    result = HostSnapshot(host, OsRelease("debian", "12"), packages, ("dpkg: odd line: \x1b[x",))
    return SavedResult(result, when, "")


def _failed_host(name: str) -> SavedResult:
    host = Host(name, "staging", ("app",))
    failure = HostFailure(host, FailureKind.TIMEOUT, "timed out after 10 s", ("stderr: x",))
    return SavedResult(failure, T0, "")


def _snapshot() -> Snapshot:
    return Snapshot(
        results=(_snap_host("web1"), _failed_host("web2"), _snap_host("web1", "staging")),
        started_at=T0,
        finished_at=T0 + dt.timedelta(seconds=5),
        pinmgr_version="0.1.0",
        envs=("prod", "staging"),
        shard="2/4",
    )


@pytest.mark.parametrize("name", ["fleet.json", "fleet.json.gz"])
def test_round_trip_through_a_file_valid_against_the_schema(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    original = _snapshot()
    snapshot.write(path, original)
    raw = path.read_bytes()
    assert raw.startswith(b"\x1f\x8b") == name.endswith(".gz")
    document = json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)
    jsonschema.validate(document, SCHEMA)
    back = snapshot.read(path)
    assert back.started_at == original.started_at
    assert back.shard == "2/4" and back.envs == ("prod", "staging")
    assert [r.collected_at for r in back.results] == [r.collected_at for r in original.results]
    assert [r.source for r in back.results] == [str(path)] * 3
    for got, want in zip(back.results, original.results, strict=True):
        assert got.result == want.result


def test_gzip_is_detected_from_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "no-suffix"
    path.write_bytes(snapshot.dumps(_snapshot(), compress=True))
    assert len(snapshot.read(path).results) == 3


def test_same_snapshot_same_bytes() -> None:
    assert snapshot.dumps(_snapshot(), compress=True) == snapshot.dumps(_snapshot(), compress=True)


def test_merge_keeps_the_newer_copy_and_says_so() -> None:
    old = SavedResult(_snap_host("web1").result, T0, "a.json")
    new = SavedResult(_snap_host("web1").result, T0 + dt.timedelta(hours=1), "b.json")
    other = SavedResult(_snap_host("web2").result, T0, "a.json")
    for order in ([old, new, other], [new, old, other]):
        kept, warnings = snapshot.merge(order)
        assert {(r.result.host.name, r.source) for r in kept} == {
            ("web1", "b.json"),
            ("web2", "a.json"),
        }
        (warning,) = warnings
        assert warning.host == "web1" and warning.env == "prod"
        assert "kept b.json" in warning.message and "ignored a.json" in warning.message


def test_same_name_in_two_environments_is_two_hosts() -> None:
    kept, warnings = snapshot.merge([_snap_host("web1"), _snap_host("web1", "staging")])
    assert len(kept) == 2 and not warnings


def _document() -> dict[str, Any]:
    return snapshot.to_document(_snapshot())


def _document_v1() -> dict[str, Any]:
    """The same snapshot in format 1 (each host's packages as objects), which is still read."""
    document = _document()
    table = document.pop("package_table")
    document["format_version"] = 1
    for host in document["hosts"]:
        if "packages" not in host:
            continue
        by_eco: dict[str, list[dict[str, str]]] = {"deb": [], "rpm": [], "pip": []}
        for i in host["packages"]:
            eco, name, version, arch, state, origin = table[i]
            entry = {"name": name, "version": version, "arch": arch, "state": state}
            if origin:
                entry["origin"] = origin
            by_eco.setdefault(eco, []).append(entry)
        host["packages"] = by_eco
    return document


def test_format_1_is_still_read_as_the_same_snapshot(tmp_path: Path) -> None:
    document = _document_v1()
    jsonschema.validate(document, SCHEMA)
    back = snapshot.read(_write(tmp_path, document))
    for got, want in zip(back.results, _snapshot().results, strict=True):
        assert got.result == want.result


def test_format_2_lists_each_distinct_package_once() -> None:
    document = _document()
    assert document["format_version"] == 2
    table = document["package_table"]
    assert len(table) == 5  # web1 in two environments: the same five packages, once
    assert table == sorted(table)
    assert document["hosts"][0]["packages"] == document["hosts"][2]["packages"] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("packages", "expected"),
    [
        ([0, 5], "packages: expected indices into package_table (0-4)"),
        ([-1], "packages: expected indices into package_table (0-4)"),
        ([True], "packages: expected indices into package_table"),
        ([1.0], "packages: expected indices into package_table"),
        (["0"], "packages: expected indices into package_table"),
        ([0, "1"], "packages: expected indices into package_table"),
        ({"deb": []}, "packages: expected a list, got an object"),
    ],
)
def test_format_2_host_indices_are_checked(tmp_path: Path, packages: object, expected: str) -> None:
    document = _document()
    document["hosts"][0]["packages"] = packages
    with pytest.raises(SnapshotError) as info:
        snapshot.read(_write(tmp_path, document))
    assert str(info.value).endswith(": host web1: " + expected)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (["deb", "bash", "5.2"], "package_table[0]: expected [ecosystem, name, version, arch"),
        (["apk", "bash", "5.2", "", "installed", ""], "package_table[0]: unknown ecosystem"),
        (["deb", "bash", 5, "", "installed", ""], "package_table[0].version: expected a string"),
        (["deb", "bash", "5.2", "", "gone", ""], "package_table[0].state: unknown state"),
        ("deb bash 5.2", "package_table[0]: expected a list, got a string"),
    ],
)
def test_format_2_table_rows_are_checked(tmp_path: Path, row: object, expected: str) -> None:
    document = _document()
    document["package_table"][0] = row
    with pytest.raises(SnapshotError) as info:
        snapshot.read(_write(tmp_path, document))
    assert expected in str(info.value)


def test_format_2_unsorted_table_still_gives_sorted_packages(tmp_path: Path) -> None:
    document = _document()
    table = document["package_table"]
    document["package_table"] = table[::-1]
    for host in document["hosts"]:
        if "packages" in host:
            host["packages"] = [len(table) - 1 - i for i in host["packages"]]
    back = snapshot.read(_write(tmp_path, document))
    for got, want in zip(back.results, _snapshot().results, strict=True):
        assert got.result == want.result


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(format_version=3), "newer than this pinmgr reads"),
        (lambda d: d.update(format="other"), "not a pinmgr snapshot"),
        (lambda d: d["hosts"][0].update(name=""), "name: must not be empty"),
        (lambda d: d["hosts"][0].update(roles="app"), "host web1: roles: expected a list"),
        (lambda d: d["package_table"][0].__setitem__(2, 7), "version: expected"),
        (lambda d: d["package_table"][0].__setitem__(0, "apk"), "unknown ecosystem 'apk'"),
        (lambda d: d["hosts"][0].update(collected_at="yesterday"), "not an RFC 3339"),
        (lambda d: d["hosts"][0].update(collected_at="2026-12-01T08:00:00"), "time zone"),
        (lambda d: d["hosts"][1]["failure"].update(kind="gone"), "'gone' is not one of"),
        (lambda d: d["hosts"].append(d["hosts"][0]), "appears twice"),
        (lambda d: d["hosts"][0].update(env="x" * 5000), "longer than 4096"),
    ],
)
def test_a_bad_snapshot_is_one_line_naming_file_and_host(
    tmp_path: Path, mutate: Any, expected: str
) -> None:
    document = _document()
    mutate(document)
    path = _write(tmp_path, document)
    with pytest.raises(SnapshotError) as info:
        snapshot.read(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert expected in message
    assert "\n" not in message and "\x1b" not in message


def test_not_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"format":\n  nope}')
    with pytest.raises(SnapshotError, match=r"x\.json:2:3: not JSON"):
        snapshot.load_document(path)


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SnapshotError, match="not usable JSON"):
        snapshot.load_document(path)


def test_decompressed_size_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(b" " * 100_000))
    with pytest.raises(SnapshotError, match="larger than 1000 bytes"):
        snapshot.load_document(path)


def test_truncated_gzip_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.json.gz"
    path.write_bytes(snapshot.dumps(_snapshot(), compress=True)[:50])
    with pytest.raises(SnapshotError, match=r"cut\.json\.gz: cannot read"):
        snapshot.load_document(path)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(document=JSON)
def test_arbitrary_json_never_escapes_as_another_error(document: object) -> None:
    try:
        snapshot.from_document(document, "f.json")
    except SnapshotError as exc:
        assert str(exc).startswith("f.json: ")


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


BASE = _document()
PATHS = _paths(BASE)[1:]
BASE_V1 = _document_v1()
PATHS_V1 = _paths(BASE_V1)[1:]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(PATHS), value=JSON)
def test_a_mutated_snapshot_is_read_or_refused_in_one_line(
    where: tuple[object, ...], value: object
) -> None:
    _mutate_and_read(BASE, where, value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(PATHS_V1), value=JSON)
def test_a_mutated_format_1_snapshot_is_read_or_refused_in_one_line(
    where: tuple[object, ...], value: object
) -> None:
    _mutate_and_read(BASE_V1, where, value)


def _mutate_and_read(base: dict[str, Any], where: tuple[object, ...], value: object) -> None:
    document = copy.deepcopy(base)
    node: Any = document
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    try:
        back = snapshot.from_document(document, "f.json")
    except SnapshotError as exc:
        assert str(exc).startswith("f.json: ") and "\n" not in str(exc)
    else:
        # Whatever was accepted is whole: every host kept, unless the list itself was replaced.
        assert where == ("hosts",) or len(back.results) == len(base["hosts"])


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("version", 7, "version: expected a string, got a number"),
        ("arch", ["amd64"], "arch: expected a string, got a list"),
        ("state", {"x": 1}, "state: expected a string, got an object"),
        ("name", True, "name: expected a string, got a boolean"),
    ],
)
def test_an_entry_like_one_already_read_is_still_checked(
    tmp_path: Path, field: str, value: object, expected: str
) -> None:
    # hosts[0] and hosts[2] list the same packages: the reader reuses values it has checked,
    # and must not take a look-alike entry (7 for "7", a list) for one of them.
    document = _document_v1()
    document["hosts"][2]["packages"]["deb"][0][field] = value
    with pytest.raises(SnapshotError) as info:
        snapshot.read(_write(tmp_path, document))
    assert str(info.value).endswith(": host web1: packages.deb[0]." + expected)


def test_hosts_with_equal_packages_share_one_value_each(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    snapshot.write(path, _snapshot())
    results = snapshot.read(path).results
    first, third = results[0].result, results[2].result
    assert isinstance(first, HostSnapshot) and isinstance(third, HostSnapshot)
    assert first.packages == _snap_host("web1").result.packages  # type: ignore[union-attr]
    assert all(a is b for a, b in zip(first.packages, third.packages, strict=True))


def test_parsed_documents_share_equal_string_objects_and_only_those(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    items = [{"a": "1"}, {"a": "1"}, {"a": 1}, {"a": True}, {"a": 1.0}, {"a": ["1"]}, {"a": "1"}]
    path.write_text(json.dumps(items))
    loaded = snapshot.load_document(path)
    assert loaded == items  # same values, types included
    assert isinstance(loaded, list)
    assert loaded[0] is loaded[1] is loaded[6]
    assert type(loaded[2]["a"]) is int and type(loaded[3]["a"]) is bool
    assert type(loaded[4]["a"]) is float


def test_a_package_entry_under_two_ecosystems_is_two_packages(tmp_path: Path) -> None:
    document = _document_v1()
    deb = document["hosts"][0]["packages"]["deb"][0]
    document["hosts"][0]["packages"]["rpm"] = [dict(deb)]
    path = _write(tmp_path, document)
    result = snapshot.read(path).results[0].result
    assert isinstance(result, HostSnapshot)
    bash = [p for p in result.packages if p.name == deb["name"]]
    assert {p.ecosystem for p in bash} == {Ecosystem.DEB, Ecosystem.RPM}
