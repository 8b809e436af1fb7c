"""Test-host lab: real sshd "servers" in network namespaces, each with its own OS and packages.

Typical use (as root)::

    with Lab() as lab:
        hosts = lab.start([HostSpec("web1", os_release="ubuntu-22.04",
                                    drift=Drift(versions={"nginx": "1.18.0-6ubuntu14.3"}))])
        subprocess.run(["ssh", "-F", str(lab.ssh_config), "web1", "dpkg-query -W"])

RHEL-family hosts (``os_release`` one of ``rpmhost.RELEASES``: rocky-9, alma-8, fedora-40,
amzn-2023, opensuse-leap-15.5) get an rpm database written by the real librpm instead, and with
``dnf_repo`` a real dnf whose only source is a local repository: see ``rpmhost.py``.
"""

from __future__ import annotations

from .lab import (
    LAB_USER,
    VENV_PATH,
    Drift,
    HostKind,
    HostSpec,
    Lab,
    LabFactory,
    LabHost,
    Planted,
    newer,
    older,
    plant,
)
from .net import (
    GUARD_NET,
    LabError,
    assert_routed_locally,
    ensure_guard_route,
    guard_route_present,
    requirements_missing,
)
from .packages import (
    BASE_PACKAGES,
    BASE_PIP,
    OS_RELEASE_FILES,
    RELEASES,
    ROLE_ONLY,
    DpkgEntry,
    Status,
    packages_for,
)
from .rpmhost import RpmEntry
from .specs import fleet, sample_fleet

__all__ = [
    "BASE_PACKAGES",
    "BASE_PIP",
    "GUARD_NET",
    "LAB_USER",
    "OS_RELEASE_FILES",
    "RELEASES",
    "ROLE_ONLY",
    "VENV_PATH",
    "DpkgEntry",
    "Drift",
    "HostKind",
    "HostSpec",
    "Lab",
    "LabError",
    "LabFactory",
    "LabHost",
    "Planted",
    "RpmEntry",
    "Status",
    "assert_routed_locally",
    "ensure_guard_route",
    "fleet",
    "guard_route_present",
    "newer",
    "older",
    "packages_for",
    "plant",
    "requirements_missing",
    "sample_fleet",
]
