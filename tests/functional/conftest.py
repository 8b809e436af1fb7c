"""Fixtures for tests against real sshd test hosts (tests/hostlab): skipped only without root
or the tools the lab runs (ip, sshd)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # `tests` is a package under the repo root
    sys.path.insert(0, str(_ROOT))

from tests.hostlab import (  # noqa: E402
    HostSpec,
    Lab,
    LabFactory,
    LabHost,
    requirements_missing,
    sample_fleet,
)


@pytest.fixture(scope="module")
def hostlab() -> Iterator[LabFactory]:
    """Factory of started labs; every lab it made is stopped at module end, even on failure."""
    reason = requirements_missing()
    if reason:
        pytest.skip(reason)
    labs: list[Lab] = []

    def make(specs: Sequence[HostSpec], timeout: float = 60.0) -> Lab:
        lab = Lab()
        labs.append(lab)
        lab.start(specs, timeout=timeout)
        return lab

    yield make
    for lab in labs:
        lab.stop()


@pytest.fixture(scope="module")
def lab(hostlab: LabFactory) -> Lab:
    """The module's shared lab running ``sample_fleet()`` (5 hosts, 3 releases, planted drift)."""
    return hostlab(sample_fleet())


@pytest.fixture(scope="module")
def lab_hosts(lab: Lab) -> list[LabHost]:
    """The hosts of the shared ``lab``, in ``sample_fleet()`` order."""
    return list(lab.hosts.values())
