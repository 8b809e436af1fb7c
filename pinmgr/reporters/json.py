"""JSON report: versioned schema, stable key and finding order, no timestamps (byte-identical).

Strings are exactly what the hosts said (``json.loads`` gives them back), but the text itself
is safe to print into a CI log: see ``text.json_text``. docs/json.md documents every key.

A fleet report holds hundreds of thousands of findings, and ``json.dumps(indent=2)`` runs the
pure-Python encoder over all of them (and two regular expressions over the whole text). So the
text is laid out here, byte for byte as ``json_text`` lays it out, with each distinct string
escaped once by ``json_text`` itself: host, package and version strings repeat across hosts,
and no CI token can form across a string's closing quote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pinmgr.model import CheckReport, Finding, FindingKind
from pinmgr.reporters.text import json_text, known_since

SCHEMA = "pinmgr.check/1"

_Escape = Callable[[str], str]


def finding_dict(f: Finding, report: CheckReport | None = None) -> dict[str, Any]:
    """One finding; with history marks in ``report``, ``known_since`` too (docs/json.md)."""
    out = {
        "kind": f.kind.value,
        "env": f.env,
        "host": f.host,
        "role": f.role,
        "os_release": f.os_release or None,
        "ecosystem": f.ecosystem.value if f.ecosystem else None,
        "package": f.package or None,
        "expected": f.expected or None,
        "actual": f.actual or None,
        "direction": f.direction.value if f.direction else None,
        "reason": f.reason or None,
        "waiver": f.waiver_reason or None,
        "location": (
            {"file": f.location.file, "line": f.location.line, "column": f.location.col}
            if f.location
            else None
        ),
    }
    if f.fix is not None:
        # security-update only: the key is absent elsewhere, so other findings keep their shape.
        out["fix"] = {
            "version": f.fix.version,
            "source": f.fix.source,
            "advisory": f.fix.advisory or None,
            "severity": f.fix.severity or None,
            "cves": list(f.fix.cves),
        }
    if report is not None and report.known_since is not None:
        out["known_since"] = known_since(report, f)
    return out


def document(report: CheckReport) -> dict[str, Any]:
    """The report as plain JSON values (findings left as ``Finding``: laid out by ``_finding``)."""
    s = report.summary
    return {
        "schema": SCHEMA,
        "lockfile": report.lockfile,
        "environments": list(report.environments),
        "summary": {
            "hosts_total": s.hosts_total,
            "hosts_collected": s.hosts_collected,
            "counts": {k.value: s.count(k) for k in FindingKind},
        },
        "findings": list(report.findings),
        # Every warning, not the few per host the other formats show (collectors bound them).
        "warnings": [{"host": w.host, "env": w.env, "message": w.message} for w in report.warnings],
    }


def _escaper() -> _Escape:
    """A JSON string escaper (``json_text``'s own escaping, minus its newline), memoised."""
    cache: dict[str, str] = {}

    def escape(text: str) -> str:
        out = cache.get(text)
        if out is None:
            out = cache[text] = json_text(text)[:-1]
        return out

    return escape


def _optional(text: str, escape: _Escape) -> str:
    return escape(text) if text else "null"


Mark = Callable[[Finding], "str | None"] | None


_TAILS = 50_000
"""At most this many distinct finding tails are kept (~25 MB): a fleet's findings repeat
them (the hosts of one drift or one inconsistency differ only in host and env)."""


# A finding's text after ``host``, up to its ``location``, by the fields it shows.
_Tails = dict[tuple[object, ...], str]


def _finding(
    f: Finding, level: int, escape: _Escape, mark: Mark = None, tails: _Tails | None = None
) -> str:
    """One finding, laid out as ``json.dumps(finding_dict(f), indent=2)`` at ``level``."""
    if f.fix is not None:  # rare (check --security): the generic layout
        return "".join(_chunks(finding_dict(f), level, escape))
    pad = "\n" + "  " * (level + 1)
    loc = f.location
    eco, direction = f.ecosystem, f.direction
    tail: str | None = None
    key: tuple[object, ...] | None = None
    if loc is None and tails is not None:
        # (``_value_``, not ``value``: a Python-level property, read for every finding)
        key = (level, f.role, f.os_release, eco and eco._value_, f.package, f.expected)
        key += (f.actual, direction and direction._value_, f.reason, f.waiver_reason)
        tail = tails.get(key)
    if tail is None:
        location = (
            "{"
            + f'{pad}  "file": {escape(loc.file)},{pad}  "line": {loc.line!r},'
            + f'{pad}  "column": {loc.col!r}{pad}'
            + "}"
            if loc
            else "null"
        )
        tail = (
            f'{pad}"role": {escape(f.role)},'
            f'{pad}"os_release": {_optional(f.os_release, escape)},'
            f'{pad}"ecosystem": {escape(eco._value_) if eco else "null"},'
            f'{pad}"package": {_optional(f.package, escape)},'
            f'{pad}"expected": {_optional(f.expected, escape)},'
            f'{pad}"actual": {_optional(f.actual, escape)},'
            f'{pad}"direction": {escape(direction._value_) if direction else "null"},'
            f'{pad}"reason": {_optional(f.reason, escape)},'
            f'{pad}"waiver": {_optional(f.waiver_reason, escape)},'
            f'{pad}"location": {location}'
        )
        if key is not None and tails is not None and len(tails) < _TAILS:
            tails[key] = tail
    return (
        "{"
        f'{pad}"kind": {escape(f.kind._value_)},'
        f'{pad}"env": {escape(f.env)},'
        f'{pad}"host": {escape(f.host)},'
        + tail
        + (f',{pad}"known_since": {_optional(mark(f) or "", escape)}' if mark else "")
        + "\n"
        + "  " * level
        + "}"
    )


def _chunks(
    value: object,
    level: int,
    escape: _Escape,
    mark: Mark = None,
    tails: _Tails | None = None,
) -> Iterator[str]:
    """``json.dumps(value, indent=2)`` in pieces: strings, ints, None, bools, lists, dicts."""
    if isinstance(value, str):
        yield escape(value)
    elif value is None:
        yield "null"
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, int):
        yield int.__repr__(value)
    elif isinstance(value, Finding):
        yield _finding(value, level, escape, mark, tails)
    elif isinstance(value, (list, dict)):
        if not value:
            yield "[]" if isinstance(value, list) else "{}"
            return
        pad = "\n" + "  " * (level + 1)
        opening, closing = ("[", "]") if isinstance(value, list) else ("{", "}")
        yield opening
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for i, (key, item) in enumerate(items):
            yield ("," + pad if i else pad) + (
                f"{escape(key)}: " if isinstance(value, dict) else ""
            )
            yield from _chunks(item, level + 1, escape, mark, tails)
        yield "\n" + "  " * level + closing
    else:
        raise TypeError(f"not a JSON value: {type(value).__name__}")


def chunks(report: CheckReport) -> Iterator[str]:
    """The report's text in pieces (one per finding), for writing to a stream."""
    mark: Mark = None
    if report.known_since is not None:

        def mark(f: Finding) -> str | None:
            return known_since(report, f)

    tails: _Tails = {}
    yield from _chunks(document(report), 0, _escaper(), mark, tails)
    yield "\n"


def render(report: CheckReport) -> str:
    return "".join(chunks(report))
