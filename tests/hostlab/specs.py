"""Ready-made host specs: a small fleet with every kind of planted drift, and N-host fleets."""

from __future__ import annotations

from .lab import Drift, HostSpec, newer, older
from .packages import BASE_PACKAGES, BASE_PIP, RELEASES


def sample_fleet() -> list[HostSpec]:
    """Five hosts on three releases; each drift kind planted once, two hosts left clean."""
    jammy, bookworm = BASE_PACKAGES["ubuntu-22.04"], BASE_PACKAGES["debian-12"]
    return [
        HostSpec(
            "web1",
            env="staging",
            role="app",
            os_release="ubuntu-22.04",
            drift=Drift(
                versions={"nginx": older(jammy["nginx"])},
                config_files=("vim",),
                foreign={"libssl3": jammy["libssl3"]},
            ),
            pip={**BASE_PIP, "requests": "2.31.0"},
        ),
        HostSpec(
            "web2",
            env="staging",
            role="app",
            os_release="ubuntu-24.04",
            drift=Drift(held=("nginx",), extra={"htop": "3.3.0-4build1"}),
            pip={**BASE_PIP, "Django": "5.0.9"},
        ),
        HostSpec(
            "db1",
            env="staging",
            role="db",
            os_release="debian-12",
            drift=Drift(
                versions={"postgresql-15": newer(bookworm["postgresql-15"])}, missing=("rsync",)
            ),
        ),
        HostSpec("db2", env="prod", role="db", os_release="ubuntu-22.04"),
        HostSpec("web3", env="prod", role="app", os_release="debian-12"),
    ]


def fleet(n: int, *, env: str = "prod", drift_every: int = 5) -> list[HostSpec]:
    """``n`` hosts cycling releases and roles (app/db); every ``drift_every``-th host has its
    openssl one revision older, so a benchmark sees a steady share of drift."""
    specs = []
    for i in range(n):
        release = RELEASES[i % len(RELEASES)]
        role = "app" if i % 2 == 0 else "db"
        drift = Drift()
        if drift_every and i % drift_every == 0:
            drift = Drift(versions={"openssl": older(BASE_PACKAGES[release]["openssl"])})
        specs.append(
            HostSpec(f"{role}{i:03d}", env=env, role=role, os_release=release, drift=drift)
        )
    return specs
