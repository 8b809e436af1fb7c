"""The HTML report's page, without a browser: CSP hashes, the embedded data, escaping of
arbitrary host text (hypothesis), the trend SVG. What it looks and does in Chromium is
tests/functional/test_html_report_browser.py."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from pinmgr.diff.report import build
from pinmgr.model import Ecosystem, Finding, FindingKind, TrendPoint
from pinmgr.reporters import html
from pinmgr.reporters.html_page import CSS, JS
from pinmgr.reporters.text import printable
from tests.functional.html_reports import HOSTILE, fleet_report, trend_points

PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "ul", "li",
    "b", "main", "form", "label", "select", "option", "input", "div", "button", "table",
    "thead", "tbody", "tr", "th", "span", "script", "svg", "line", "text", "g",
    "polyline", "circle", "rect",
}  # fmt: skip


class _Page(HTMLParser):
    """Tags, script and style bodies, and the CSP, as an HTML parser reads the page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self.csp = ""
        self._in: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "meta" and found.get("http-equiv") == "Content-Security-Policy":
            self.csp = found.get("content") or ""
        if tag in self.raw:
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.raw[self._in].append(data)


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_csp_allows_exactly_the_inline_style_and_script_and_loads_nothing() -> None:
    page = _Page(html.render(fleet_report(), trend_points()))
    assert page.tags.count("script") == 2 and page.tags.count("style") == 1
    data, script = page.raw["script"]
    assert script == JS and page.raw["style"] == [CSS]
    assert page.csp.startswith("default-src 'none'; ")
    assert f"script-src {_sha(JS)};" in page.csp and f"style-src {_sha(CSS)};" in page.csp
    assert "unsafe" not in page.csp and "http" not in page.csp
    doc = json.loads(data)
    assert doc["kinds"] == [k.value for k in FindingKind]
    assert set(page.tags) <= PAGE_TAGS


def test_every_kind_has_a_mark_and_a_colour() -> None:
    for kind in FindingKind:
        assert len(html.symbol(kind)) == 1
        assert kind.is_host_failure or f".k-{kind.value}{{" in CSS
    assert ".k-fail{" in CSS


def test_data_round_trips_every_finding() -> None:
    report = fleet_report()
    doc = json.loads(_Page(html.render(report)).raw["script"][0])
    strings, hosts, packages = doc["strings"], doc["hosts"], doc["packages"]
    flat = doc["findings"]
    rows = [flat[i : i + html.WIDTH] for i in range(0, len(flat), html.WIDTH)]
    assert len(rows) == len(report.findings)
    # The report is sorted by environment and host, so the page keeps its order.
    for f, row in zip(report.findings, rows, strict=True):
        h, p, k, expected, actual, reason, direction = row
        assert [strings[i] for i in hosts[h][:3]] == [printable(v) for v in (f.host, f.env, f.role)]
        assert doc["kinds"][k] == f.kind.value
        if f.package:
            eco, name = (strings[i] for i in packages[p])
            assert (eco, name) == (f.ecosystem.value if f.ecosystem else "", printable(f.package))
        else:
            assert p == -1
        assert strings[expected] == printable(f.expected)
        assert strings[actual] == printable(f.actual)
        assert printable(f.reason) in strings[reason]
        assert doc["directions"][direction] == (f.direction.value if f.direction else "")


def test_a_hosts_findings_stay_together_whatever_the_report_order() -> None:
    report = fleet_report()
    shuffled = dataclasses.replace(report, findings=tuple(reversed(report.findings)))
    flat = json.loads(_Page(html.render(shuffled)).raw["script"][0])["findings"]
    hosts = flat[:: html.WIDTH]
    assert hosts == sorted(hosts)  # contiguous: each host index in one run


def test_render_is_deterministic() -> None:
    assert html.render(fleet_report(), trend_points()) == html.render(
        fleet_report(), trend_points()
    )


_text = st.text(min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(host=_text, env=_text, package=_text, expected=_text, reason=_text)
def test_arbitrary_host_text_stays_data(
    host: str, env: str, package: str, expected: str, reason: str
) -> None:
    report = build(
        [
            Finding(
                FindingKind.DRIFT,
                host=host,
                env=env,
                role=host,
                ecosystem=Ecosystem.DEB,
                package=package,
                expected=expected,
                actual=reason,
                reason=reason,
            ),
            Finding(FindingKind.UNREACHABLE, host=host + "2", env=env, role="r", reason=reason),
        ],
        hosts_total=2,
        hosts_collected=1,
        lockfile=package,
        environments=(env,),
    )
    trend = [TrendPoint(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), env, ())]
    text = html.render(report, trend)
    page = _Page(text)
    assert page.tags.count("script") == 2 and set(page.tags) <= PAGE_TAGS
    data, script = page.raw["script"]
    assert script == JS
    strings = json.loads(data)["strings"]
    for value in (host, env, package, expected, reason):
        assert printable(value) in strings
    assert not re.search(r"[<\u2028\u2029]", data)
    # The trend is well-formed SVG whatever the environment is called.
    svg = ET.fromstring(html.trend_svg(trend).split("\n<ul")[0])
    assert [g.get("data-env") for g in svg.iter("g")] == [printable(env)]


def test_trend_svg_counts_problems_in_time_order() -> None:
    svg = html.trend_svg(tuple(reversed(trend_points())))
    root = ET.fromstring(svg.split("\n<ul")[0])
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == "svg" or root.tag == f"{ns}svg"
    series = {
        g.get("data-env"): [int(c.get("data-count") or -1) for c in g.iter("circle")]
        for g in root.iter("g")
    }
    assert series == {HOSTILE[1]: [0, 4, 2], "production": [3, 2, 1]}
    one = html.trend_svg(trend_points()[:1])
    assert 'data-count="3"' in one and "<polyline" in one
    assert html.trend_svg(()) == '<p id="trend-empty" class="muted">No recorded runs yet.</p>'
