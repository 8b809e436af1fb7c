"""One self-contained HTML page: summary, environment x host x package matrix, filters, trend.

No network and no external asset: CSS and script are inline, allowed by a
Content-Security-Policy that names their sha256 hashes and forbids every other load
(``default-src 'none'``), so even a host string that slipped through as markup could neither
run nor fetch anything. Host text never is markup: the summary and trend are escaped here,
the findings travel as JSON inside ``<script type="application/json">`` (``<``, ``>``, ``&``
and U+2028/9 as ``\\u`` escapes) and the script puts them in the page with ``textContent``.
Control, zero-width and bidi characters are shown as visible escapes (``printable``), so a
right-to-left mark cannot reorder a row.

The data is compact for 300,000 findings: each distinct string once in a table, a finding is
an array of indexes. Pure: no clock, no I/O.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from html import escape

from pinmgr.model import (
    CheckReport,
    Direction,
    Finding,
    FindingKind,
    TrendPoint,
    assert_never,
)
from pinmgr.reporters.html_page import CSS, JS
from pinmgr.reporters.junit import outcome
from pinmgr.reporters.markdown import verdict
from pinmgr.reporters.text import printable

# What must not appear raw inside <script>: a tag opener or end, an entity, a line separator.
_JSON_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)
# Lines of the trend, one per environment; more environments reuse the colours.
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#57606a")


def symbol(kind: FindingKind) -> str:
    """The one-character mark of a matrix cell (its colour says the same for sighted readers)."""
    match kind:
        case FindingKind.OK:
            return "✓"
        case FindingKind.DRIFT:
            return "≠"
        case FindingKind.MISSING:
            return "∅"
        case FindingKind.UNPINNED:
            return "·"
        case FindingKind.WAIVED:
            return "w"
        case FindingKind.INCONSISTENT:
            return "~"
        case FindingKind.NOT_INSTALLABLE:
            return "×"
        case FindingKind.SECURITY_UPDATE:
            return "↑"
        case FindingKind.NOT_CHECKED:
            return "?"
        case FindingKind.UNSUPPORTED_OS | FindingKind.MIXED_OS | FindingKind.NOT_IN_INVENTORY:
            return "!"
        case (
            FindingKind.UNREACHABLE
            | FindingKind.AUTH_FAILED
            | FindingKind.HOSTKEY_UNKNOWN
            | FindingKind.HOSTKEY_CHANGED
            | FindingKind.TIMEOUT
            | FindingKind.COLLECT_ERROR
            | FindingKind.INCOMPLETE
            | FindingKind.NO_DATA
            | FindingKind.STALE
        ):
            return "⚠"
        case _:
            assert_never(kind)


def is_problem(kind: FindingKind) -> bool:
    """What the trend counts: findings that need action (as JUnit failures and errors)."""
    return outcome(kind) in ("failure", "error")


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (
    "default-src 'none'; "
    f"style-src {csp_hash(CSS)}; "
    f"script-src {csp_hash(JS)}; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)


class _Strings:
    """Every distinct host string once; findings refer to them by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}
        self.values: list[str] = [""]

    def __call__(self, value: str) -> int:
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(printable(value))
        return found


DIRECTIONS = ("", Direction.OLDER.value, Direction.NEWER.value)
WIDTH = 7  # numbers per finding in the page's flat array


def _data(report: CheckReport) -> dict[str, object]:
    """The findings as one flat array of indexes, ``WIDTH`` per finding: host, package (-1:
    none), kind, expected, actual, reason, direction; a host's findings contiguous (the
    script finds them by range), in report order within the host."""
    strings = _Strings()
    hosts: dict[tuple[str, str], int] = {}
    host_rows: list[list[int]] = []
    packages: dict[tuple[str, str], int] = {}
    package_rows: list[list[int]] = []
    kind_index = {k: i for i, k in enumerate(FindingKind)}
    direction_index = {d: i for i, d in enumerate(DIRECTIONS)}
    by_host: list[list[int]] = []
    for f in report.findings:
        h = hosts.get((f.env, f.host))
        if h is None:
            h = hosts[(f.env, f.host)] = len(host_rows)
            host_rows.append([strings(f.host), strings(f.env), strings(f.role), 0])
            by_host.append([])
        if f.os_release and not host_rows[h][3]:
            host_rows[h][3] = strings(f.os_release)
        p = -1
        if f.package:
            eco = f.ecosystem.value if f.ecosystem else ""
            p = packages.get((eco, f.package), -1)
            if p < 0:
                p = packages[(eco, f.package)] = len(package_rows)
                package_rows.append([strings(eco), strings(f.package)])
        by_host[h] += (
            h,
            p,
            kind_index[f.kind],
            strings(f.expected),
            strings(f.actual),
            strings(_reason(f)),
            direction_index[f.direction.value if f.direction else ""],
        )
    return {
        "strings": strings.values,
        "hosts": host_rows,
        "packages": package_rows,
        "kinds": [k.value for k in FindingKind],
        "directions": DIRECTIONS,
        "findings": [n for row in by_host for n in row],
        "symbols": {k.value: symbol(k) for k in FindingKind},
        "host_failures": [k.value for k in FindingKind if k.is_host_failure],
    }


def _reason(f: Finding) -> str:
    if f.kind is FindingKind.WAIVED and f.waiver_reason:
        return f"waived: {f.waiver_reason}" + (f"; {f.reason}" if f.reason else "")
    return f.reason


def _json(doc: object) -> str:
    """JSON that cannot end its ``<script>`` element nor open a comment or CDATA in it."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _JSON_ESCAPES:  # str.replace: C speed on a 6 MB page
        text = text.replace(char, escaped)
    return text


def _text(value: str) -> str:
    return escape(printable(value), quote=True)


def _summary(report: CheckReport) -> str:
    s = report.summary
    # The Markdown verdict without its emoji (a font may not have it).
    text = verdict(report).split(" ", 1)[-1]
    parts = [f'<p class="verdict" id="verdict">{_text(text)}</p>']
    hosts = f"{s.hosts_total} host{'s' if s.hosts_total != 1 else ''} checked"
    if s.hosts_total != s.hosts_collected:
        hosts += f" ({s.hosts_total - s.hosts_collected} not collected)"
    if report.lockfile:
        hosts += f" against {_text(report.lockfile)}"
    if report.environments:
        hosts += " · environments: " + ", ".join(_text(e) for e in report.environments)
    parts.append(f'<p id="hosts">{hosts}</p>')
    chips = "".join(
        f'<li class="k-{"fail" if k.is_host_failure else k.value}" data-kind="{k.value}">'
        f"{k.value}: <b>{n}</b></li>"
        for k, n in s.counts
    )
    parts.append(f'<ul class="counts" id="counts">{chips}</ul>')
    failed = report.failed_hosts
    if failed:
        names = ", ".join(_text(h) for h in failed[:50])
        more = f" and {len(failed) - 50} more" if len(failed) > 50 else ""
        parts.append(f'<p id="failed">Not collected: {names}{more}</p>')
    if report.warnings:
        n = len(report.warnings)
        parts.append(
            f'<p class="muted">{n} line{"s" if n != 1 else ""} of host output could not be '
            "used (the JSON report lists them).</p>"
        )
    return "\n".join(parts)


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def trend_svg(trend: Sequence[TrendPoint], *, width: int = 640, height: int = 220) -> str:
    """Problems (findings needing action) per environment over the recorded runs, inline SVG.

    x is the run's position in time order (runs are evenly spaced, so a busy day does not
    squash the line), y the count. Each point has a ``<title>`` with its date and count.
    """
    if not trend:
        return '<p id="trend-empty" class="muted">No recorded runs yet.</p>'
    times = sorted({p.recorded_at for p in trend})
    x_of = {t: i for i, t in enumerate(times)}
    series: dict[str, list[tuple[int, int]]] = {}
    for point in sorted(trend, key=lambda p: (p.env, p.recorded_at)):
        total = sum(n for k, n in point.counts if is_problem(k))
        series.setdefault(point.env, []).append((x_of[point.recorded_at], total))
    top = max((n for pts in series.values() for _, n in pts), default=0) or 1
    left, right, top_pad, bottom = 44, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top_pad - bottom

    def x(i: int) -> float:
        return left + (plot_w * i / (len(times) - 1) if len(times) > 1 else plot_w / 2)

    def y(n: int) -> float:
        return top_pad + plot_h - plot_h * n / top

    out = [
        f'<svg class="trend" id="trend" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="trend-title">',
        '<title id="trend-title">Findings needing action per environment, per recorded run</title>',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" '
        'stroke="#d0d7de"/>',
        f'<text x="{left - 6}" y="{y(top) + 4:.1f}" text-anchor="end">{top}</text>',
        f'<text x="{left - 6}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{height - 8}">{_text(_when(times[0]))}</text>',
    ]
    if len(times) > 1:
        out.append(
            f'<text x="{width - right}" y="{height - 8}" text-anchor="end">'
            f"{_text(_when(times[-1]))}</text>"
        )
    legend = []
    for n, (env, pts) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        coords = " ".join(f"{x(i):.1f},{y(c):.1f}" for i, c in pts)
        out.append(f'<g class="series" data-env="{_text(env)}">')
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
        for i, c in pts:
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(c):.1f}" r="3" fill="{colour}" '
                f'data-count="{c}"><title>{_text(env)}, {_text(_when(times[i]))}: {c}'
                "</title></circle>"
            )
        out.append("</g>")
        legend.append(
            '<li><svg class="swatch" viewBox="0 0 10 10" width="10" height="10" '
            f'aria-hidden="true"><rect width="10" height="10" fill="{colour}"/></svg>'
            f"{_text(env)}</li>"
        )
    out.append("</svg>")
    return "\n".join(out) + f'\n<ul class="legend">{"".join(legend)}</ul>'


def render(report: CheckReport, trend: Sequence[TrendPoint] = ()) -> str:
    """The whole page; deterministic for one report and trend."""
    title = "pinmgr report" + (f": {report.lockfile}" if report.lockfile else "")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pinmgr">
<title>{_text(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>pinmgr check report</h1>
{_summary(report)}
</header>
<main>
<form id="filters" role="search">
<label>Environment<select id="f-env"><option value="">all</option></select></label>
<label>Role<select id="f-role"><option value="">all</option></select></label>
<label>Ecosystem<select id="f-eco"><option value="">all</option></select></label>
<label>Finding<select id="f-kind"><option value="">all</option></select></label>
<label>Search<input id="f-q" type="search" placeholder="host, package, version"></label>
<p id="status" role="status"></p>
</form>
<h2>Matrix</h2>
<div id="matrix"></div>
<button type="button" class="more" id="more-hosts" hidden></button>
<div id="detail" hidden></div>
<h2>Findings needing a look (<span id="list-count">0</span>)</h2>
<div class="scroll"><table class="list" id="list">
<thead><tr><th>env</th><th>host</th><th>role</th><th>package</th><th>result</th>
<th>expected</th><th>installed</th><th>reason</th></tr></thead>
<tbody id="list-body"></tbody></table></div>
<button type="button" class="more" id="more-items" hidden></button>
<h2>Trend</h2>
{trend_svg(trend)}
</main>
<script type="application/json" id="pinmgr-data">{_json(_data(report))}</script>
<script>{JS}</script>
</body>
</html>
"""
