"""The JSON reporter lays its text out by hand (speed on big fleets): it must stay byte for
byte what ``json_text`` (``json.dumps(indent=2)`` plus the CI-log escaping) gives."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given

from pinmgr.model import CheckReport, Finding, FindingKind, Location
from pinmgr.reporters import json as json_reporter
from pinmgr.reporters.text import json_text
from tests.unit.reporters.test_ci_logs import SETTINGS, reports
from tests.unit.reporters.test_golden import hostile_report


def reference(report: CheckReport) -> str:
    doc: dict[str, Any] = json_reporter.document(report)
    doc["findings"] = [json_reporter.finding_dict(f) for f in report.findings]
    return json_text(doc)


@SETTINGS
@given(reports())
def test_layout_is_json_dumps_indent_2(report: CheckReport) -> None:
    assert json_reporter.render(report) == reference(report)


def test_layout_of_the_golden_report_and_an_empty_one() -> None:
    report = hostile_report()
    assert json_reporter.render(report) == reference(report)
    empty = dataclasses.replace(report, findings=(), warnings=(), environments=())
    assert json_reporter.render(empty) == reference(empty)


def test_token_split_across_two_strings_of_one_finding_stays_escaped() -> None:
    # ':' ending one string and ':' starting the next never meet: a quote lies between.
    f = Finding(
        FindingKind.DRIFT,
        host="a:",
        env=":b",
        role="##",
        package="[x",
        location=Location("::f", 1, 2),
    )
    report = dataclasses.replace(hostile_report(), findings=(f,))
    text = json_reporter.render(report)
    assert text == reference(report)
    assert "::" not in text


def test_findings_sharing_all_but_host_and_env_are_laid_out_each_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A finding's text after its host is reused for the next finding showing the same
    fields (a fleet's drifts and inconsistencies repeat them), also past the cache's bound."""
    base = hostile_report().findings
    findings = [
        dataclasses.replace(f, host=f"{f.host}-{i}", env=f"{f.env}{i % 2}")
        for i in range(3)
        for f in base
    ]
    findings += [dataclasses.replace(base[0], actual=f"{base[0].actual}.{i}") for i in range(5)]
    report = dataclasses.replace(hostile_report(), findings=tuple(findings))
    assert json_reporter.render(report) == reference(report)
    monkeypatch.setattr(json_reporter, "_TAILS", 2)
    assert json_reporter.render(report) == reference(report)
