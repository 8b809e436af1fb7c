"""``emit dnf-versionlock``: the versionlock plugin's list, from the lockfile's rpm pins.

The format is checked against the real plugin on an rpm lab host in
tests/functional/test_rpm_hosts.py (``dnf versionlock list`` and what dnf then offers).
"""

from __future__ import annotations

import pytest

from pinmgr.emitters.dnf_versionlock import LOCKLIST_NAME, emit_dnf_versionlock, lock_entry
from pinmgr.errors import UsageError
from pinmgr.model import Ecosystem, Lockfile, Pin, PinPolicy, PolicyKind
from pinmgr.versions.policy import parse_policy

RPM = Ecosystem.RPM


def pin(name: str, spec: str, role: str = "app", rel: str = "rocky-9") -> Pin:
    return Pin(role, rel, RPM, name, parse_policy(RPM, spec))


LOCK = Lockfile(
    "pins/pinmgr.toml",
    1,
    ("app",),
    (
        pin("openssl", "1:3.0.7-27.el9"),
        pin("bash", "5.1.8-9.el9"),
        pin("glibc.i686", "2.34-100.el9"),
        pin("kernel", ">=5.14.0-362"),
        pin("tzdata", "2024a-*"),
        pin("podman", "4:4.9.4~rc1-1.el9"),
        pin("zsh", "5.8"),
        Pin("app", "rocky-9", Ecosystem.DEB, "nginx", parse_policy(Ecosystem.DEB, "1.22.1-9")),
        pin("bash", "5.2.26-3.fc40", rel="fedora-40"),
    ),
)


def test_one_entry_per_exact_rpm_pin_in_the_plugins_own_form() -> None:
    (name, text), *_ = emit_dnf_versionlock(LOCK, "app", "rocky-9").items()
    assert name == LOCKLIST_NAME
    entries = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert entries == [
        "bash-0:5.1.8-9.el9.*",
        "glibc-0:2.34-100.el9.i686",
        "openssl-1:3.0.7-27.el9.*",
        "podman-4:4.9.4~rc1-1.el9.*",
        "zsh-0:5.8-*.*",
    ]
    assert "# skipped kernel: range pin '>=5.14.0-362'" in text
    assert "# skipped tzdata: glob pin '2024a-*'" in text
    assert "nginx" not in text and "fc40" not in text


@pytest.mark.parametrize(
    ("package", "version", "entry"),
    [
        ("bash", "5.1.8-9.el9", "bash-0:5.1.8-9.el9.*"),
        ("openssl", "01:3.0.7-27.el9", "openssl-1:3.0.7-27.el9.*"),
        ("python3.11", "3.11.7-1.el9", "python3.11-0:3.11.7-1.el9.*"),
        ("glibc.x86_64", "2.34-100.el9", "glibc-0:2.34-100.el9.x86_64"),
    ],
)
def test_lock_entry(package: str, version: str, entry: str) -> None:
    assert lock_entry(package, version) == entry


def test_unknown_role_or_release_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="role 'db' is not in"):
        emit_dnf_versionlock(LOCK, "db", "rocky-9")
    with pytest.raises(UsageError, match="OS release 'alma-8' is not declared"):
        emit_dnf_versionlock(LOCK, "app", "alma-8")


def test_never_prints_a_pin_the_lockfile_rules_reject() -> None:
    forged = Pin("app", "rocky-9", RPM, "bash", PinPolicy(PolicyKind.EXACT, "1.0-1\nevil-0:1-1.*"))
    lock = Lockfile("pins/pinmgr.toml", 1, ("app",), (forged,))
    with pytest.raises(UsageError, match="no versionlock list written"):
        emit_dnf_versionlock(lock, "app", "rocky-9")
