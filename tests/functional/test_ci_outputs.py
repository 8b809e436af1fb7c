"""CI outputs of one real ``pinmgr check`` run against lab hosts, checked by their consumers.

One run writes JUnit, SARIF, Markdown and JSON files and prints GitHub annotations; JUnit is
validated against the vendored ``junit-10.xsd`` (xmlschema), SARIF against the vendored SARIF
2.1.0 schema (jsonschema), and every SARIF result must point at its package's pin line. The
same run twice gives the same bytes, and ``--fail-on`` gives the documented exit codes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema

from tests.hostlab import BASE_PACKAGES, BASE_PIP, Drift, HostSpec, Lab, LabFactory, older

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "data" / "schemas"
DEB = BASE_PACKAGES["debian-12"]

# Pins spread over shared, role and pip tables with comments between them, so a result that
# points at the wrong line lands on a line without its package name.
PINS = f"""\
# CI outputs test lockfile
schema = 1

[shared."debian-12".deb]
# every host
bash = "{DEB["bash"]}"

[roles.app."debian-12".deb]
nginx = "{DEB["nginx"]}"   # the web server
openssl = "{DEB["openssl"]}"

[roles.app."debian-12".pip]
Django = "4.2.16"
requests = "2.32.3"

[roles.db."debian-12".deb]
postgresql-15 = "{DEB["postgresql-15"]}"
rsync = "{DEB["rsync"]}"
"""


def specs() -> list[HostSpec]:
    return [
        HostSpec(
            "web1",
            env="staging",
            role="app",
            drift=Drift(versions={"nginx": older(DEB["nginx"])}),
            pip={**BASE_PIP, "requests": "2.31.0"},
        ),
        HostSpec("web2", env="staging", role="app"),
        HostSpec("db-s1", env="staging", role="db"),
        HostSpec("db-p1", env="production", role="db", drift=Drift(missing=("rsync",))),
        HostSpec("gone", env="production", role="app", kind="unreachable"),
    ]


@dataclass(frozen=True)
class Setup:
    lab: Lab
    lockfile: Path
    reachable: Path  # inventory without the unreachable host
    everything: Path  # inventory with it


@pytest.fixture(scope="module")
def setup(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    lab = hostlab(specs())
    work = tmp_path_factory.mktemp("ci")
    lockfile = work / "pinmgr.toml"
    lockfile.write_text(PINS)
    up = [h for h in lab.hosts.values() if h.kind == "ssh"]
    return Setup(
        lab,
        lockfile,
        lab.write_inventory(work / "reachable.toml", up),
        lab.write_inventory(work / "everything.toml"),
    )


def check(
    s: Setup, *args: str, inventory: Path | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pinmgr",
            "check",
            "-l",
            str(s.lockfile),
            "-i",
            str(inventory or s.reachable),
            "--known-hosts",
            str(s.lab.known_hosts),
            "--connect-timeout",
            "5",
            "-q",
            *args,
        ],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


FORMATS = {"junit": "report.xml", "sarif": "report.sarif", "markdown": "report.md"}
FORMATS["json"] = "report.json"


def ci_run(s: Setup, out: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, bytes]]:
    out.mkdir()
    opts = [arg for fmt, name in FORMATS.items() for arg in ("-o", f"{fmt}={out / name}")]
    result = check(s, *opts, "-f", "github", inventory=s.everything)
    files = {fmt: (out / name).read_bytes() for fmt, name in FORMATS.items()}
    return result, files


@pytest.fixture(scope="module")
def ci(
    setup: Setup, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], dict[str, bytes]]:
    return ci_run(setup, tmp_path_factory.mktemp("ci-out") / "run1")


# ---------------------------------------------------------------- one run, every format


def test_one_run_writes_every_format(
    ci: tuple[subprocess.CompletedProcess[str], dict[str, bytes]],
) -> None:
    result, files = ci
    assert result.returncode == 3, result.stderr  # the unreachable host wins over drift
    assert "Traceback" not in result.stderr
    doc = json.loads(files["json"])
    kinds = {(f["host"], f["package"], f["kind"]) for f in doc["findings"]}
    assert {
        ("web1", "nginx", "drift"),
        ("web1", "requests", "drift"),
        ("db-p1", "rsync", "missing"),
        ("gone", None, "unreachable"),
        ("web2", "nginx", "ok"),
    } <= kinds
    md = files["markdown"].decode()
    for word in ("nginx", "requests", "rsync", "gone", "unreachable"):
        assert word in md, word


def test_github_annotations_on_stdout(
    ci: tuple[subprocess.CompletedProcess[str], dict[str, bytes]], setup: Setup
) -> None:
    result, _ = ci
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("::error ") for line in lines), lines
    pins = setup.lockfile.read_text().splitlines()
    located = 0
    for line in lines:
        props, _, message = line[len("::error ") :].partition("::")
        fields = dict(p.split("=", 1) for p in props.split(","))
        if "file" in fields:
            located += 1
            pin_line = pins[int(fields["line"]) - 1]
            assert pin_line.split("=")[0].strip() in message, (pin_line, message)
        else:
            assert fields["title"] == "unreachable gone"
    assert located == 3  # nginx, requests, rsync


def test_junit_validates_against_the_xsd(
    ci: tuple[subprocess.CompletedProcess[str], dict[str, bytes]],
) -> None:
    xml = ci[1]["junit"]
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(xml.decode())
    root = ET.fromstring(xml)
    assert [s.get("name") for s in root.findall("testsuite")] == ["production", "staging"]
    failed = {
        (c.get("classname"), c.get("name"))
        for c in root.iter("testcase")
        if c.find("failure") is not None
    }
    assert failed == {
        ("staging.web1.app", "deb:nginx"),
        ("staging.web1.app", "pip:requests"),
        ("production.db-p1.db", "deb:rsync"),
    }
    errors = [c for c in root.iter("testcase") if c.find("error") is not None]
    assert [(c.get("classname"), c.get("name")) for c in errors] == [
        ("production.gone.app", "collect")
    ]


def sarif_results(raw: bytes) -> list[dict[str, Any]]:
    doc = json.loads(raw)
    schema = json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, errors[0]
    results: list[dict[str, Any]] = doc["runs"][0]["results"]
    return results


def test_sarif_validates_and_points_at_each_pin(
    ci: tuple[subprocess.CompletedProcess[str], dict[str, bytes]], setup: Setup
) -> None:
    results = sarif_results(ci[1]["sarif"])
    pins = setup.lockfile.read_text().splitlines()
    by_package = {}
    for r in results:
        physical = r["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith("pinmgr.toml")
        line = physical["region"]["startLine"]
        package = r["properties"].get("package")
        if package:
            assert package in pins[line - 1], (package, line, pins[line - 1])
            assert pins[line - 1].lstrip().startswith(package)
            by_package[package] = line
        else:
            assert r["ruleId"] == "unreachable" and line == 1
    assert sorted(by_package) == ["nginx", "requests", "rsync"]
    assert {r["ruleId"] for r in results} == {"drift", "missing", "unreachable"}


def test_outputs_are_byte_identical_across_runs(
    ci: tuple[subprocess.CompletedProcess[str], dict[str, bytes]],
    setup: Setup,
    tmp_path: Path,
) -> None:
    first, files = ci
    again, files2 = ci_run(setup, tmp_path / "run2")
    assert again.returncode == first.returncode
    assert again.stdout == first.stdout
    for fmt in FORMATS:
        assert files2[fmt] == files[fmt], fmt


# ---------------------------------------------------------------- --fail-on


@pytest.mark.parametrize(
    ("args", "everything", "code"),
    [
        ((), False, 1),  # drift and missing
        (("--fail-on", "drift"), False, 1),
        (("--fail-on", "missing"), False, 1),  # rsync on db-p1
        (("--fail-on", "missing", "--env", "staging"), False, 0),  # staging misses nothing
        (("--fail-on", "unreachable"), False, 0),
        (("--fail-on", "never"), False, 0),
        (("--env", "staging", "--role", "db"), False, 0),  # a clean part of the fleet
        ((), True, 3),
        (("--fail-on", "drift"), True, 3),
        (("--fail-on", "unreachable"), True, 3),
        (("--fail-on", "unreachable", "--env", "staging"), True, 0),
        (("--fail-on", "never"), True, 0),
    ],
)
def test_fail_on_exit_codes(
    setup: Setup, args: tuple[str, ...], everything: bool, code: int
) -> None:
    result = check(setup, *args, "-f", "json", inventory=setup.everything if everything else None)
    assert result.returncode == code, (args, result.stderr)
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)  # the report is complete whatever the exit code
    assert doc["summary"]["hosts_total"] >= 1


def test_fail_on_typo_is_a_usage_error(setup: Setup) -> None:
    result = check(setup, "--fail-on", "sometimes")
    assert result.returncode == 2
    assert "sometimes" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
