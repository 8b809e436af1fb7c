"""Make host-supplied text safe to show: hosts are untrusted, terminals and CI runners
interpret what we print.

Two dangers, two layers:

- **terminals** interpret control bytes (ESC, OSC 8 links, bidi overrides): ``printable``
  turns every one into a visible ``\\x1b``-style escape, so no host string can carry a
  newline, CR or other line separator either;
- **CI runners** read the job log for commands: GitHub Actions workflow commands (``::name
  ...::`` at the start of a line, after leading whitespace; the older ``##[name]`` anywhere
  in a line), Azure Pipelines ``##vso[`` and ``##[``, TeamCity ``##teamcity[``, GitLab's
  collapsible sections ``section_start:`` / ``section_end:``. ``neutralise`` escapes one
  character of each such token wherever it occurs (``::`` shows as ``:\\x3a``), so no
  wrapping of a table cell or footnote can bring one to the start of a line.

Every plain-text reporter passes each host string through ``log_safe`` and its whole output
through ``neutralise`` (which also catches a token formed where host text meets our own).
Structured formats use the same token pattern with their own escape (XML character
references, JSON ``\\u`` escapes, Markdown backslashes), so a parser gets the exact string back.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pinmgr.model import CheckReport, Finding, FindingKind, HostWarning

if TYPE_CHECKING:
    from rich.console import Console

# C0/C1 controls, zero-width and bidi controls, line/paragraph separators, and lone surrogates
# (undecodable host bytes: printing one raises UnicodeEncodeError on a UTF-8 stdout).
_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    r"\ud800-\udfff]"
)

CI_TOKEN = re.compile(
    r"(?<=:):"  # GitHub Actions ``::command``
    r"|(?<=#)#(?=\[|vso\[|teamcity\[)"  # ``##[`` (Actions v1, Azure), ``##vso[``, ``##teamcity[``
    r"|(?<=section_start):|(?<=section_end):",  # GitLab collapsible sections
    re.IGNORECASE,
)
"""The one character of each CI runner command token that ``neutralise`` escapes."""

# Characters JSON may carry raw but a log viewer or terminal must not see raw: C1 controls,
# line and paragraph separators, bidi controls (U+061C ARABIC LETTER MARK among them), invisible
# joiners and the BOM, and lone surrogates (undecodable host bytes).
_JSON_UNSAFE = re.compile(
    r"[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]"
)


def _hex(char: str) -> str:
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def printable(value: str) -> str:
    """Escape control characters (ESC, OSC 8 links, bidi overrides) so they are shown literally.

    The result has no line break of any kind (LF, CR, VT, FF, FS/GS/RS, NEL, U+2028/2029).
    """
    return _UNSAFE.sub(lambda m: _hex(m.group()), value)


def neutralise(text: str, escape: Callable[[str], str] = _hex) -> str:
    """Break every CI runner command token in ``text`` by escaping one of its characters.

    ``escape`` gives the escaped form of that character: ``\\x3a`` in plain text (the default,
    the same visible escape ``printable`` uses), or a format's own escape that its parser
    undoes (``&#58;`` in XML, ``\\:`` in Markdown).
    """
    return CI_TOKEN.sub(lambda m: escape(m.group()), text)


def log_safe(value: str) -> str:
    """A host string ready for a plain-text report or CI log: printable, no command token."""
    return neutralise(printable(value))


def json_text(doc: Any) -> str:
    """``json.dumps`` whose text a log viewer can show as is; ``json.loads`` gives ``doc`` back.

    Control characters are already ``\\u`` escapes in JSON; this also escapes C1 controls,
    line separators, bidi controls and lone surrogates, and the ``#`` of ``##[`` / ``##vso[``
    (parsed anywhere in a log line). Such characters only occur inside strings, where a
    ``\\u`` escape means the same character.
    """
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return neutralise(text, lambda c: f"\\u{ord(c):04x}") + "\n"


def known_since(report: CheckReport, f: Finding) -> str | None:
    """The JSON ``known_since`` value: ``"new"``, the UTC time the finding was first seen
    (it was in the previous recorded run of the same scope), or None (ok, or no history)."""
    if report.known_since is None or f.kind is FindingKind.OK:
        return None
    when = report.known_since.get(f)
    return "new" if when is None else _iso(when)


@functools.lru_cache(maxsize=1024)
def _iso(when: dt.datetime) -> str:
    """A run's findings share a few first-seen times: each formatted once."""
    return when.astimezone(dt.timezone.utc).strftime(_ISO)


def history_mark(report: CheckReport, f: Finding) -> str:
    """``new`` / ``known since 2026-12-01`` for people (empty: ok, or no history)."""
    if report.known_since is None or f.kind is FindingKind.OK:
        return ""
    when = report.known_since.get(f)
    return "new" if when is None else f"known since {when.astimezone(dt.timezone.utc):%Y-%m-%d}"


_ISO = "%Y-%m-%dT%H:%M:%SZ"

MAX_WARNINGS_PER_HOST = 5
"""Warnings shown per host in the formats people read (table, Markdown, annotations)."""


@dataclass(frozen=True)
class HostWarnings:
    """One host's warnings as a report shows them: the first few, and how many were left out."""

    host: str
    env: str
    messages: tuple[str, ...]
    more: int


def warnings_by_host(
    warnings: Iterable[HostWarning], limit: int = MAX_WARNINGS_PER_HOST
) -> list[HostWarnings]:
    """Warnings grouped per host in report order, each host's list cut after ``limit``."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for w in warnings:
        grouped.setdefault((w.env, w.host), []).append(w.message)
    return [
        HostWarnings(host, env, tuple(messages[:limit]), max(0, len(messages) - limit))
        for (env, host), messages in grouped.items()
    ]


def string_console(width: int, color: bool) -> Console:
    """A rich Console writing into a string: reporters return text, the CLI decides where.

    ``color=False`` means no escape sequence at all (NO_COLOR, pipes, files). rich is imported
    here, not with the module: the JSON, SARIF, JUnit, GitHub and Markdown reporters share this
    module's escaping, and importing rich cost every ``check -f json`` ~40 ms of CPU.
    """
    from rich.console import Console

    return Console(
        file=io.StringIO(),
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )


def rendered(console: Console) -> str:
    """Everything printed to a ``string_console`` so far, with no CI command token left.

    Host strings are already ``log_safe``; this catches a token formed where host text meets
    our own (a name ending in ``:`` before ``: reason``). Trailing padding is dropped.
    """
    out = console.file
    assert isinstance(out, io.StringIO)
    lines = out.getvalue().split("\n")
    return neutralise("\n".join(line.rstrip(" ") for line in lines))
