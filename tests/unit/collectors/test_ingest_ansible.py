"""Ansible facts written by the real ansible-core against this machine, read back by pinmgr.

The oracle is this machine itself: ``dpkg-query`` for the packages and ``/etc/os-release`` for
the release. Ansible runs with HOME, its temp dirs and its cache inside ``tmp_path``, so
nothing is left in the machine's home.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr.collectors.ingest import ansible_facts
from pinmgr.collectors.ingest.ansible_facts import IngestError
from pinmgr.model import Ecosystem, FailureKind, HostFailure, HostSnapshot, OsRelease

BIN = Path(sys.executable).parent
PLAYBOOK = """\
- hosts: all
  gather_facts: true
  tasks:
    - name: Gather package facts
      ansible.builtin.package_facts:
"""
INVENTORY = (
    "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
    # Nothing listens on port 1: the ad-hoc --tree run records an unreachable host.
    "refused ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh\n"
)

pytestmark = pytest.mark.skipif(
    shutil.which("dpkg-query") is None or not (BIN / "ansible").exists(),
    reason="needs dpkg-query and ansible-core (test extras)",
)


@pytest.fixture(scope="module")
def ansible_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One fact cache (playbook: setup + package_facts) and two --tree dirs, by real Ansible."""
    root = tmp_path_factory.mktemp("ansible")
    for d in ("home", "tmp", "cache", "tree", "setup"):
        (root / d).mkdir()
    (root / "play.yml").write_text(PLAYBOOK)
    (root / "hosts.ini").write_text(INVENTORY)
    env = {
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "HOME": str(root / "home"),
        "ANSIBLE_LOCAL_TEMP": str(root / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(root / "tmp"),
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(root / "cache"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "PYTHONWARNINGS": "ignore",
        "LC_ALL": "C.UTF-8",
    }
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def run(*argv: str) -> None:
        subprocess.run(argv, cwd=root, env=env, capture_output=True, timeout=240, check=False)

    inv = str(root / "hosts.ini")
    run(str(BIN / "ansible-playbook"), "-i", inv, "--limit", "localhost", "play.yml")
    run(str(BIN / "ansible"), "-i", inv, "all", "-m", "package_facts", "--tree", "tree")
    run(str(BIN / "ansible"), "-i", inv, "localhost", "-m", "setup", "--tree", "setup")
    finished = dt.datetime.now(dt.timezone.utc)
    assert sorted(p.name for p in (root / "cache").iterdir()) == ["s1_localhost"]
    assert sorted(p.name for p in (root / "tree").iterdir()) == ["localhost", "refused"]
    return {"root": root, "started": started, "finished": finished}


def dpkg_oracle() -> set[tuple[str, str, str]]:
    """(name as pins spell it, ${Version}, arch) of every installed package, from dpkg itself."""
    native = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${binary:Package}\t${Version}\t${db:Status-Abbrev}\t"
         "${Architecture}\n"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = set()
    for line in out.splitlines():
        name, version, status, arch = line.split("\t")
        if status[1] in "nc":  # not installed, or only config files left
            continue
        found.add((name.removesuffix(f":{native}"), version, arch))
    return found


def os_release_oracle() -> OsRelease:
    values = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip().strip('"')
    return OsRelease(values["ID"], values.get("VERSION_ID", ""))


def _deb(snap: HostSnapshot) -> set[tuple[str, str, str]]:
    assert {p.ecosystem for p in snap.packages} <= {Ecosystem.DEB}
    return {(p.name, p.version, p.arch) for p in snap.packages}


def test_fact_cache_matches_dpkg_and_os_release(ansible_run: dict[str, Any]) -> None:
    (saved,) = ansible_facts.read([ansible_run["root"] / "cache"])
    snap = saved.result
    assert isinstance(snap, HostSnapshot), snap
    assert snap.host.name == "localhost"  # "s1_" (ansible-core 2.19's schema prefix) removed
    assert snap.os_release == os_release_oracle()
    oracle = dpkg_oracle()
    assert _deb(snap) == oracle
    assert any(":" in version for _, version, _ in oracle), "no epoch on this machine to test"
    assert ansible_run["started"] <= saved.collected_at <= ansible_run["finished"]


def test_pre_219_plain_cache_file_reads_the_same(
    ansible_run: dict[str, Any], tmp_path: Path
) -> None:
    """Before 2.19 the jsonfile plugin wrote the facts object itself, named by the host.

    Derived from the real 2.19 file by unwrapping ``__payload__`` (no older Ansible here).
    """
    wrapped = json.loads((ansible_run["root"] / "cache" / "s1_localhost").read_text())
    (tmp_path / "localhost").write_text(wrapped["__payload__"])
    (new,) = ansible_facts.read([ansible_run["root"] / "cache"])
    (old,) = ansible_facts.read([tmp_path])
    assert old.result == new.result


def test_package_facts_tree_alone_is_incomplete_not_missing(ansible_run: dict[str, Any]) -> None:
    by_name = {
        r.result.host.name: r.result for r in ansible_facts.read([ansible_run["root"] / "tree"])
    }
    local = by_name["localhost"]
    assert isinstance(local, HostFailure) and local.kind is FailureKind.INCOMPLETE
    assert "no OS facts" in local.reason
    refused = by_name["refused"]
    assert isinstance(refused, HostFailure) and refused.kind is FailureKind.UNREACHABLE
    assert refused.reason.startswith("Ansible: ") and "\n" not in refused.reason


def test_setup_tree_plus_package_facts_tree_make_one_host(ansible_run: dict[str, Any]) -> None:
    root = ansible_run["root"]
    results = {
        r.result.host.name: r.result for r in ansible_facts.read([root / "setup", root / "tree"])
    }
    snap = results["localhost"]
    assert isinstance(snap, HostSnapshot)
    assert snap.os_release == os_release_oracle()
    assert _deb(snap) == dpkg_oracle()


def test_files_read_in_worker_processes_give_what_reading_here_gives(
    ansible_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big caches are read in worker processes (``PARALLEL_FILES``): the same hosts, facts of
    one host's several files combined in file order, equal packages one shared value, and
    the first bad file still the one named. Real Ansible files, copied under 40 host names
    (one host's setup and package facts split across two --tree directories too)."""
    root = ansible_run["root"]
    cache = tmp_path / "cache"
    cache.mkdir()
    real = (root / "cache" / "s1_localhost").read_bytes()
    for i in range(40):
        (cache / f"s1_h{i:02d}").write_bytes(real)
    paths = [cache, root / "setup", root / "tree"]
    here = ansible_facts.read(paths)
    monkeypatch.setattr(ansible_facts, "PARALLEL_FILES", 2)
    monkeypatch.setattr(ansible_facts.os, "cpu_count", lambda: 3)
    there = ansible_facts.read(paths)
    assert [r.result for r in there] == [r.result for r in here]
    assert [(r.collected_at, r.source) for r in there] == [(r.collected_at, r.source) for r in here]
    snaps = [r.result for r in there if isinstance(r.result, HostSnapshot)]
    assert len(snaps) == 41
    assert all(a is b for a, b in zip(snaps[0].packages, snaps[-1].packages, strict=True))
    (cache / "s1_h17").write_text("{")
    (cache / "s1_h33").write_text("[")
    with pytest.raises(ansible_facts.IngestError, match=r"s1_h17:1:2: not JSON"):
        ansible_facts.read(paths)


def _facts(**overrides: object) -> dict[str, object]:
    facts: dict[str, object] = {
        "ansible_distribution": "Debian",
        "ansible_distribution_version": "12.11",
        "ansible_distribution_major_version": "12",
    }
    facts.update(overrides)
    return facts


@pytest.mark.parametrize(
    ("distribution", "version", "major", "expected"),
    [
        ("Debian", "12.11", "12", "debian-12"),
        ("Ubuntu", "22.04", "22", "ubuntu-22.04"),
        ("RedHat", "9.3", "9", "rhel-9.3"),
        ("Rocky", "9.3", "9", "rocky-9.3"),
        ("AlmaLinux", "8.10", "8", "almalinux-8.10"),
        ("CentOS", "7.9.2009", "7", "centos-7"),
        ("Fedora", "39", "39", "fedora-39"),
        ("Amazon", "2023.4.20240401", "2023", "amzn-2023"),
        ("Some Distro", "1.2", "1", "some-distro-1.2"),
    ],
)
def test_distribution_mapping(distribution: str, version: str, major: str, expected: str) -> None:
    facts = _facts(
        ansible_distribution=distribution,
        ansible_distribution_version=version,
        ansible_distribution_major_version=major,
    )
    release = ansible_facts.os_release_of(facts, "f")
    assert release is not None and release.key == expected


def test_rpm_entries_become_epoch_version_release() -> None:
    packages = {
        "bash": [{"name": "bash", "version": "5.1.8", "release": "9.el9", "epoch": None,
                  "arch": "x86_64", "source": "rpm"}],
        "perl-Errno": [{"name": "perl-Errno", "version": "1.30", "release": "481.el9",
                        "epoch": 0, "arch": "x86_64", "source": "rpm"}],
        "shadow-utils": [{"name": "shadow-utils", "version": "4.9", "release": "8.el9",
                          "epoch": "2", "arch": "x86_64", "source": "rpm"}],
        "gpg-pubkey": [{"name": "gpg-pubkey", "version": "fd431d51", "release": "4ae0493b",
                        "epoch": None, "arch": None, "source": "rpm"}],
        "musl": [{"name": "musl", "version": "1.2.4", "release": "r2", "source": "apk"}],
    }  # fmt: skip
    found = ansible_facts.packages_of({"packages": packages}, "f")
    assert found is not None
    got, warnings = found
    assert [(p.ecosystem, p.name, p.version) for p in got] == [
        (Ecosystem.RPM, "bash", "5.1.8-9.el9"),
        (Ecosystem.RPM, "perl-Errno", "1.30-481.el9"),
        (Ecosystem.RPM, "shadow-utils", "2:4.9-8.el9"),
    ]
    assert warnings == [
        "Ansible facts: 1 package(s) from apk ignored (pinmgr checks deb and rpm from "
        "package_facts)"
    ]


@pytest.fixture(scope="module")
def small_payload(ansible_run: dict[str, Any]) -> dict[str, Any]:
    """The real cached facts, cut to five packages so each hypothesis example stays small."""
    wrapped = json.loads((ansible_run["root"] / "cache" / "s1_localhost").read_text())
    facts = json.loads(wrapped["__payload__"])
    facts["packages"] = dict(list(facts["packages"].items())[:5])
    return {k: v for k, v in facts.items() if k.startswith("ansible_distribution") or k in (
        "packages", "ansible_date_time")}  # fmt: skip


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_facts_are_read_or_refused_in_one_line(
    small_payload: dict[str, Any], tmp_path: Path, data: st.DataObject
) -> None:
    facts = copy.deepcopy(small_payload)
    where = data.draw(st.sampled_from(_paths(facts)[1:]))
    node: Any = facts
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = data.draw(JSON)
    wrap = data.draw(st.booleans())
    document = {"__payload__": json.dumps(facts)} if wrap else facts
    path = tmp_path / "s1_web1"
    path.write_text(json.dumps(document))
    try:
        (saved,) = ansible_facts.read([path])
    except IngestError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
    else:
        assert saved.result.host.name == ("web1" if wrap else "s1_web1")


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=JSON)
def test_arbitrary_json_in_a_fact_file(tmp_path: Path, document: object) -> None:
    path = tmp_path / "host"
    path.write_text(json.dumps(document))
    try:
        ansible_facts.read([path])
    except IngestError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "web1").write_text("{not json")
    with pytest.raises(IngestError, match=r"web1:1:2: not JSON"):
        ansible_facts.read([tmp_path])
    (tmp_path / "web1").write_text('{"__payload__": "[1"}')
    with pytest.raises(IngestError, match=r"web1 \(__payload__\):1:3: not JSON"):
        ansible_facts.read([tmp_path])
    (tmp_path / "web1").write_text('{"packages": {"bash": "5.2"}}')
    with pytest.raises(IngestError, match=r"web1: host web1: packages\[bash\]: expected a list"):
        ansible_facts.read([tmp_path])


# Values JSON can carry, with equal values of different types (1, 1.0, true; "1") and a few
# integers past 64 bits (orjson reads those as floats).
SCALARS = st.sampled_from([None, True, False, 0, 1, 1.0, -0.0, "1", "0", "", 2**70]) | st.text(
    max_size=4
)
ENTRY_KEYS = st.sampled_from(["name", "version", "release", "epoch", "arch", "source"])
ENTRY = st.dictionaries(
    ENTRY_KEYS,
    st.sampled_from(["bash", "5.1", "rpm", "apt", "x86_64", "9.el9"])
    | SCALARS
    | st.lists(SCALARS, max_size=2),
    min_size=3,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    hosts=st.lists(
        st.dictionaries(
            st.sampled_from(["bash", "zsh"]),
            st.lists(ENTRY, max_size=2) | st.sampled_from([None, "bash", {}]),
            min_size=1,
        ),
        min_size=2,
        max_size=6,
    )
)
def test_entries_answered_from_other_hosts_give_what_reading_them_alone_gives(
    hosts: list[dict[str, list[dict[str, object]]]],
) -> None:
    """A host's entries equal to another host's are answered from that host's: it must be the
    answer reading them alone gives, also where JSON's types compare equal (1, 1.0, true) or
    an entry's keys come in another order."""
    reader = ansible_facts._Reader()
    for i, packages in enumerate(hosts):
        release = ("Debian", "12") if i % 2 else None  # compared with a release's lists, or not
        alone: object
        try:
            alone = ansible_facts.packages_of({"packages": packages}, "f")
        except IngestError as exc:
            alone = str(exc)
        shared: object
        try:
            rows, warnings = ansible_facts._package_rows(packages, "f", reader, release)
            shared = (list(map(reader.table.__getitem__, rows)), warnings)
        except IngestError as exc:
            shared = str(exc)
        assert shared == alone, i
        reordered = {
            k: [dict(reversed(e.items())) for e in v] if isinstance(v, list) else v
            for k, v in packages.items()
        }
        try:
            rows, warnings = ansible_facts._package_rows(reordered, "f", reader, release)
            again: object = (list(map(reader.table.__getitem__, rows)), warnings)
        except IngestError as exc:
            again = str(exc)
        assert again == alone, i


def test_equal_entries_of_other_types_are_not_answered_from_each_other() -> None:
    entry = {"name": "bash", "version": "5.1", "release": "9", "arch": "x86_64", "source": "rpm"}
    reader = ansible_facts._Reader()
    versions = []
    for epoch in (1, True, 1.0, "1", 2**70, 2**64 - 1):
        rows, _ = ansible_facts._package_rows({"bash": [{**entry, "epoch": epoch}]}, "f", reader)
        versions.append(reader.table[rows[0]].version)
    assert versions == ["1:5.1-9", "5.1-9", "5.1-9", "1:5.1-9", "5.1-9", f"{2**64 - 1}:5.1-9"]


JSON_TEXT = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _as_orjson_reads(value: object) -> object:
    """The standard parser's value with orjson's one difference: an integer outside 64 bits
    is a float (the only integer pinmgr reads, an rpm epoch, is ignored past 64 bits)."""
    if isinstance(value, list):
        return [_as_orjson_reads(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_orjson_reads(v) for k, v in value.items()}
    if type(value) is int and not -(2**63) <= value < 2**64:
        return float(value)
    return value


@settings(max_examples=300, deadline=None)
@given(document=JSON_TEXT, ascii_only=st.booleans(), indent=st.sampled_from([None, 4]))
def test_fact_files_parse_as_the_standard_parser_reads_them(
    document: object, ascii_only: bool, indent: int | None
) -> None:
    """Fact files are parsed by orjson, falling back to the standard parser where orjson
    refuses (NaN, lone surrogates): the values must be what the standard parser gives."""
    text = json.dumps(document, ensure_ascii=ascii_only, indent=indent)
    expected = _as_orjson_reads(json.loads(text))
    assert ansible_facts._parse(text.encode("utf-8", "surrogatepass"), "f") == expected
    assert ansible_facts._parse(text, "f") == expected


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64) | st.from_regex(rb"\A[-0-9\[\], .eE]{1,40}\Z"))
def test_fact_file_bytes_are_read_as_the_standard_parser_reads_them_or_refused(data: bytes) -> None:
    try:
        expected: object = _as_orjson_reads(json.loads(data))
    except (ValueError, RecursionError):
        expected = IngestError
    try:
        got: object = ansible_facts._parse(data, "f")
    except IngestError:
        got = IngestError
    assert repr(got) == repr(expected)  # (repr: NaN is not equal to itself)


def test_the_standard_parser_reads_what_orjson_refuses() -> None:
    assert ansible_facts._parse(b'{"a": NaN, "b": "\\ud800"}', "f").keys() == {"a", "b"}
    with pytest.raises(IngestError, match=r"^f:1:7: not JSON"):
        ansible_facts._parse(b'{"a": ]}', "f")


@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 25])
def test_files_are_read_up_to_one_byte_past_the_bound(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    with path.open("rb") as fh:
        assert ansible_facts.read_bounded(fh, 10) == b"x" * min(size, 11)


def test_a_file_without_a_size_is_read_up_to_the_bound(tmp_path: Path) -> None:
    """A FIFO's size is 0: what it holds is still read, and a too-big one is still cut."""
    for size in (5, 40):
        fifo = tmp_path / f"fifo{size}"
        os.mkfifo(fifo)
        writer = subprocess.Popen(["sh", "-c", f'printf "%0{size}d" 0 > "$1"', "sh", str(fifo)])
        with fifo.open("rb") as fh:
            assert ansible_facts.read_bounded(fh, 10) == b"0" * min(size, 11)
        writer.kill()
        writer.wait()
