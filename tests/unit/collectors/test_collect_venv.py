"""The probe's fast virtualenv listing (no site.py) agrees with importlib.metadata, for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pinmgr.collectors.local import LocalTransport
from pinmgr.collectors.parsers import parse_probe
from pinmgr.collectors.probe import build_probe, new_nonce
from pinmgr.model import Ecosystem, Host, TransportKind


def _dist_info(site: Path, name: str, version: str) -> None:
    d = site / f"{name.replace('-', '_')}-{version}.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: not-this-one\n"
    )


def _importlib_listing(venv: Path) -> set[tuple[str, ...]]:
    """What importlib.metadata sees in ``venv`` (first of a name wins), run as the probe runs."""
    truth = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-I",  # as the probe: no PYTHONPATH, no cwd on the path
            "-c",
            "import importlib.metadata as m\n"
            "seen = {}\n"
            "for d in m.distributions():\n"
            "    n = d.metadata['Name'].lower().replace('_', '-').replace('.', '-')\n"
            "    seen.setdefault(n, d.version)\n"
            "print('\\n'.join(f'{k}\\t{v}' for k, v in sorted(seen.items())))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {tuple(line.split("\t")) for line in truth.splitlines() if line}


def _listing(host: Host) -> set[tuple[str, str]]:
    nonce = new_nonce()
    result = LocalTransport(host).run(build_probe(host, nonce), timeout=60)
    snap = parse_probe(host, result.stdout, nonce, stderr=result.stderr, rc=result.rc)
    assert not [w for w in snap.warnings if "pip" in w], snap.warnings
    return {(p.name, p.version) for p in snap.packages if p.ecosystem is Ecosystem.PIP}


def test_plain_venv_listing_matches_importlib_metadata(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python3*/site-packages")
    _dist_info(site, "Requests", "2.31.0")
    _dist_info(site, "zope.interface", "6.1")
    # An old-style develop install: a .pth path line to a dir holding an .egg-info, and a
    # .pth import line (skipped without site.py, as it only runs code).
    develop = tmp_path / "src"
    egg = develop / "myapp.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: myapp\nVersion: 0.3.dev0\n")
    _dist_info(develop, "requests", "1.0")  # shadowed: the site-packages one comes first
    (site / "easy-install.pth").write_text(f"# comment\nimport os\n{develop}\n")
    expected = _importlib_listing(venv)
    as_dir = Host("h", "e", ("app",), transport=TransportKind.LOCAL, pip=(str(venv),))
    as_python = Host(
        "h", "e", ("app",), transport=TransportKind.LOCAL, pip=(str(venv / "bin" / "python"),)
    )
    assert _listing(as_dir) == expected
    assert _listing(as_python) == expected
    assert ("myapp", "0.3.dev0") in expected and ("requests", "2.31.0") in expected


def test_venv_with_system_site_packages_uses_site(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        check=True,
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    _dist_info(site, "only-here", "1.0")
    host = Host("h", "e", ("app",), transport=TransportKind.LOCAL, pip=(str(venv),))
    # The system's packages come in through site.py, so the probe must run it here.
    expected = _importlib_listing(venv)
    assert ("only-here", "1.0") in expected
    assert _listing(host) == expected
