"""Write docs/cli.md from the real ``--help`` of every pinmgr command.

python scripts/cli_docs.py          # rewrite docs/cli.md
python scripts/cli_docs.py --check  # exit 1 if docs/cli.md is stale (a test runs this)
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer.main import get_command
from typer.testing import CliRunner

from pinmgr.cli import app

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

HEADER = """# Command reference

Generated from `pinmgr --help` by `python scripts/cli_docs.py`; a test fails when this file
is stale. Exit codes: 0 clean, 1 drift found, 2 usage or configuration error, 3 some hosts
could not be collected (takes precedence over 1).
"""


def command_names() -> list[str]:
    """Every visible top-level command and subcommand, as argv prefixes joined by spaces."""
    root = get_command(app)
    names: list[str] = []

    def walk(cmd: object, prefix: list[str]) -> None:
        sub = getattr(cmd, "commands", None) or {}
        for name in sorted(sub):
            child = sub[name]
            if getattr(child, "hidden", False):
                continue
            names.append(" ".join([*prefix, name]))
            walk(child, [*prefix, name])

    walk(root, [])
    return names


def help_of(argv: list[str]) -> str:
    result = CliRunner().invoke(app, [*argv, "--help"], prog_name="pinmgr", env={"COLUMNS": "100"})
    if result.exit_code != 0:
        raise SystemExit(f"pinmgr {' '.join(argv)} --help failed: {result.output}")
    return result.output.rstrip()


def render() -> str:
    parts = [HEADER, "## pinmgr\n", "```text", help_of([]), "```\n"]
    for name in command_names():
        parts += [f"## pinmgr {name}\n", "```text", help_of(name.split()), "```\n"]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{DOC.name} is stale: run python scripts/cli_docs.py\n")
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
