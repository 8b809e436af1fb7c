"""docs/ci.md stays true: its YAML parses, and its pinmgr commands are accepted by the real CLI."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import xmlschema
import yaml
from typer.testing import CliRunner

from pinmgr.cli.app import app
from pinmgr.cli.formats import OutputFormat, parse_output

DOC = Path(__file__).resolve().parents[3] / "docs" / "ci.md"


def _blocks(lang: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, flags=re.S | re.M)


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _commands() -> list[list[str]]:
    """Every ``pinmgr check ...`` command line in the document, YAML scripts included."""
    text = DOC.read_text(encoding="utf-8")
    text = re.sub(
        r"^```yaml\n(.*?)^```$",
        lambda m: "\n".join(_strings(yaml.safe_load(m.group(1)))),
        text,
        flags=re.S | re.M,
    )
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        m = re.search(r"(?:^|[/\s`])pinmgr (check .*?)(?:`|$)", line)
        if m:
            found.append(shlex.split(m.group(1)))
    return found


def test_yaml_examples_parse() -> None:
    blocks = _blocks("yaml")
    assert len(blocks) == 2
    workflow, gitlab = (yaml.safe_load(b) for b in blocks)
    # "on" is YAML 1.1's True: the key is read back as a boolean
    triggers = workflow.get("on", workflow.get(True))
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    steps = workflow["jobs"]["check"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert any("GITHUB_STEP_SUMMARY" in s.get("run", "") for s in steps)
    job = gitlab["pinmgr"]
    assert job["artifacts"]["reports"]["junit"] == "pinmgr.xml"
    assert job["artifacts"]["when"] == "always"
    assert any("schedule" in r["if"] for r in job["rules"])


def test_documented_commands_parse_with_the_real_cli() -> None:
    commands = _commands()
    assert len(commands) >= 3
    for argv in commands:
        assert argv[0] == "check"
        for i, arg in enumerate(argv):
            if arg in ("--output", "-o"):
                parse_output(argv[i + 1])
            if arg in ("--format", "-f"):
                OutputFormat(argv[i + 1])
    outputs = {parse_output(a)[0] for c in commands for a in c if "=" in a and "--" not in a}
    assert {OutputFormat.JUNIT, OutputFormat.SARIF, OutputFormat.MARKDOWN} <= outputs


def test_every_format_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for fmt in OutputFormat:
        assert f"| `{fmt.value}` |" in text, fmt


@pytest.mark.parametrize("option", ["--output", "--format", "--fail-on", "--quiet"])
def test_documented_options_exist(option: str) -> None:
    result = CliRunner().invoke(app, ["check", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert option in result.output


def test_documented_command_end_to_end_on_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docs' command against the bundled pins and this machine: files valid, exit 0/1/3."""
    root = DOC.parents[1]
    monkeypatch.chdir(root)
    out = {fmt: tmp_path / f"report.{fmt}" for fmt in ("junit", "sarif", "markdown")}
    argv = ["check", "--quiet", "--format", "github"]
    for fmt, path in out.items():
        argv += ["--output", f"{fmt}={path}"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code in (0, 1, 3), result.output
    schemas = root / "tests" / "data" / "schemas"
    xmlschema.XMLSchema(str(schemas / "junit-10.xsd")).validate(str(out["junit"]))
    schema = json.loads((schemas / "sarif-2.1.0-rtm.5.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(out["sarif"].read_text(encoding="utf-8")), schema)
    assert out["markdown"].read_text(encoding="utf-8").startswith("## pinmgr check: ")
    for line in result.stdout.splitlines():
        assert re.match(r"^::(error|notice) [^:]*title=[^:]*::", line), line
