"""The consistency pass counts shared package values by identity (``_by_identity``); it must
give exactly what comparing each host's whole table gives (the pass before it did that).

The oracle below is that earlier pass: every host's (ecosystem, name) -> lowest version table,
pip names canonical and only on hosts with interpreters. Hosts are drawn from a small pool of
package values, with equal values as distinct objects too (two snapshot files), names listed
twice on a host, foreign-architecture twins and pip packages.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pinmgr.diff.consistency import _reference, _Scan, inconsistencies
from pinmgr.model import (
    Ecosystem,
    Finding,
    FindingKind,
    Host,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
)

DEB, PIP = Ecosystem.DEB, Ecosystem.PIP
POOL = [
    InstalledPackage(DEB, name, version, "amd64")
    for name in ("bash", "curl", "libc6", "libc6:i386", "zlib1g")
    for version in ("1.0-1", "1.0-2", "2:0.9-1")
] + [
    InstalledPackage(PIP, name, v)
    for name in ("Flask", "flask", "requests")
    for v in ("1.0", "2.0")
]


def oracle(members: list[HostSnapshot], pinned: set[tuple[Ecosystem, str]]) -> list[Finding]:
    tables = []
    for snap in members:
        table: dict[tuple[Ecosystem, str], str] = {}
        for p in snap.packages:
            if p.ecosystem is PIP and not snap.host.pip:
                continue
            key = (p.ecosystem, canonicalize_name(p.name) if p.ecosystem is PIP else p.name)
            table[key] = p.version if key not in table else min(table[key], p.version)
        tables.append(table)
    out = []
    total = len(members)
    for key in sorted(set().union(*tables) - pinned, key=lambda k: (k[0].value, k[1])):
        seen = [t.get(key, "") for t in tables]
        if len(set(seen)) == 1:
            continue
        counts = Counter(seen)
        reference = _reference(key[0], counts)
        summary = ", ".join(
            f"{v or 'absent'} on {n}"
            for v, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
        )
        reason = f"{total - counts['']} of {total} app hosts (debian-12) have it: {summary}"
        for snap, version in zip(members, seen, strict=True):
            if version != reference:
                out.append(
                    Finding(
                        kind=FindingKind.INCONSISTENT,
                        host=snap.host.name,
                        env=snap.host.env,
                        role="app",
                        ecosystem=key[0],
                        package=key[1],
                        expected=reference,
                        actual=version,
                        reason=reason,
                        os_release="debian-12",
                    )
                )
    return out


def _copy(pkg: InstalledPackage) -> InstalledPackage:
    """An equal value that is another object (as two snapshot shards give)."""
    return InstalledPackage(pkg.ecosystem, pkg.name, pkg.version, pkg.arch, pkg.state, pkg.origin)


hosts_strategy = st.lists(
    st.tuples(
        st.lists(st.tuples(st.sampled_from(range(len(POOL))), st.booleans()), max_size=12),
        st.booleans(),
    ),
    min_size=2,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(hosts=hosts_strategy)
def test_identity_counting_equals_whole_tables(
    hosts: list[tuple[list[tuple[int, bool]], bool]],
) -> None:
    members = []
    for i, (picks, has_pip) in enumerate(hosts):
        packages = tuple(sorted(_copy(POOL[j]) if copy else POOL[j] for j, copy in picks))
        host = Host(name=f"h{i}", env="prod", roles=("app",), pip=("/venv",) if has_pip else ())
        members.append(HostSnapshot(host, OsRelease("debian", "12"), packages))
    assert inconsistencies(members) == oracle(members, set())


def test_a_fleet_of_shared_values_reports_each_differing_host() -> None:
    """Shared objects (one snapshot file), one host drifted, one lacking a package."""
    base = [InstalledPackage(DEB, n, "1.0-1", "amd64") for n in ("bash", "curl", "zlib1g")]
    newer = InstalledPackage(DEB, "curl", "1.0-2", "amd64")
    members = [
        HostSnapshot(Host(f"h{i}", "prod", ("app",)), OsRelease("debian", "12"), tuple(base))
        for i in range(5)
    ]
    members.append(
        HostSnapshot(
            Host("h5", "prod", ("app",)), OsRelease("debian", "12"), (base[0], newer, base[2])
        )
    )
    members.append(
        HostSnapshot(Host("h6", "prod", ("app",)), OsRelease("debian", "12"), (base[0], base[1]))
    )
    found = [(f.host, f.package, f.expected, f.actual) for f in inconsistencies(members)]
    assert found == [("h5", "curl", "1.0-1", "1.0-2"), ("h6", "zlib1g", "1.0-1", "")]
    assert inconsistencies(members) == oracle(members, set())


# Hosts made from one base host, place by place: the same object, another version of the
# same name (shared or a copy), another name or ecosystem in that place, a place dropped
# or an object put twice. Most such hosts are counted against a reference host place by
# place (``_Reference``); the counts must be what counting each host whole gives.
VERSIONS = {
    name: [p for p in POOL if p.name == name] for name in dict.fromkeys(p.name for p in POOL)
}
BASE = [VERSIONS[name][0] for name in VERSIONS]
CHANGE = st.sampled_from(
    ["same", "same", "same", "version", "copy", "name", "pip", "drop", "twice"]
)


def _host_like_base(changes: list[tuple[str, int]]) -> tuple[InstalledPackage, ...]:
    out: list[InstalledPackage] = []
    for base, (change, pick) in zip(BASE, changes, strict=False):
        if change == "same":
            out.append(base)
        elif change == "version":
            out.append(VERSIONS[base.name][pick % len(VERSIONS[base.name])])
        elif change == "copy":
            out.append(_copy(base))
        elif change == "name":
            out.append(POOL[pick % len(POOL)])
        elif change == "pip":
            out.append(InstalledPackage(PIP, base.name, base.version))
        elif change == "twice":
            out += [base, base]
    out += BASE[len(changes) :]
    return tuple(out)


@settings(max_examples=400, deadline=None)
@given(
    hosts=st.lists(
        st.tuples(
            st.lists(st.tuples(CHANGE, st.integers(0, 5)), max_size=len(BASE)), st.booleans()
        ),
        min_size=2,
        max_size=10,
    )
)
def test_hosts_counted_against_a_reference_count_as_counted_whole(
    hosts: list[tuple[list[tuple[str, int]], bool]],
) -> None:
    members = [
        HostSnapshot(
            Host(f"h{i}", "prod", ("app",), pip=("/venv",) if pip else ()),
            OsRelease("debian", "12"),
            _host_like_base(changes),
        )
        for i, (changes, pip) in enumerate(hosts)
    ]
    scan = _Scan(members)
    whole: Counter[int] = Counter()
    for snap in members:
        whole.update(map(id, snap.packages))
    assert scan.counts == whole
    assert scan.objects == {id(p): p for snap in members for p in snap.packages}
    assert inconsistencies(members) == oracle(members, set())
