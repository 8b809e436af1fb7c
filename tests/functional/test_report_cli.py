"""``pinmgr report`` usage errors: one line, exit 2, no file written (no browser needed)."""

from __future__ import annotations

from pathlib import Path

from tests.functional.test_html_report_browser import LOCK, pinmgr


def test_report_command_usage_errors_exit_2(tmp_path: Path) -> None:
    bad = pinmgr("report", "--html", "r.html", "--fail-on", "sometimes", cwd=tmp_path)
    assert bad.returncode == 2 and "--fail-on" in bad.stderr
    assert pinmgr("report", cwd=tmp_path).returncode == 2  # --html is required
    unwritable = pinmgr(
        "report", "--html", str(tmp_path / "no" / "dir" / "r.html"), "-l", str(LOCK), "-q",
        cwd=tmp_path,
    )  # fmt: skip
    assert unwritable.returncode == 2, unwritable.stderr
    assert unwritable.stderr.startswith("pinmgr: error: ") and "cannot write" in unwritable.stderr
    assert "Traceback" not in unwritable.stderr
    assert not (tmp_path / "r.html").exists()
