"""Write docs/cli.md from the real ``--help`` of every pinmgr command.

python scripts/cli_docs.py          # rewrite docs/cli.md
python scripts/cli_docs.py --check  # exit 1 if docs/cli.md is stale (run in CI by the tests)
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from click import Command, Context, Group
from typer.main import get_command

from pinmgr.cli import app

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

HEADER = """# Command reference

Generated from `pinmgr --help` by `python scripts/cli_docs.py`; a test fails when this file
is stale. Exit codes: 0 clean, 1 drift found, 2 usage or configuration error, 3 some hosts
could not be collected (takes precedence over 1).
"""


def help_text(cmd: Command, name: str, parent: Context | None = None) -> str:
    ctx = Context(cmd, info_name=name, parent=parent, terminal_width=100, max_content_width=100)
    return cmd.get_help(ctx)


def commands(group: Group) -> list[tuple[str, Command]]:
    ctx = Context(group, info_name="pinmgr")
    out: list[tuple[str, Command]] = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is not None and not cmd.hidden:
            out.append((name, cmd))
    return out


def render() -> str:
    root = get_command(app)
    assert isinstance(root, Group)
    parts = [HEADER, "## pinmgr\n", "```text", help_text(root, "pinmgr").rstrip(), "```\n"]
    parent = Context(root, info_name="pinmgr")
    for name, cmd in commands(root):
        parts += [f"## pinmgr {name}\n", "```text", help_text(cmd, name, parent).rstrip(), "```\n"]
    return "\n".join(parts)


def main(
    check: bool = typer.Option(False, "--check", help="Fail if docs/cli.md is stale."),
) -> None:
    text = render()
    if check:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{DOC} is stale: run python scripts/cli_docs.py\n")
            raise typer.Exit(1)
        return
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    typer.run(main)
