"""``envdiff`` counts shared package values by identity; its per-role version sets must be
exactly what one table per host gives (the code before it, kept here as the oracle): first
copy of a name counts, pip names canonical, "" where some host of the role lacks the key."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pinmgr.diff.envdiff import _table
from pinmgr.model import Ecosystem, Host, HostSnapshot, InstalledPackage, OsRelease

DEB, RPM, PIP = Ecosystem.DEB, Ecosystem.RPM, Ecosystem.PIP
POOL = [
    InstalledPackage(eco, name, version, "amd64")
    for eco, name in ((DEB, "bash"), (DEB, "libc6"), (DEB, "libc6:i386"), (RPM, "bash"))
    for version in ("1.0-1", "1.0-2")
] + [InstalledPackage(PIP, n, v) for n in ("Flask", "flask") for v in ("1.0", "2.0")]


def oracle(snaps, by_role, ecosystems):  # type: ignore[no-untyped-def]
    per_host = defaultdict(list)
    for snap in snaps:
        installed: dict[tuple[Ecosystem, str], str] = {}
        for pkg in snap.packages:
            if ecosystems and pkg.ecosystem not in ecosystems:
                continue
            name = canonicalize_name(pkg.name) if pkg.ecosystem is PIP else pkg.name
            installed.setdefault((pkg.ecosystem, name), pkg.version)
        for role in snap.host.roles if by_role else ("*",):
            per_host[role].append(installed)
    out = {}
    for role, hosts in per_host.items():
        for key in set().union(*hosts):
            out[(role, key[0], key[1])] = {h.get(key, "") for h in hosts}
    return out, set(per_host)


@settings(max_examples=300, deadline=None)
@given(
    hosts=st.lists(
        st.tuples(
            st.lists(st.tuples(st.sampled_from(range(len(POOL))), st.booleans()), max_size=8),
            st.sampled_from((("app",), ("db",), ("app", "db"))),
        ),
        max_size=6,
    ),
    by_role=st.booleans(),
    ecosystems=st.sampled_from(((), (DEB,), (PIP, RPM))),
)
def test_version_sets_equal_one_table_per_host(hosts, by_role, ecosystems) -> None:  # type: ignore[no-untyped-def]
    snaps = []
    for i, (picks, roles) in enumerate(hosts):
        pkgs = tuple(
            sorted(
                InstalledPackage(
                    *(getattr(POOL[j], f) for f in ("ecosystem", "name", "version", "arch"))
                )
                if copy
                else POOL[j]
                for j, copy in picks
            )
        )
        snaps.append(HostSnapshot(Host(f"h{i}", "prod", roles), OsRelease("debian", "12"), pkgs))
    table, roles = _table(snaps, by_role, ecosystems)
    assert (dict(table), roles) == oracle(snaps, by_role, ecosystems)
