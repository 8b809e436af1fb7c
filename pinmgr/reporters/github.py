"""GitHub Actions workflow commands: one annotation line per problem.

``::error file=pins/pinmgr.toml,line=12,col=1,title=drift web1::...`` puts the problem on the
pin's line in the pull request and the run summary. Failing kinds are ``error``,
not-installable is ``warning``, waived is ``notice``; ok and unpinned print nothing. A host
failure has no lockfile line, so its annotation has no ``file``.

Host text is untrusted and the runner parses these lines: control characters become visible
escapes first (so no raw newline can start a forged command and no ESC reaches the log
viewer), then the runner's own escaping applies: ``%``, CR and LF in the message, and also
``:`` and ``,`` in properties.
"""

from __future__ import annotations

from pinmgr.model import CheckReport, Finding, FindingKind
from pinmgr.reporters.junit import clean, describe, outcome


def escape_data(value: str) -> str:
    """Escape a message as the runner expects (actions/toolkit ``escapeData``)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a property value (actions/toolkit ``escapeProperty``)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(f: Finding) -> str | None:
    """The annotation for one finding, or None when it is nothing to look at."""
    result = outcome(f.kind)
    if not result:
        return None
    if result == "skipped":
        name = "notice"
    elif f.kind is FindingKind.NOT_INSTALLABLE:
        name = "warning"  # nothing has drifted yet; the pin is at risk
    else:
        name = "error"
    props: list[tuple[str, str]] = []
    if f.location is not None:
        props += [
            ("file", clean(f.location.file)),
            ("line", str(f.location.line)),
            ("col", str(f.location.col)),
        ]
    props.append(("title", clean(f"{f.kind.value} {f.host}")))
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    return f"::{name} {joined}::{escape_data(describe(f))}"


def render(report: CheckReport) -> str:
    """Errors, then warnings, then notices, each in report order; empty when all is well."""
    lines = [line for f in report.findings if (line := command(f)) is not None]
    rank = {"error": 0, "warning": 1, "notice": 2}
    lines.sort(key=lambda line: rank[line[2 : line.index(" ")]])
    return "".join(line + "\n" for line in lines)
