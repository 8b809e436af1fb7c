"""No host string can inject a command into a CI log, in any format, however it is built.

Property tests: package names, versions, host and environment names, reasons and host
warnings are drawn from pieces that CI runners, terminals and our own escaping react to
(``::``, ``##vso[``, ``section_start:``, CR, LF, ESC, BEL, U+2028, ``%0A``, rich markup...).
For every format the output must hold no raw control character and no runner command token
(the checks below are written from the runners' rules, not from ``text.CI_TOKEN``), and
JSON / JUnit / SARIF must parse and give the original strings back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr.diff.envdiff import DiffRow
from pinmgr.diff.installable import OutdatedRow
from pinmgr.diff.report import build
from pinmgr.model import (
    CheckReport,
    Direction,
    Ecosystem,
    FailureKind,
    Finding,
    FindingKind,
    Host,
    HostFailure,
    HostWarning,
    Location,
    Lockfile,
    Waiver,
)
from pinmgr.reporters import (
    envdiff,
    github,
    junit,
    markdown,
    outdated,
    sarif,
    table,
    waivers,
)
from pinmgr.reporters import json as json_reporter
from pinmgr.reporters.text import MAX_WARNINGS_PER_HOST, log_safe, neutralise, printable
from tests.unit.reporters.test_golden import HOSTILE_WARNING, hostile_report

PIECES = [
    "::", ":", "#", "##", "[", "]", "%", "\r", "\n", "\r\n", "\x1b", "\x1b[0K", "\x07",
    "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\u202e", "\x00",
    " ", "  ", "\t", "\u3000", "\xa0", "section_start:", "section_end:", "SECTION_START:",
    "::error", "::warning file=x,line=1::", "::stop-commands::", "##vso[", "##VSO[", "##[",
    "##[group]", "##teamcity[", "[red]", "[/red]", "[bold", "%0A", "%0D", "%25", "%3A", ",",
    "=", "\\", "<", ">", "&", '"', "|", "`", "*", "_", "~", "a", "web", "1.0-1", "2:1.0",
    "http://x.io", "\udcff", "\ufffe", "\u061c", "\u2060", "\ufeff", "\u200b",
]  # fmt: skip
CHARS = sorted({c for piece in PIECES for c in piece})

hostile = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=8).map("".join),
    st.text(alphabet=st.sampled_from(CHARS), max_size=24),
)


@st.composite
def findings(draw: st.DrawFn) -> Finding:
    kind = draw(st.sampled_from(list(FindingKind)))
    located = draw(st.booleans())
    return Finding(
        kind,
        host=draw(hostile),
        env=draw(st.sampled_from(["prod", "staging"]) | hostile),
        role=draw(hostile),
        ecosystem=None if kind.is_host_failure else draw(st.sampled_from(list(Ecosystem))),
        package=draw(hostile),
        expected=draw(hostile),
        actual=draw(hostile),
        direction=draw(st.sampled_from([None, Direction.OLDER, Direction.NEWER])),
        reason=draw(hostile),
        os_release=draw(hostile),
        location=Location("pins/pinmgr.toml", 3, 1) if located else None,
        waiver_reason=draw(hostile),
    )


@st.composite
def reports(draw: st.DrawFn) -> CheckReport:
    found = draw(st.lists(findings(), max_size=5))
    warned = draw(
        st.lists(
            st.builds(HostWarning, hostile, st.sampled_from(["prod", "x"]), hostile), max_size=8
        )
    )
    report = build(
        found,
        hosts_total=len(found) + 1,
        hosts_collected=1,
        lockfile="pins/pinmgr.toml",
        environments=sorted({f.env for f in found}),
    )
    return dataclasses.replace(report, warnings=tuple(warned))


SETTINGS = settings(
    max_examples=40,
    deadline=None,  # two cores shared with other jobs: timing says nothing here
    database=None,  # leave no .hypothesis directory behind
    suppress_health_check=[HealthCheck.too_slow],
)

# ------------------------------------------------------------ what a CI log must never see

_SGR = re.compile(r"\x1b\[[0-9;]*m")
# Every character some log reader treats as a line end (Python's str.splitlines set).
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_RAW = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    r"\u2066-\u2069\ufeff\ud800-\udfff]"
)


def visible(out: str, *, colour: bool = False) -> str:
    """The output with our own colour codes removed; nothing else may be a control."""
    return _SGR.sub("", out) if colour else out


def assert_no_raw_controls(out: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in _RAW.findall(out)})
    assert not bad, f"raw control characters {bad} in output"


def runner_commands(out: str) -> list[str]:
    """Lines or fragments a CI runner would act on, by each runner's own rules.

    GitHub Actions: ``::`` after leading whitespace (the runner TrimStart()s), ``##[``
    anywhere (the v1 parser searches the line); Azure ``##vso[`` / ``##[`` anywhere; TeamCity
    ``##teamcity[``; GitLab ``section_start:`` / ``section_end:`` at a line start or after CR
    or ESC[0K. ``::`` anywhere counts too: a narrower terminal may wrap it to a line start.
    """
    found: list[str] = []
    for line in re.split(f"[{_LINE_BREAKS}]", out):
        low = line.lower()
        if line.lstrip().startswith("::") or "::" in line:
            found.append(line)
        if any(token in low for token in ("##[", "##vso[", "##teamcity[")):
            found.append(line)
        if "section_start:" in low or "section_end:" in low:
            found.append(line)
    return found


def assert_log_safe(out: str, *, colour: bool = False) -> None:
    text = visible(out, colour=colour)
    assert_no_raw_controls(text)
    assert not runner_commands(text), runner_commands(text)[:3]


# ------------------------------------------------------------ every check-report format

# Widths where rich folds and wraps differently, each with and without colour and grouping.
TABLES = [
    (40, False, False),
    (40, True, True),
    (80, False, True),
    (80, True, False),
    (200, False, True),
    (200, True, False),
]
PLAIN: dict[str, Callable[[CheckReport], str]] = {
    **{
        f"table-{w}{'-colour' if c else ''}{'-by-host' if b else ''}": (
            lambda r, w=w, c=c, b=b: table.render(r, width=w, color=c, by_host=b)
        )
        for w, c, b in TABLES
    },
    "markdown": markdown.render,
    "json": json_reporter.render,
    "junit": junit.render,
    "sarif": sarif.render,
}


@pytest.mark.parametrize("name", sorted(PLAIN))
@SETTINGS
@given(report=reports())
def test_no_format_lets_a_host_string_command_the_ci(name: str, report: CheckReport) -> None:
    out = PLAIN[name](report)
    out.encode("utf-8")  # no lone surrogate reaches the log
    assert_log_safe(out, colour="colour" in name)


@SETTINGS
@given(report=reports())
def test_github_lines_are_only_our_commands(report: CheckReport) -> None:
    out = github.render(report)
    assert_no_raw_controls(out)
    for line in out.splitlines():
        parsed = runner_parse(line)
        assert parsed is not None, line
        name, props, message = parsed
        assert name in ("error", "warning", "notice")
        # host text never ends our properties early nor adds one
        assert set(props) <= {"file", "line", "col", "title"}
        assert "\r" not in message.replace("\n", "")  # only our own line breaks survive
        assert not runner_commands(message.replace("\n", " ")), message


@SETTINGS
@given(f=findings())
def test_github_escaping_round_trips_through_the_runner(f: Finding) -> None:
    line = github.command(f)
    if line is None:
        return
    parsed = runner_parse(line)
    assert parsed is not None
    _, props, message = parsed
    assert message == neutralise(junit.describe(f))
    # the runner trims the properties, so a title loses trailing spaces (and only those)
    assert props["title"] == neutralise(junit.clean(f"{f.kind.value} {f.host}")).rstrip()


@SETTINGS
@given(report=reports())
def test_json_round_trips_exact_strings(report: CheckReport) -> None:
    doc = json.loads(json_reporter.render(report))
    got = [
        (d["host"], d["env"], d["role"], d["package"], d["actual"], d["reason"])
        for d in doc["findings"]
    ]
    want = [
        (f.host, f.env, f.role, f.package or None, f.actual or None, f.reason or None)
        for f in report.findings
    ]
    assert got == want
    assert doc["warnings"] == [
        {"host": w.host, "env": w.env, "message": w.message} for w in report.warnings
    ]


@SETTINGS
@given(report=reports())
def test_junit_parses_and_gives_the_visible_strings_back(report: CheckReport) -> None:
    root = ET.fromstring(junit.render(report).encode("utf-8"))
    names = sorted(
        name
        for c in root.iter("testcase")
        if (name := c.get("name", "")) != "collect" and not name.startswith("os-release:")
    )
    want = sorted(
        f"{f.ecosystem.value if f.ecosystem else ''}:{junit.clean(f.package)}"
        for f in report.findings
        if junit.outcome(f.kind) is not None
        and not f.kind.is_host_failure
        and f.kind not in (FindingKind.UNSUPPORTED_OS, FindingKind.MIXED_OS)
    )
    assert names == want
    said = {s.get("name"): s.findtext("system-err") for s in root.iter("testsuite")}
    for env in {w.env for w in report.warnings}:
        lines = [
            f"warning from {junit.clean(w.host)}: {junit.clean(w.message)}"
            for w in report.warnings
            if w.env == env
        ]
        assert said[env] == "\n".join(lines)


@SETTINGS
@given(report=reports())
def test_sarif_parses_and_gives_the_visible_strings_back(report: CheckReport) -> None:
    run = json.loads(sarif.render(report))["runs"][0]
    for result, f in zip(
        run["results"], [f for f in report.findings if sarif.level(f.kind)], strict=True
    ):
        assert result["properties"].get("host", "") == junit.clean(f.host)
        assert result["properties"].get("package", "") == junit.clean(f.package)
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["properties"]["warning"] for n in notes] == [
        junit.clean(w.message) for w in report.warnings
    ]


# ------------------------------------------------------------ diff, outdated, waivers


@SETTINGS
@given(
    names=st.lists(hostile, min_size=4, max_size=4),
    width=st.sampled_from([40, 80, 200]),
    colour=st.booleans(),
)
def test_diff_and_outdated_tables_are_log_safe(names: list[str], width: int, colour: bool) -> None:
    a, b, c, d = names
    down = HostFailure(Host(a, "prod", (b,)), FailureKind.INCOMPLETE, c, (d,))

    @dataclasses.dataclass(frozen=True)
    class Diff:
        left: str
        right: str
        rows: tuple[DiffRow, ...]
        failures: tuple[HostFailure, ...]
        notes: tuple[str, ...]

    row_ = DiffRow(c, Ecosystem.DEB, d, (a, ""), (b,), Direction.NEWER)
    diff = Diff(a, b, (row_,), (down,), (f"role {c}: {a} has deb packages, {b} has rpm",))
    assert_log_safe(envdiff.render_table(diff, color=colour, width=width), colour=colour)
    assert_log_safe(envdiff.render_json(diff))
    assert json.loads(envdiff.render_json(diff))["differences"][0]["package"] == d
    row = OutdatedRow(a, b, Ecosystem.PIP, c, d, a, b, (a, b, c, d))
    out = outdated.render_table([row], [down], hosts_checked=2, color=colour, width=width)
    assert_log_safe(out, colour=colour)
    assert json.loads(outdated.render_json([row], [down]))["outdated"][0]["package"] == c


@SETTINGS
@given(names=st.lists(hostile, min_size=4, max_size=4), width=st.sampled_from([None, 20, 60]))
def test_waiver_listing_is_log_safe(names: list[str], width: int | None) -> None:
    a, b, c, d = names
    waiver = Waiver(a, b, dt.date(2030, 1, 1), Ecosystem.DEB, host=c, role=d, env=a)
    lock = Lockfile("pins/pinmgr.toml", 1, (d,), (), (waiver,))
    out = waivers.render(lock, hostile_report(), dt.date(2029, 1, 1), width=width)
    assert_log_safe(out)


# ------------------------------------------------------------ chosen cases


def runner_parse(line: str) -> tuple[str, dict[str, str], str] | None:
    """actions/runner ``ActionCommand.TryParseV2``, transcribed (None: not a command)."""
    message = line.lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    props: dict[str, str] = {}
    if space > 0:
        for item in info[space + 1 :].strip().split(","):
            key, sep, value = item.partition("=")
            if item and sep and key and value:
                props[key] = _unescape(value, prop=True)
    return name, props, _unescape(message[end + 2 :], prop=False)


def _unescape(value: str, *, prop: bool) -> str:
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else [])
    for enc, dec in pairs:
        value = value.replace(enc, dec)
    return value.replace("%25", "%")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("::error::x", ":\\x3aerror:\\x3ax"),
        (":::", ":\\x3a\\x3a"),
        ("fe80::1", "fe80:\\x3a1"),
        ("a:b", "a:b"),
        ("##vso[task.complete]", "#\\x23vso[task.complete]"),
        ("##VSO[x]", "#\\x23VSO[x]"),
        ("##[group]", "#\\x23[group]"),
        ("##teamcity[x]", "#\\x23teamcity[x]"),
        ("## heading", "## heading"),
        ("section_start:1:s", "section_start\\x3a1:s"),
        ("Section_End:1:s", "Section_End\\x3a1:s"),
        ("x\r\n::warning", "x\\x0d\\x0a:\\x3awarning"),
        ("\u2028::x", "\\u2028:\\x3ax"),
    ],
)
def test_log_safe(raw: str, shown: str) -> None:
    assert log_safe(raw) == shown
    assert neutralise(log_safe(raw)) == log_safe(raw)  # idempotent: safe to apply twice


@pytest.mark.parametrize("width", [40, 80, 200])
@pytest.mark.parametrize("colour", [False, True])
def test_wrapped_cells_never_bring_a_token_to_a_line_start(width: int, colour: bool) -> None:
    """Names built so that a fold or word-wrap lands right before ``::``."""
    names = [f"{'a' * n}::error file=x::y" for n in range(1, 60, 7)]
    names += [f"word {'b' * n} ::warning::z section_start:1:s" for n in range(0, 40, 9)]
    found = [
        Finding(FindingKind.COLLECT_ERROR, name, name, name, reason=name) for name in names
    ] + [
        Finding(FindingKind.DRIFT, "h", "e", "r", Ecosystem.DEB, name, name, name) for name in names
    ]
    report = dataclasses.replace(
        build(found, hosts_total=len(found), hosts_collected=1),
        warnings=tuple(HostWarning(n, "e", n) for n in names),
    )
    out = visible(table.render(report, width=width, color=colour), colour=colour)
    assert_log_safe(out)
    assert out.count("\\x3aerror") >= len(names) // 2  # the names are there, escaped


def test_the_runner_parser_sees_a_forged_command() -> None:
    """The checks are real: unescaped host text would be caught by them."""
    forged = "x\n  ::error file=a::owned"
    assert runner_commands(forged)
    assert runner_parse("  ::error file=a::owned") == ("error", {"file": "a"}, "owned")
    assert runner_commands("a ##vso[task.setvariable variable=x]1")
    assert runner_commands("\x1b[0Ksection_start:1:s\r")
    with pytest.raises(AssertionError):
        assert_no_raw_controls("a\u2028b")


# ------------------------------------------------------------ host warnings in each format


def _warned(n_hosts: int, per_host: int) -> CheckReport:
    report = build([], hosts_total=n_hosts, hosts_collected=n_hosts, lockfile="p.toml")
    found = [
        HostWarning(f"h{h:02}", "prod", f"line {i}")
        for h in range(n_hosts)
        for i in range(per_host)
    ]
    return dataclasses.replace(report, warnings=tuple(found))


def test_table_and_markdown_show_a_few_warnings_per_host() -> None:
    report = _warned(2, MAX_WARNINGS_PER_HOST + 3)
    out = table.render(report, width=100, color=False)
    assert f"host warnings ({2 * (MAX_WARNINGS_PER_HOST + 3)} on 2 hosts):" in out
    assert out.count("- h00 (prod): line ") == MAX_WARNINGS_PER_HOST
    assert "- h00 (prod): … and 3 more" in out
    md = markdown.render(report)
    assert md.count("| h01 | prod | line ") == MAX_WARNINGS_PER_HOST
    assert "| h01 | prod | … and 3 more" in md
    assert "host warnings" not in table.render(_warned(0, 0), width=100, color=False)
    many = table.render(_warned(table.MAX_WARNING_HOSTS + 3, 1), width=100, color=False)
    assert f"- h{table.MAX_WARNING_HOSTS - 1:02} (prod): line 0" in many
    assert f"- h{table.MAX_WARNING_HOSTS:02} (prod)" not in many
    assert "- … and 3 more hosts with warnings" in many


def test_github_one_warning_per_host_and_bounded() -> None:
    lines = github.render(_warned(github.MAX_WARNING_HOSTS + 2, 7)).splitlines()
    assert len(lines) == github.MAX_WARNING_HOSTS + 1
    parsed = [runner_parse(line) for line in lines]
    first = parsed[0]
    assert first is not None
    name, props, message = first
    assert (name, props) == ("warning", {"title": "host warnings h00"})
    assert message.splitlines() == [
        "h00 (prod): 7 lines of host output not used",
        *(f"line {i}" for i in range(MAX_WARNINGS_PER_HOST)),
        "… and 2 more (the JSON report lists all)",
    ]
    last = parsed[-1]
    assert last is not None
    assert last[2] == "2 more hosts with warnings (the JSON report lists them)"


def test_hostile_warning_in_every_format() -> None:
    report = hostile_report()
    shown = log_safe(HOSTILE_WARNING)
    assert f"- web2 (prod): {shown[:30]}" in table.render(report, width=200, color=False)
    doc = json.loads(json_reporter.render(report))
    assert {"host": "web2", "env": "prod", "message": HOSTILE_WARNING} in doc["warnings"]
    root = ET.fromstring(junit.render(report).encode())
    prod = next(s for s in root.iter("testsuite") if s.get("name") == "prod")
    assert f"warning from web2: {printable(HOSTILE_WARNING)}" in (prod.findtext("system-err") or "")
    run = json.loads(sarif.render(report))["runs"][0]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert notes[1]["message"]["text"] == f"web2 (prod): {printable(HOSTILE_WARNING)}"
    assert notes[1]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "prod/web2"
    gh = [p for line in github.render(report).splitlines() if (p := runner_parse(line))]
    web2 = next(msg for _, props, msg in gh if props.get("title") == "host warnings web2")
    assert web2.splitlines()[1] == log_safe(HOSTILE_WARNING)
