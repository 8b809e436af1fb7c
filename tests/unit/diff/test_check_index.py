"""``check``'s package index takes shortcuts (one dict of exact names, architecture twins
listed aside, the full grouping only when needed); ``lookup`` must still answer exactly as the
plain grouping of every package by (ecosystem, base name) answers, which is the oracle here.

And ``ok`` findings counted instead of built (``--no-ok``) must leave every other finding, and
the number of ``ok`` ones, as building them gives.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pinmgr.diff import check as check_mod
from pinmgr.diff.check import OkCount, _Index, check
from pinmgr.model import (
    Ecosystem,
    FindingKind,
    Host,
    HostSnapshot,
    InstalledPackage,
    Lockfile,
    OsRelease,
    PackageState,
    Pin,
    PinPolicy,
    PolicyKind,
)
from pinmgr.versions.policy import parse_policy

DEB, RPM, PIP = Ecosystem.DEB, Ecosystem.RPM, Ecosystem.PIP
NAMES = ("dpkg", "libc6", "libc6:i386", "libc6:arm64", "zlib1g", "Flask", "flask")
ARCHES = ("amd64", "i386", "all", "arm64")


def oracle(packages: tuple[InstalledPackage, ...], pin: Pin) -> list[InstalledPackage]:
    """The index before its shortcuts: every package grouped by (ecosystem, base name)."""

    def base(eco: Ecosystem, name: str) -> str:
        return canonicalize_name(name) if eco is PIP else name.split(":", 1)[0]

    candidates = [
        p
        for p in packages
        if (p.ecosystem, base(p.ecosystem, p.name))
        == (pin.ecosystem, base(pin.ecosystem, pin.package))
    ]
    dpkg = [p for p in packages if p.ecosystem is DEB and base(DEB, p.name) == "dpkg"]
    native = dpkg[0].arch if dpkg else ""
    if pin.ecosystem is DEB:
        if ":" in pin.package:
            arch = pin.package.split(":", 1)[1]
            return [p for p in candidates if p.name == pin.package or p.arch == arch][:1]
        mine = [p for p in candidates if ":" not in p.name or p.arch in (native, "all")]
        return mine[:1] or candidates[:1]
    if pin.ecosystem is RPM:
        return candidates[:1]
    return candidates


packages_strategy = st.lists(
    st.builds(
        InstalledPackage,
        st.sampled_from((DEB, DEB, DEB, RPM, PIP)),
        st.sampled_from(NAMES),
        st.sampled_from(("1.0-1", "2.0-1", "1:0.5-3")),
        st.sampled_from(ARCHES),
    ),
    max_size=10,
).map(lambda pkgs: tuple(sorted(pkgs)))


@settings(max_examples=400, deadline=None)
@given(
    packages=packages_strategy,
    # rpm: every copy counts, judged per architecture (diff/copies.py, test_copies.py)
    eco=st.sampled_from((DEB, PIP)),
    name=st.sampled_from((*NAMES, "libc6:amd64", "absent")),
)
def test_lookup_answers_as_the_full_grouping(
    packages: tuple[InstalledPackage, ...], eco: Ecosystem, name: str
) -> None:
    pin = Pin("app", "debian-12", eco, name, PinPolicy(PolicyKind.EXACT, "1.0-1"))
    assert _Index(packages).lookup(pin) == oracle(packages, pin)


def test_ok_counted_instead_of_built_leaves_the_other_findings() -> None:
    policy = PinPolicy(PolicyKind.EXACT, "1.0-1")
    pins = tuple(Pin("app", "debian-12", DEB, n, policy) for n in ("bash", "curl", "zlib1g"))
    lock = Lockfile("pinmgr.toml", 1, ("app",), pins, releases=(("app", "debian-12"),))
    hosts = []
    for i, curl in enumerate(("1.0-1", "1.0-2", "1.0-1")):
        packages = (
            InstalledPackage(DEB, "bash", "1.0-1", "amd64"),
            InstalledPackage(DEB, "curl", curl, "amd64"),
        )
        hosts.append(
            HostSnapshot(Host(f"h{i}", "prod", ("app",)), OsRelease("debian", "12"), packages)
        )
    every = check(lock, hosts)
    count = OkCount()
    counted = check(lock, hosts, ok_count=count)
    assert counted == [f for f in every if f.kind is not FindingKind.OK]
    assert count.n == 5 == sum(f.kind is FindingKind.OK for f in every)
    assert {f.kind for f in counted} == {FindingKind.DRIFT, FindingKind.MISSING}


OK = FindingKind.OK
PIP_SPEC = {"1.0-1": "1.0", "2.0-*": "2.*", ">=1.0-1, <2": ">=1.0, <2"}
PIN_NAMES = ("dpkg", "libc6", "libc6:i386", "zlib1g", "absent", "flask", "bash")


@settings(max_examples=300, deadline=None)
@given(
    hosts=st.lists(
        st.tuples(
            packages_strategy,
            st.sampled_from(("", "1", "ok")),  # pip: no interpreter, one listed
            st.sampled_from((PackageState.INSTALLED, PackageState.HALF_INSTALLED)),
        ),
        min_size=1,
        max_size=6,
    ),
    shared=st.booleans(),
    rebase_at=st.sampled_from((0, 16)),
    pins=st.lists(
        st.tuples(
            st.sampled_from((DEB, DEB, RPM, PIP)),
            st.sampled_from(PIN_NAMES),
            st.sampled_from(("1.0-1", "2.0-*", ">=1.0-1, <2", "1:0.5-3")),
        ),
        max_size=8,
        unique_by=lambda p: (p[0], p[1]),
    ),
)
def test_counting_ok_answers_as_building_every_finding(
    hosts: list[tuple[tuple[InstalledPackage, ...], str, PackageState]],
    pins: list[tuple[Ecosystem, str, str]],
    shared: bool,
    rebase_at: int,
) -> None:
    """The counted path (plain deb pins compared with a reference host by identity, then
    decided in two lookups) against the full one, on hosts with architecture twins,
    duplicates, half-installed packages and several ecosystems, their packages shared
    between hosts as a snapshot shares them or not: the same non-ok findings, and as many
    ok ones counted as built."""
    lock = Lockfile(
        "pinmgr.toml",
        1,
        ("app",),
        tuple(
            Pin("app", "debian-12", eco, name, parse_policy(eco, PIP_SPEC.get(spec, spec)))
            for eco, name, spec in pins
            if eco is not PIP or spec in PIP_SPEC
        ),
        releases=(("app", "debian-12"),),
    )
    snaps = []
    pool: dict[InstalledPackage, InstalledPackage] = {}
    for i, (packages, pip, state) in enumerate(hosts):
        if packages and state is PackageState.HALF_INSTALLED:
            first = packages[0]
            packages = (replace(first, state=state), *packages[1:])
        host = Host(f"h{i}", "prod", ("app",), pip=(f"/venv{pip}",) if pip else ())
        if shared:
            packages = tuple(pool.setdefault(p, p) for p in packages)
        snaps.append(HostSnapshot(host, OsRelease("debian", "12"), packages))
    every = check(lock, snaps)
    count = OkCount()
    saved = check_mod._REBASE_AT
    check_mod._REBASE_AT = rebase_at
    try:
        counted = check(lock, snaps, ok_count=count)
    finally:
        check_mod._REBASE_AT = saved
    # Order is the report's to set (diff.report sorts once): compared as multisets.
    assert sorted(map(repr, counted)) == sorted(repr(f) for f in every if f.kind is not OK)
    assert count.n == sum(f.kind is OK for f in every)
