"""Output formats of ``pinmgr check``: one enum, mapped exhaustively to a reporter.

Reporters are imported only when used, so ``--help`` stays fast.
"""

from __future__ import annotations

from enum import Enum

from pinmgr.errors import UsageError
from pinmgr.model import CheckReport, assert_never


class OutputFormat(str, Enum):
    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"
    SARIF = "sarif"
    MARKDOWN = "markdown"
    GITHUB = "github"


def render(
    report: CheckReport,
    fmt: OutputFormat,
    *,
    color: bool = False,
    width: int = 100,
    by_host: bool = False,
) -> str:
    match fmt:
        case OutputFormat.TABLE:
            from pinmgr.reporters import table

            return table.render(report, color=color, width=width, by_host=by_host)
        case OutputFormat.JSON:
            from pinmgr.reporters import json as json_reporter

            return json_reporter.render(report)
        case OutputFormat.JUNIT:
            from pinmgr.reporters import junit

            return junit.render(report)
        case OutputFormat.SARIF:
            from pinmgr.reporters import sarif

            return sarif.render(report)
        case OutputFormat.MARKDOWN:
            from pinmgr.reporters import markdown

            return markdown.render(report)
        case OutputFormat.GITHUB:
            from pinmgr.reporters import github

            return github.render(report)
        case _:
            assert_never(fmt)


def parse_output(spec: str) -> tuple[OutputFormat, str]:
    """``FORMAT=PATH`` (``--output junit=report.xml``) -> (format, path)."""
    name, sep, path = spec.partition("=")
    choices = ", ".join(f.value for f in OutputFormat)
    if not sep or not path:
        raise UsageError(f"--output {spec!r}: expected FORMAT=PATH, FORMAT one of {choices}")
    try:
        return OutputFormat(name.strip().lower()), path
    except ValueError:
        raise UsageError(f"--output {spec!r}: unknown format {name!r} (one of {choices})") from None
