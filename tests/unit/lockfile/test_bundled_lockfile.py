"""pins/pinmgr.toml, the example that teaches the format: valid, complete, and true on Debian 12."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pinmgr.lockfile import check_text, load, loads
from pinmgr.lockfile.load import TOP_LEVEL_KEYS, WAIVER_KEYS
from pinmgr.model import SHARED_ROLE, Ecosystem, PolicyKind
from pinmgr.versions.policy import evaluate

BUNDLED = Path(__file__).resolve().parents[3] / "pins" / "pinmgr.toml"


def test_bundled_lockfile_is_valid_and_shows_every_feature() -> None:
    lf = load(BUNDLED)
    assert lf.roles == ("app", "db")
    assert lf.releases_for("app") == ("debian-12", "rocky-9", "ubuntu-22.04", "ubuntu-24.04")
    # db declares ubuntu-24.04 with no pins of its own.
    assert "ubuntu-24.04" in lf.releases_for("db")
    assert not [p for p in lf.pins if p.role == "db" and p.os_release == "ubuntu-24.04"]
    assert {p.ecosystem for p in lf.pins} == set(Ecosystem) - {Ecosystem.APP}
    assert {p.policy.kind for p in lf.pins} == set(PolicyKind)
    assert any(p.role == SHARED_ROLE for p in lf.pins)


def test_commented_apps_example_is_valid_when_uncommented() -> None:
    text = BUNDLED.read_text()
    start = text.index("# [roles.app.apps.shop]")
    end = text.index("# --- Waivers")
    example = re.sub(r"(?m)^# ", "", text[start:end])
    lf = loads(text[:start] + example + text[end:], "uncommented.toml")
    (app,) = lf.apps
    assert (app.role, app.name, app.path, app.revision) == ("app", "shop", "/srv/shop", "a1b2c3d")


def test_commented_waiver_example_is_valid_when_uncommented() -> None:
    text = BUNDLED.read_text()
    start = text.index("# [[waivers]]")
    example = re.sub(r"(?m)^# ", "", text[start:])
    lf = loads(text[:start] + example, "uncommented.toml")
    (waiver,) = lf.waivers
    assert (waiver.package, waiver.ecosystem, waiver.role) == ("bash", Ecosystem.DEB, "app")
    assert check_text(text[:start] + example) == []


def _is_debian_12() -> bool:
    try:
        release = Path("/etc/os-release").read_text()
    except OSError:
        return False
    return "ID=debian\n" in release and 'VERSION_ID="12"' in release


@pytest.mark.skipif(
    not (_is_debian_12() and shutil.which("dpkg-query")), reason="needs Debian 12 with dpkg"
)
def test_app_on_this_debian_12_has_ok_drift_and_missing() -> None:
    lf = load(BUNDLED)
    outcome: dict[str, str] = {}
    for pin in lf.pins_for("app", "debian-12"):
        if pin.ecosystem is not Ecosystem.DEB:
            continue
        query = subprocess.run(
            ["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}", pin.package],
            capture_output=True,
            text=True,
            check=False,
        )
        # Status-Abbrev is three characters ("ii "), so split on any whitespace.
        fields = query.stdout.split()
        if query.returncode != 0 or len(fields) != 2 or fields[0] != "ii":
            outcome[pin.package] = "missing"
        elif evaluate(pin.ecosystem, pin.policy, fields[1]) is None:
            outcome[pin.package] = "ok"
        else:
            outcome[pin.package] = "drift"
    # Essential packages, present on every Debian 12, at versions every point release keeps.
    for package in ("base-files", "coreutils", "dpkg", "tar", "libc6"):
        assert outcome[package] == "ok", outcome
    # Pinned to Debian 11's bash (5.1-2+deb11u1): older than any Debian 12 bash.
    assert outcome["bash"] == "drift", outcome
    # Not part of a stock install.
    assert outcome["nginx"] == "missing", outcome


DOCS = BUNDLED.parents[1] / "docs" / "lockfile.md"


def test_docs_example_is_valid_and_every_key_is_documented() -> None:
    docs = DOCS.read_text()
    example = docs.split("```toml\n", 1)[1].split("```", 1)[0]
    lf = loads(example, "docs-example.toml")
    assert len(lf.pins) == 5 and len(lf.waivers) == 1
    for key in (*TOP_LEVEL_KEYS, *WAIVER_KEYS):
        assert f"`{key}`" in docs or f"`{key}." in docs or f"`[[{key}]]`" in docs, key
