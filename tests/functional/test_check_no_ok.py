"""``check --no-ok``: ok findings counted in the summary, listed by no format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LOCK = """\
schema = 1

[roles.app."debian-12".deb]
bash = "5.2.15-2+b2"
nginx = "1.22.1-9"
"""


def _host(name: str, nginx: str) -> dict[str, object]:
    return {
        "name": name,
        "env": "prod",
        "roles": ["app"],
        "collected_at": "2026-12-07T02:00:00Z",
        "sources": ["deb", "rpm"],
        "os_release": {"id": "debian", "version_id": "12"},
        "packages": {
            "deb": [
                {"name": "bash", "version": "5.2.15-2+b2", "arch": "amd64"},
                {"name": "nginx", "version": nginx, "arch": "amd64"},
            ],
            "rpm": [],
            "pip": [],
        },
        "warnings": [],
    }


def _check(tmp_path: Path, *extra: str) -> tuple[int, dict[str, object]]:
    (tmp_path / "pinmgr.toml").write_text(LOCK)
    snapshot = {
        "format": "pinmgr-snapshot",
        "format_version": 1,
        "pinmgr_version": "test",
        "started_at": "2026-12-07T02:00:00Z",
        "finished_at": "2026-12-07T02:00:05Z",
        "selection": {"envs": [], "roles": [], "shard": None},
        "hosts": [_host("web1", "1.22.1-9"), _host("web2", "1.22.1-9+b1")],
    }
    (tmp_path / "fleet.json").write_text(json.dumps(snapshot))
    args = ("check", "-l", "pinmgr.toml", "--snapshot", "fleet.json", "-f", "json", "-q")
    result = subprocess.run(
        [sys.executable, "-m", "pinmgr", *args, *extra],
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return result.returncode, doc


def test_no_ok_counts_ok_findings_without_listing_them(tmp_path: Path) -> None:
    code, listed = _check(tmp_path)
    code_no_ok, counted = _check(tmp_path, "--no-ok", "-o", "junit=out.xml")
    assert code == code_no_ok == 1  # drift on web2 either way
    assert counted["summary"] == listed["summary"]
    assert listed["summary"]["counts"]["ok"] == 3  # type: ignore[index]
    kinds = [(f["host"], f["kind"]) for f in counted["findings"]]  # type: ignore[attr-defined]
    assert kinds == [("web2", "drift")]
    assert [f for f in listed["findings"] if f["kind"] != "ok"] == counted["findings"]  # type: ignore[attr-defined]
    junit = (tmp_path / "out.xml").read_text()
    assert "nginx" in junit and 'name="bash' not in junit
