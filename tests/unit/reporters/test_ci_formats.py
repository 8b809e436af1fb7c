"""CI formats checked by the tools that consume them, not by eye.

JUnit against the Jenkins xunit ``junit-10.xsd`` (xmlschema) and parsed by expat; SARIF against
the SARIF 2.1.0 JSON schema (jsonschema); Markdown rendered by ``cmark-gfm`` with GitHub's
extensions; workflow commands parsed the way the Actions runner parses them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from pinmgr.diff.report import build
from pinmgr.model import CheckReport, Ecosystem, Finding, FindingKind, Location
from pinmgr.reporters import github, junit, markdown, sarif
from pinmgr.reporters.text import log_safe, neutralise, printable
from tests.unit.reporters.test_golden import HOSTILE_WARNING, OSC8, findings, hostile_report

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "tests" / "data" / "schemas"

# Lone surrogates (undecodable host bytes via surrogateescape) and XML-forbidden code points.
NASTY = "pkg\udcff\ufffe\uffff\x00\x7f\u202e"


def nasty_report() -> CheckReport:
    extra = [
        Finding(FindingKind.DRIFT, "h\udc80", "prod", "app", Ecosystem.DEB, NASTY, "1", "2",
                reason="r\udcfe", location=Location("pins/x y.toml", 3, 2)),
        Finding(FindingKind.UNREACHABLE, "h2", "prod", "app", reason="bad \udcff bytes"),
    ]  # fmt: skip
    return build(
        [*findings(), *extra], hosts_total=12, hosts_collected=5, lockfile="pins/pinmgr.toml"
    )


def empty_report() -> CheckReport:
    return build([], hosts_total=0, hosts_collected=0, lockfile="pins/pinmgr.toml")


# ---------------------------------------------------------------- JUnit


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))


@pytest.mark.parametrize("make", [hostile_report, nasty_report, empty_report])
def test_junit_valid_against_xsd(junit_schema: xmlschema.XMLSchema, make: object) -> None:
    assert callable(make)
    xml = junit.render(make())
    data = xml.encode("utf-8")  # raises on lone surrogates
    ET.fromstring(data)  # expat: well-formed XML 1.0
    junit_schema.validate(xml)


def test_junit_xsd_rejects_a_broken_document(junit_schema: xmlschema.XMLSchema) -> None:
    """The schema is really checking: a testcase without its required name fails."""
    bad = junit.render(hostile_report()).replace(' name="deb:bash"', "", 1)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        junit_schema.validate(bad)


def test_junit_counts_match_elements() -> None:
    root = ET.fromstring(junit.render(hostile_report()).encode())
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["prod", "staging"]
    total = {"tests": 0, "failures": 0, "errors": 0}
    for suite in suites:
        cases = suite.findall("testcase")
        counted = {
            "tests": len(cases),
            "failures": len(suite.findall("testcase/failure")),
            "errors": len(suite.findall("testcase/error")),
            "skipped": len(suite.findall("testcase/skipped")),
        }
        for key, n in counted.items():
            assert suite.get(key) == str(n), (suite.get("name"), key)
        for key in total:
            total[key] += counted[key]
    for key, n in total.items():
        assert root.get(key) == str(n)
    # every kind but unpinned is a testcase: 23 findings - 1 unpinned
    assert total == {"tests": 22, "failures": 11, "errors": 9}
    assert len(root.findall("testsuite/testcase/skipped")) == 1


def test_junit_case_shapes() -> None:
    root = ET.fromstring(junit.render(hostile_report()).encode())
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    drift = cases[("prod.web1.app", "deb:openssl")].find("failure")
    assert drift is not None
    assert drift.get("type") == "drift"
    assert drift.get("message") == "pinned 3.0.11-1~deb12u2, installed 3.0.13-1~deb12u1 (newer)"
    assert "lockfile: pins/pinmgr.toml:14:1" in (drift.text or "")
    ok = cases[("prod.web1.app", "deb:bash")]
    assert list(ok) == []
    waived = cases[("prod.web1.app", "deb:[red]boom[/red]")].find("skipped")
    assert waived is not None
    assert waived.get("message", "").startswith("CVE fix, 100% needed")
    failure = cases[("staging.web7.app", "collect")].find("error")
    assert failure is not None
    assert failure.get("type") == "unreachable"
    assert failure.get("message") == "unreachable: connection refused on 10.0.0.7:22"
    missing = cases[("prod.web2.app", "deb:" + printable(OSC8))].find("failure")
    assert missing is not None
    assert missing.get("message") == "pinned 1.0-1, not installed"
    assert ("prod.web1.app", "deb:vim") not in cases  # unpinned is not a test


def test_junit_hostile_text_is_visible_not_raw() -> None:
    xml = junit.render(nasty_report())
    root = ET.fromstring(xml.encode())
    names = [c.get("name") for c in root.iter("testcase")]
    assert "deb:pkg\\udcff\\ufffe\\uffff\\x00\\x7f\\u202e" in names
    assert "\x1b" not in xml


def test_junit_all_kinds_have_an_outcome() -> None:
    """The exhaustive mapping the CI formats share: walks every member."""
    for kind in FindingKind:
        result = junit.outcome(kind)
        assert result in ("", None, "failure", "error", "skipped")
        assert (result == "error") == kind.is_host_failure


# ---------------------------------------------------------------- SARIF


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)  # type: ignore[no-any-return]


@pytest.mark.parametrize("make", [hostile_report, nasty_report, empty_report])
def test_sarif_valid_against_schema(
    sarif_validator: jsonschema.protocols.Validator, make: object
) -> None:
    assert callable(make)
    text = sarif.render(make())
    text.encode("utf-8")
    errors = sorted(sarif_validator.iter_errors(json.loads(text)), key=str)
    assert not errors, errors[0]


def test_sarif_schema_rejects_a_broken_log(sarif_validator: jsonschema.protocols.Validator) -> None:
    doc = json.loads(sarif.render(hostile_report()))
    doc["runs"][0]["results"][0]["level"] = "fatal"
    assert list(sarif_validator.iter_errors(doc))


def _run() -> dict[str, object]:
    run = json.loads(sarif.render(hostile_report()))["runs"][0]
    assert isinstance(run, dict)
    return run


def test_sarif_rules_and_results() -> None:
    run = _run()
    driver = run["tool"]["driver"]  # type: ignore[index]
    assert driver["name"] == "pinmgr"
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert ids == [k.value for k in FindingKind if k not in (FindingKind.OK, FindingKind.UNPINNED)]
    results = run["results"]
    assert isinstance(results, list)
    assert {r["ruleId"] for r in results} == set(ids)  # the fixture has one of each
    assert len(results) == 21  # 23 findings - ok - unpinned
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        special = {"waived": "note", "not-installable": "warning"}
        assert r["level"] == special.get(r["ruleId"], "error")


def test_sarif_locations() -> None:
    results = _run()["results"]
    assert isinstance(results, list)
    drift = next(r for r in results if r["properties"].get("package") == "openssl")
    phys = drift["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "pins/pinmgr.toml"
    assert phys["region"] == {"startLine": 14, "startColumn": 1}
    assert drift["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "prod/web1"
    for kind, host in (("unreachable", "web7"), ("unsupported-os", "db1"), ("mixed-os", "db1")):
        res = next(r for r in results if r["ruleId"] == kind)
        (loc,) = res["locations"]
        # no pin line: line 1 of the lockfile, so GitHub accepts the upload
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == "pins/pinmgr.toml"
        assert loc["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 1}
        assert loc["logicalLocations"][0]["name"] == host


def test_sarif_meets_github_ingestion_rules() -> None:
    """GitHub rejects a whole upload if any result lacks a physical artifact location."""
    for make in (hostile_report, nasty_report):
        for r in json.loads(sarif.render(make()))["runs"][0]["results"]:
            assert r["locations"], r
            for loc in r["locations"]:
                assert loc["physicalLocation"]["artifactLocation"]["uri"], r
                assert loc["physicalLocation"]["region"]["startLine"] >= 1


def test_sarif_without_lockfile_keeps_logical_location_only() -> None:
    f = findings()[-1]
    run = json.loads(sarif.render(build([f], hosts_total=1, hosts_collected=0)))["runs"][0]
    (loc,) = run["results"][0]["locations"]
    assert "physicalLocation" not in loc
    assert loc["logicalLocations"][0]["name"] == "web12"


def test_sarif_uri_is_percent_encoded() -> None:
    run = json.loads(sarif.render(nasty_report()))["runs"][0]
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in run["results"]
        for loc in r["locations"]
        if "physicalLocation" in loc
    }
    assert "pins/x%20y.toml" in uris


def test_sarif_fingerprints_stable_across_versions_and_lines() -> None:
    f = findings()[1]
    moved = dataclasses.replace(f, actual="9.9", expected="9.8", location=Location("p", 99, 1))
    assert sarif.fingerprint(f) == sarif.fingerprint(moved)
    assert sarif.fingerprint(f) != sarif.fingerprint(dataclasses.replace(f, host="web2"))
    assert sarif.fingerprint(f) != sarif.fingerprint(
        dataclasses.replace(f, kind=FindingKind.WAIVED)
    )
    prints = [r["partialFingerprints"][sarif.FINGERPRINT_KEY] for r in _run()["results"]]  # type: ignore[attr-defined]
    assert len(set(prints)) == len(prints)


def _docs_table() -> dict[str, tuple[str, str]]:
    """kind -> (meaning, fix) cells of docs/findings.md."""
    rows: dict[str, tuple[str, str]] = {}
    for line in (ROOT / "docs" / "findings.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([a-z-]+)` \|", line)
        if m:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[m.group(1)] = (cells[2], cells[4])
    return rows


def test_sarif_rule_texts_match_docs() -> None:
    docs = _docs_table()
    documented = [k for k in sarif.RULE_KINDS if k.value in docs]
    assert len(documented) >= 10
    for kind in documented:
        _, _, meaning, fix = sarif.RULES[kind]
        assert (meaning, fix) == docs[kind.value], kind


def test_sarif_every_reportable_kind_has_a_rule() -> None:
    for kind in FindingKind:
        assert (kind in sarif.RULES) == (sarif.level(kind) is not None), kind


# ---------------------------------------------------------------- Markdown


class _Cells(HTMLParser):
    """Collects table rows (as cell texts) and every tag name from rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _gfm(text: str) -> _Cells:
    exe = shutil.which("cmark-gfm")
    if exe is None:
        pytest.skip("cmark-gfm not installed (tests/apt-packages.txt)")
    html = subprocess.run(
        [exe, "-e", "table", "-e", "strikethrough", "-e", "autolink", "-e", "tagfilter"],
        input=text.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    parser = _Cells()
    parser.feed(html)
    return parser


def test_markdown_renders_hostile_text_literally() -> None:
    report = hostile_report()
    parsed = _gfm(markdown.render(report))
    assert not {"a", "script", "b", "del", "s", "em", "img"} & set(parsed.tags)
    assert parsed.tags.count("strong") == 1  # our own "N hosts checked"
    assert parsed.tags.count("table") == 4
    # every row has as many cells as its table's header: no '|' split a cell
    widths = {len(r) for r in parsed.rows}
    assert widths == {2, 9, 8, 3}
    # the page shows the exact (printable) warning: the backslashes that break CI tokens vanish
    warned = [r for r in parsed.rows if len(r) == 3 and r[0] == "web2"]
    assert warned == [["web2", "prod", printable(HOSTILE_WARNING)]]
    waived = next(r for r in parsed.rows if r[0] == "prod" and r[1] == "web1")
    f = next(f for f in report.findings if f.kind is FindingKind.WAIVED)
    assert waived[3] == "deb:" + f.package
    assert waived[4] == f.expected
    assert waived[5] == f.actual
    assert waived[6] == f.waiver_reason
    missing = next(r for r in parsed.rows if r[0] == "missing" and len(r) == 9)
    assert missing[4] == "deb:" + printable(OSC8)
    forged = next(r for r in parsed.rows if r[0] == "collect-error" and len(r) == 9)
    assert forged[7] == printable(findings()[-1].reason)


def test_markdown_escapes_autolinks_and_backslashes() -> None:
    f = Finding(FindingKind.DRIFT, "h", "e", "r", Ecosystem.DEB, "a\\|b www.x.io", "1", "2",
                reason="see https://evil.example/x `code` ~x~")  # fmt: skip
    parsed = _gfm(markdown.render(build([f], hosts_total=1, hosts_collected=1)))
    assert "a" not in parsed.tags and "code" not in parsed.tags and "del" not in parsed.tags
    row = next(r for r in parsed.rows if r[0] == "drift" and len(r) == 9)
    assert row[4] == "deb:a\\|b www.x.io"
    assert row[7] == "see https://evil.example/x `code` ~x~"


def test_markdown_verdicts() -> None:
    clean = build(
        [Finding(FindingKind.OK, "h", "e", "r", Ecosystem.DEB, "p", "1", "1")],
        hosts_total=1,
        hosts_collected=1,
    )
    text = markdown.render(clean)
    assert text.startswith("## pinmgr check: ✅ all hosts match their pins\n")
    assert "Problems" not in text
    assert "Not listed: 1 ok" in text
    assert markdown.render(hostile_report()).startswith(
        "## pinmgr check: ⚠️ 11 problems, 9 hosts not collected\n"
    )
    drift_only = build([findings()[1]], hosts_total=1, hosts_collected=1)
    assert markdown.verdict(drift_only) == "❌ 1 problem"


def test_markdown_caps_rows() -> None:
    many = [
        Finding(FindingKind.MISSING, f"h{i:03}", "e", "r", Ecosystem.DEB, "p", "1")
        for i in range(30)
    ]
    text = markdown.render(build(many, hosts_total=30, hosts_collected=30), max_rows=10)
    assert "… and 20 more" in text
    assert sum(1 for line in text.splitlines() if line.startswith("| missing | e |")) == 10


# ---------------------------------------------------------------- GitHub annotations

_COMMAND = re.compile(r"^::(?P<cmd>[a-z]+)(?: (?P<props>[^:]*))?::(?P<msg>.*)$")


def _unescape(value: str, *, prop: bool) -> str:
    """The Actions runner's unescaping (ActionCommand.Unescape{Data,Property})."""
    pairs = [("%0D", "\r"), ("%0A", "\n")]
    if prop:
        pairs += [("%3A", ":"), ("%2C", ",")]
    for enc, dec in pairs:
        value = value.replace(enc, dec)
    return value.replace("%25", "%")


def _parse(line: str) -> tuple[str, dict[str, str], str]:
    m = _COMMAND.match(line)
    assert m, line
    props: dict[str, str] = {}
    for item in (m.group("props") or "").split(","):
        key, _, value = item.partition("=")
        props[key] = _unescape(value, prop=True)
    return m.group("cmd"), props, _unescape(m.group("msg"), prop=False)


def test_github_one_command_per_problem() -> None:
    report = hostile_report()
    lines = github.render(report).splitlines()
    expected = [f for f in report.findings if junit.outcome(f.kind)]
    assert len(expected) == 21
    assert len(lines) == 21 + 3  # and one warning per host with warnings
    parsed = [_parse(line) for line in lines]
    cmds = [c for c, _, _ in parsed]
    assert cmds == ["error"] * 19 + ["warning"] * 4 + ["notice"]
    by_title = {p["title"]: (p, msg) for _, p, msg in parsed}
    props, _ = by_title["drift web1"]
    assert props["file"] == "pins/pinmgr.toml"
    assert props["line"] in ("14", "20")
    host_props, host_msg = by_title["auth-failed web:8,x%y"]
    assert "file" not in host_props
    assert host_msg.startswith("web:8,x%y (staging, role app,db) could not be collected")
    _, forged = by_title["collect-error web12"]
    assert forged == log_safe(
        "web12 (staging, role app) could not be collected: collect-error: " + findings()[-1].reason
    )
    assert "::warning" not in forged


def test_github_escaping_round_trips() -> None:
    for f in findings():
        line = github.command(f)
        if line is None:
            assert f.kind in (FindingKind.OK, FindingKind.UNPINNED)
            continue
        assert "\n" not in line and "\r" not in line
        _, props, msg = _parse(line)
        assert msg == neutralise(junit.describe(f))
        assert props["title"] == log_safe(f"{f.kind.value} {f.host}")
        if f.location:
            assert (props["file"], props["line"], props["col"]) == (
                f.location.file,
                str(f.location.line),
                str(f.location.col),
            )


def test_github_escape_functions() -> None:
    assert github.escape_data("100%\r\n:,") == "100%25%0D%0A:,"
    assert github.escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_github_empty_when_nothing_to_report() -> None:
    assert github.render(empty_report()) == ""
