"""The machine-readable reporters do not import rich: ``check -f json`` paid ~40 ms of CPU per
run for it (docs/benchmarks.md, collection re-measured 2026-12-07)."""

from __future__ import annotations

import subprocess
import sys


def test_machine_readable_reporters_do_not_import_rich() -> None:
    code = (
        "import sys\n"
        "import pinmgr.reporters.json, pinmgr.reporters.sarif, pinmgr.reporters.junit\n"
        "import pinmgr.reporters.github, pinmgr.reporters.markdown\n"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_text_console_still_renders() -> None:
    from pinmgr.reporters.text import rendered, string_console

    console = string_console(40, color=False)
    console.print("hello")
    assert rendered(console).strip() == "hello"
