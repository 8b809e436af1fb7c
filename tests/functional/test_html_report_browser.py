"""The HTML report in Debian's real headless Chromium: matrix cells, filters, trend, escaping,
network silence, narrow screens and print, checked through the DOM.

One browser for the whole module. Every page asserts it loaded only its own file, opened no
dialog and logged no error (a Content-Security-Policy violation is logged as one), so a host
string that became markup or script would fail the test that opened it. Screenshots (wide,
375 px, print PDF) go to $PINMGR_TEST_ARTIFACTS (default: a temp dir, printed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pinmgr.diff.report import build
from pinmgr.reporters import html
from pinmgr.reporters.text import printable
from tests.functional import browser
from tests.functional.cli import run_pinmgr
from tests.functional.html_reports import HOSTILE, IMG, fleet_report, many_hosts, trend_points

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))


@pytest.fixture(scope="module")
def chromium() -> Iterator[BrowserContext]:
    with browser.chromium() as context:
        yield context


@pytest.fixture(scope="module")
def artifacts() -> Path:
    return browser.artifacts_dir()


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "fleet.html"
    path.write_text(html.render(fleet_report(), trend_points()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fleet(chromium: BrowserContext, fleet_file: Path) -> Iterator[browser.Opened]:
    opened = browser.open_report(chromium, fleet_file)
    yield opened
    opened.assert_quiet()
    opened.page.close()


def _rows(page: Page) -> list[str]:
    return page.eval_on_selector_all("#matrix tbody tr", "rs => rs.map(r => r.dataset.host)")


def _cells(page: Page, host: str) -> dict[str, tuple[str, str]]:
    """package -> (kind, shown text) of one host's matrix row."""
    found = page.eval_on_selector_all(
        "#matrix tbody tr",
        """(rows, host) => rows.filter(r => r.dataset.host === host).flatMap(r =>
            Array.from(r.querySelectorAll('td[data-package]')).map(td =>
              [td.dataset.package, td.dataset.kind, td.textContent]))""",
        host,
    )
    return {pkg: (kind, text) for pkg, kind, text in found}


def _select(page: Page, selector: str, value: str) -> None:
    before = page.get_attribute("body", "data-ready")
    page.select_option(selector, value)
    page.wait_for_function("b => document.body.dataset.ready !== b", arg=before)


def _search(page: Page, text: str) -> None:
    before = page.get_attribute("body", "data-ready")
    page.fill("#f-q", text)
    page.wait_for_function("b => document.body.dataset.ready !== b", arg=before)


def _reset(page: Page) -> None:
    for sel in ("#f-env", "#f-role", "#f-eco", "#f-kind"):
        if page.input_value(sel):
            _select(page, sel, "")
    if page.input_value("#f-q"):
        _search(page, "")


def test_matrix_cells_say_each_finding_and_open_expected_vs_installed(
    fleet: browser.Opened,
) -> None:
    page = fleet.page
    _reset(page)
    assert page.eval_on_selector_all("#matrix section", "s => s.map(x => x.dataset.env)") == [
        "production",
        "staging",
    ]
    assert _rows(page) == ["db1", "web1", "web2", IMG, "web3"]
    web1 = _cells(page, "web1")
    assert web1["deb:nginx"] == ("ok", "✓")
    assert web1["deb:openssl"] == ("drift", "≠↓")
    assert web1["deb:bash"] == ("missing", "∅")
    assert web1["pip:requests"] == ("ok", "✓")
    assert _cells(page, "web2")["deb:nginx"] == ("drift", "≠↑")
    # A package the host has no finding for is an empty cell, not a guess.
    assert "deb:bash" not in _cells(page, "web2")
    assert _cells(page, "web3")["deb:nginx"][0] == "waived"
    status = page.locator("#matrix tr[data-host='db1'] td.host-status")
    assert status.text_content() == "unreachable"

    page.click("#matrix tr[data-host='web1'] td[data-package='deb:openssl']")
    detail = dict(
        page.eval_on_selector_all(
            "#detail dd", "ds => ds.map(d => [d.dataset.field, d.textContent])"
        )
    )
    assert detail["host"] == "web1" and detail["environment"] == "production"
    assert detail["expected"] == "3.0.11-1" and detail["installed"] == "3.0.9-1"
    assert detail["reason"] == "installed is older than pinned"
    assert detail["result"] == "drift (older)"
    status.click()
    assert page.text_content("#detail dd[data-field='reason']") == "connection refused (port 22)"

    # The list shows what needs a look (not ok, unpinned or waived), with the same columns.
    listed = [
        tuple(row)
        for row in page.eval_on_selector_all(
            "#list-body tr", "rs => rs.map(r => [r.cells[1].textContent, r.cells[3].textContent])"
        )
    ]
    assert ("web1", "deb:bash") in listed and ("web1", "deb:nginx") not in listed
    assert ("web3", "deb:nginx") not in listed and ("db1", "") in listed
    assert page.text_content("#list-count") == str(len(listed)) == "14"


def test_filters_by_env_role_ecosystem_kind_and_text(fleet: browser.Opened) -> None:
    page = fleet.page
    _reset(page)
    _select(page, "#f-env", "staging")
    assert _rows(page) == [IMG, "web3"]
    _select(page, "#f-role", "app")
    assert _rows(page) == ["web3"]
    _reset(page)

    _select(page, "#f-eco", "pip")
    assert _rows(page) == ["web1", "web3"]
    heads = page.eval_on_selector_all("#matrix thead th", "ts => ts.map(t => t.textContent)")
    assert {h for h in heads if ":" in h} == {"pip:requests", "pip:flask"}
    _reset(page)

    _select(page, "#f-kind", "drift")
    kinds = page.eval_on_selector_all("#matrix td[data-kind]", "ts => ts.map(t => t.dataset.kind)")
    assert set(kinds) == {"drift"} and len(kinds) == 2 + len(HOSTILE)
    assert set(
        page.eval_on_selector_all("#list-body tr", "rs => rs.map(r => r.cells[4].textContent)")
    ) == {
        "drift (older)",
        "drift (newer)",
    }
    _select(page, "#f-kind", "problems")
    assert "db1" in _rows(page) and "web3" not in _rows(page)  # web3 has only quiet findings
    _reset(page)

    _search(page, "WEB2")  # case-insensitive, on host names
    assert _rows(page) == ["web2"]
    _search(page, "3.0.9")  # and on versions: only the cell that has it
    assert _rows(page) == ["web1"] and set(_cells(page, "web1")) == {"deb:openssl"}
    _search(page, "no such thing")
    assert _rows(page) == [] and page.text_content("#list-count") == "0"
    _reset(page)
    assert len(_rows(page)) == 5


def test_hostile_host_text_is_shown_as_text_and_runs_nothing(fleet: browser.Opened) -> None:
    page = fleet.page
    _reset(page)
    cells = _cells(page, IMG)
    expected = {f"deb:{printable(text)}-{i}" for i, text in enumerate(HOSTILE)}
    assert set(cells) == expected
    assert all(kind == "drift" for kind, _ in cells.values())
    assert page.locator("#matrix th.host", has_text="<img src=x").count() == 1
    # Bidi and line-separator characters are shown as escapes, never obeyed.
    assert f"deb:{printable(HOSTILE[5])}-5" in cells
    assert "deb:rtl\\u202egnp.exe \\u200f" in page.text_content(
        "#matrix section[data-env='staging'] thead"
    )
    # A very long name is cut in the matrix and the list, and whole in the detail box.
    long_name = f"deb:{HOSTILE[-1]}-{len(HOSTILE) - 1}"
    cut = f"{long_name[:120]}\u2026 ({len(long_name)} chars)"
    assert page.locator("#list-body td[data-label='package']", has_text=cut).count() == 1
    page.click(f"#matrix td[data-package='{long_name}']")
    assert page.text_content("#detail dd[data-field='package']") == long_name
    _select(page, "#f-env", "staging")
    page.click(f"#matrix td[data-package='deb:{HOSTILE[1]}-1']")
    assert page.text_content("#detail dd[data-field='expected']") == HOSTILE[1]
    assert page.text_content("#detail dd[data-field='reason']") == HOSTILE[1]
    # Nothing host-supplied became an element or ran: no <img>, no extra script, no marker.
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 2
    assert page.locator("[onerror]").count() == 0
    assert page.evaluate("() => getComputedStyle(document.body).display") == "block"
    assert page.text_content("#failed") == "Not collected: db1"
    assert page.title() == "pinmgr report: pins/pinmgr.toml"
    fleet.assert_quiet()


def test_csp_forbids_loads_and_foreign_script(chromium: BrowserContext, fleet_file: Path) -> None:
    opened = browser.open_report(chromium, fleet_file)
    page = opened.page
    violated = page.evaluate(
        """() => new Promise(done => {
            const seen = [];
            document.addEventListener('securitypolicyviolation', e => {
              seen.push(e.violatedDirective); if (seen.length === 2) done(seen.sort());
            });
            const img = new Image(); img.src = 'http://127.0.0.1:9/pixel.png';
            document.body.appendChild(img);
            const s = document.createElement('script'); s.textContent = 'alert(5)';
            document.body.appendChild(s);
        })"""
    )
    assert violated == ["img-src", "script-src-elem"]
    # Chromium reports the image request, refused by the policy before it left the page.
    assert opened.requests == [opened.url, "http://127.0.0.1:9/pixel.png"]
    assert opened.failed == [("http://127.0.0.1:9/pixel.png", "csp")]
    assert opened.dialogs == []
    page.close()


def test_trend_draws_problem_counts_per_environment(fleet: browser.Opened) -> None:
    page = fleet.page
    series = page.eval_on_selector_all(
        "#trend g.series",
        """gs => gs.map(g => [g.dataset.env,
            Array.from(g.querySelectorAll('circle')).map(c => Number(c.dataset.count))])""",
    )
    # ok and waived are not problems; unreachable and missing are.
    assert series == [[HOSTILE[1], [0, 4, 2]], ["production", [3, 2, 1]]]
    tips = page.eval_on_selector_all("#trend circle title", "ts => ts.map(t => t.textContent)")
    assert "production, 2026-12-03 06:00 UTC: 1" in tips
    assert page.locator("svg.trend script, svg.trend foreignObject").count() == 0
    legend = page.eval_on_selector_all(".legend li", "ls => ls.map(l => l.textContent)")
    assert legend == [HOSTILE[1], "production"]
    # Line points rise with the count (SVG y grows downwards).
    ys = page.eval_on_selector_all(
        "#trend g.series[data-env='production'] circle",
        "cs => cs.map(c => Number(c.getAttribute('cy')))",
    )
    assert ys[0] < ys[1] < ys[2]


def test_no_trend_says_so(chromium: BrowserContext, tmp_path: Path) -> None:
    path = tmp_path / "no-trend.html"
    path.write_text(html.render(fleet_report()), encoding="utf-8")
    opened = browser.open_report(chromium, path)
    assert opened.page.text_content("#trend-empty") == "No recorded runs yet."
    assert opened.page.locator("svg.trend").count() == 0
    opened.assert_quiet()
    opened.page.close()
    # A report with no finding at all (nothing selected) still opens and says so.
    path.write_text(html.render(build([], hosts_total=0, hosts_collected=0)), encoding="utf-8")
    empty = browser.open_report(chromium, path)
    assert empty.page.text_content("#status") == (
        "0 host(s) match; 0 shown in the matrix; 0 finding(s) listed."
    )
    assert empty.page.locator("#matrix section").count() == 0
    empty.assert_quiet()
    empty.page.close()


def test_big_fleet_renders_a_page_of_hosts_and_more_on_demand(
    chromium: BrowserContext, tmp_path: Path
) -> None:
    path = tmp_path / "big.html"
    path.write_text(html.render(many_hosts(250, 20)), encoding="utf-8")
    opened = browser.open_report(chromium, path)
    page = opened.page
    assert len(_rows(page)) == 30
    assert page.text_content("#more-hosts") == "Show more hosts (220 more)"
    before = page.get_attribute("body", "data-ready")
    page.click("#more-hosts")
    page.wait_for_function("() => document.querySelectorAll('#matrix tbody tr').length === 60")
    assert page.get_attribute("body", "data-ready") == before  # paging is not a re-filter
    assert page.locator("#list-body tr").count() == 120  # of 715 drifted cells
    assert page.text_content("#list-count") == "715"
    _select(page, "#f-kind", "drift")
    assert page.locator("#matrix td[data-kind='ok']").count() == 0
    opened.assert_quiet()
    page.close()


def test_wide_and_phone_screenshots_and_print(
    chromium: BrowserContext, fleet_file: Path, artifacts: Path
) -> None:
    wide = browser.open_report(chromium, fleet_file, width=1280)
    wide.page.screenshot(path=str(artifacts / "report-wide.png"), full_page=True)
    wide.page.set_viewport_size({"width": 1100, "height": 860})
    wide.page.screenshot(path=str(artifacts / "report-wide-top.png"))  # docs/img/report.png
    wide.assert_quiet()
    wide.page.close()

    phone = browser.open_report(chromium, fleet_file, width=375)
    page = phone.page
    # Nothing widens the page past the screen (the 3,000-character name wraps; the matrix
    # scrolls inside its own box).
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('#list-body td')).display")
        == "block"
    )
    page.screenshot(path=str(artifacts / "report-375.png"), full_page=True)

    page.emulate_media(media="print")
    hidden = page.evaluate(
        "() => ['#filters', '#more-items'].map("
        "s => getComputedStyle(document.querySelector(s)).display)"
    )
    assert hidden == ["none", "none"]
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('.scroll')).overflowX")
        == "visible"
    )
    pdf = page.pdf(format="A4")
    assert pdf[:5] == b"%PDF-" and len(pdf) > 10_000
    (artifacts / "report-print.pdf").write_bytes(pdf)
    phone.assert_quiet()
    page.close()
    for name in ("report-wide.png", "report-375.png"):
        assert (artifacts / name).stat().st_size > 10_000


# --- `pinmgr report --html` end to end: this machine's real dpkg, live and from a snapshot ---

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "pins" / "pinmgr.toml"
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query")


def pinmgr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_pinmgr(*args, cwd=cwd, columns=100, timeout=120, home=cwd)


@needs_dpkg
def test_report_command_live_and_from_a_snapshot_shows_what_check_finds(
    chromium: BrowserContext, tmp_path: Path
) -> None:
    check = pinmgr("check", "-l", str(LOCK), "-f", "json", "-q", cwd=tmp_path)
    findings = [f for f in json.loads(check.stdout)["findings"] if f["package"]]
    expected = {f"{f['ecosystem']}:{f['package']}": f["kind"] for f in findings}
    assert {"ok", "drift", "missing"} <= set(expected.values())

    live = pinmgr("report", "--html", "live.html", "-l", str(LOCK), "-q", cwd=tmp_path)
    assert live.returncode == 0, live.stderr  # --fail-on never: the page is the result
    assert live.stdout.startswith("wrote live.html (1 hosts, ")
    assert pinmgr("collect", "-o", "fleet.json.gz", "-q", cwd=tmp_path).returncode == 0
    saved = pinmgr(
        "report", "--html", "saved.html", "-l", str(LOCK), "--snapshot", "fleet.json.gz",
        "--fail-on", "any", cwd=tmp_path,
    )  # fmt: skip
    assert saved.returncode == check.returncode == 1, saved.stderr
    for name in ("live.html", "saved.html"):
        opened = browser.open_report(chromium, tmp_path / name)
        cells = _cells(opened.page, "localhost")
        assert {pkg: kind for pkg, (kind, _) in cells.items()} == expected
        for f in findings:  # each cell opens expected vs installed
            opened.page.click(f"#matrix td[data-package='{f['ecosystem']}:{f['package']}']")
            detail = dict(
                opened.page.eval_on_selector_all(
                    "#detail dd", "ds => ds.map(d => [d.dataset.field, d.textContent])"
                )
            )
            assert detail["expected"] == f["expected"]
            assert detail.get("installed", "") == (f["actual"] or "")
        # The tooltip, made on first hover, says the same.
        opened.page.hover("#matrix td[data-kind='drift']")
        title = opened.page.get_attribute("#matrix td[data-kind='drift']", "title") or ""
        assert "expected " in title and ", installed " in title
        opened.assert_quiet()
        opened.page.close()
