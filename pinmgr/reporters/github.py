"""GitHub Actions workflow commands: one annotation line per problem.

``::error file=pins/pinmgr.toml,line=12,col=1,title=drift web1::...`` puts the problem on the
pin's line in the pull request and the run summary. Failing kinds are ``error``,
not-installable is ``warning``, waived is ``notice``; ok and unpinned print nothing. A host
failure has no lockfile line, so its annotation has no ``file``.

Host warnings (lines of host output pinmgr could not use) are one ``::warning`` per host, with
its first few warnings as the lines of the message, for at most ``MAX_WARNING_HOSTS`` hosts.

Host text is untrusted and the runner parses these lines: control characters become visible
escapes first (so no raw newline can start a forged command and no ESC reaches the log
viewer), runner command tokens are broken (``::`` shows as ``:\x3a``, see ``text.neutralise``),
then the runner's own escaping applies: ``%``, CR and LF in the message, and also ``:`` and
``,`` in properties. A property never holds ``::``, so the first ``::`` after the command
name is always ours and host text cannot end the properties early.
"""

from __future__ import annotations

from pinmgr.model import CheckReport, Finding, FindingKind
from pinmgr.reporters.junit import clean, describe, outcome
from pinmgr.reporters.text import history_mark, neutralise, warnings_by_host

MAX_WARNING_HOSTS = 10
"""Hosts given a warnings annotation; GitHub shows only the first 10 warnings of a step."""


def escape_data(value: str) -> str:
    """Escape a message as the runner expects (actions/toolkit ``escapeData``)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a property value (actions/toolkit ``escapeProperty``)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(f: Finding, history: str = "") -> str | None:
    """The annotation for one finding, or None when it is nothing to look at; ``history``
    (``new`` / ``known since ...``) leads the message in brackets."""
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
    return _line(name, props, (f"[{history}] " if history else "") + describe(f))


def _line(name: str, props: list[tuple[str, str]], message: str) -> str:
    """One workflow command from visible-safe (``clean``) values; the file path stays exact."""
    joined = ",".join(
        f"{key}={escape_property(value if key == 'file' else neutralise(value))}"
        for key, value in props
    )
    return f"::{name} {joined}::{escape_data(neutralise(message))}"


def warning_commands(report: CheckReport) -> list[str]:
    """One ``::warning`` per host with warnings: its first few, one per message line."""
    groups = warnings_by_host(report.warnings)
    lines: list[str] = []
    for g in groups[:MAX_WARNING_HOSTS]:
        n = len(g.messages) + g.more
        head = f"{g.host} ({g.env}): {n} line{'s' if n != 1 else ''} of host output not used"
        body = [clean(head), *(clean(message) for message in g.messages)]
        if g.more:
            body.append(f"… and {g.more} more (the JSON report lists all)")
        title = clean(f"host warnings {g.host}")
        lines.append(_line("warning", [("title", title)], "\n".join(body)))
    if len(groups) > MAX_WARNING_HOSTS:
        rest = len(groups) - MAX_WARNING_HOSTS
        lines.append(
            _line(
                "warning",
                [("title", "host warnings")],
                f"{rest} more host{'s' if rest != 1 else ''} with warnings "
                "(the JSON report lists them)",
            )
        )
    return lines


def render(report: CheckReport) -> str:
    """Errors, then warnings, then notices, each in report order; empty when all is well."""
    lines = [
        line for f in report.findings if (line := command(f, history_mark(report, f))) is not None
    ]
    lines += warning_commands(report)
    rank = {"error": 0, "warning": 1, "notice": 2}
    lines.sort(key=lambda line: rank[line[2 : line.index(" ")]])
    return "".join(line + "\n" for line in lines)
