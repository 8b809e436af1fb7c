"""JUnit XML for CI test tabs (GitLab ``artifacts:reports:junit``, Jenkins ``junit``).

One ``<testsuite>`` per environment, one ``<testcase>`` per host x role x pinned package
(classname ``env.host.role``, name ``eco:package``): CI tools group by classname, so a host
reads like a test class and each pin like one of its tests. Drift, missing, unsupported-os,
inconsistent, mixed-os, not-installable and security-update are ``<failure>`` (the last
two beside the pin's own ok or drift testcase, under the same name); waived is ``<skipped>`` (seen,
not failing); a host that could not be collected is one ``<testcase name="collect">`` with an
``<error>``. ``ok`` is a passing test; ``unpinned`` is not a test and is left out.

Host warnings (host output pinmgr could not use) are the ``<system-err>`` of the host's
environment suite, one ``warning from HOST: message`` line each.

Valid against the widely used Jenkins xunit ``junit-10.xsd``; no time or timestamp attributes
so the same report gives the same bytes. Host text is untrusted: control characters and
anything XML 1.0 forbids become visible escapes (``\\x1b``), never raw bytes; a CI runner
command token (``::``, ``##vso[``...) has one character written as a character reference
(``:&#58;``), so the file can be printed into a CI log and a parser still reads the exact text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pinmgr.model import CheckReport, Finding, FindingKind, HostWarning, assert_never
from pinmgr.reporters.text import history_mark, neutralise, printable

# printable() handles C0/C1 controls and bidi; XML 1.0 also forbids lone surrogates
# (undecodable host bytes) and U+FFFE/U+FFFF.
_XML_ILLEGAL = re.compile("[\ud800-\udfff\ufffe\uffff]")


def clean(value: str) -> str:
    """Host text made visible-safe and legal in XML 1.0 (no escaping of markup yet)."""
    return _XML_ILLEGAL.sub(lambda m: f"\\u{ord(m.group()):04x}", printable(value))


def _charref(char: str) -> str:
    return f"&#{ord(char)};"


def _text(value: str) -> str:
    """Escape for element content (our own newlines are kept)."""
    lines = value.split("\n")
    safe = [
        clean(line).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        for line in lines
    ]
    return neutralise("\n".join(safe), _charref)


def _attr(value: str) -> str:
    """Escape for a double-quoted attribute value."""
    escaped = (
        clean(value)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )
    return neutralise(escaped, _charref)


def outcome(kind: FindingKind) -> str | None:
    """The JUnit element a kind becomes: 'failure', 'error', 'skipped', '' (passed) or None.

    The one exhaustive mapping the CI formats share: failure/error are problems (SARIF level
    error, ``::error``), skipped is waived (note, ``::notice``), '' and None are quiet.
    """
    match kind:
        case FindingKind.OK:
            return ""
        case FindingKind.UNPINNED:
            return None  # nothing was pinned: not a test
        case FindingKind.WAIVED:
            return "skipped"
        case (
            FindingKind.DRIFT
            | FindingKind.MISSING
            | FindingKind.UNSUPPORTED_OS
            | FindingKind.INCONSISTENT
            | FindingKind.MIXED_OS
            | FindingKind.NOT_INSTALLABLE
            | FindingKind.SECURITY_UPDATE
            | FindingKind.NOT_IN_INVENTORY
            | FindingKind.NOT_CHECKED
        ):
            return "failure"
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
            return "error"
        case _:
            assert_never(kind)


def message(f: Finding) -> str:
    """One line saying what is wrong: ``pinned X, installed Y (newer)``."""
    if f.kind.is_host_failure:
        return f"{f.kind.value}: {f.reason}" if f.reason else f.kind.value
    if f.kind is FindingKind.UNSUPPORTED_OS:
        return f"OS release {f.actual} not declared for role {f.role} (declared: {f.expected})"
    if f.kind is FindingKind.MIXED_OS:
        line = f"OS release {f.actual}, most {f.role} hosts in {f.env} run {f.expected}"
    elif f.kind is FindingKind.INCONSISTENT:
        here = f"installed {f.actual}" if f.actual else "not installed"
        most = f"{f.expected}" if f.expected else "absent"
        line = f"{here} here, {most} on most {f.role} hosts (not pinned)"
    elif f.kind is FindingKind.NOT_INSTALLABLE:
        line = f"pinned {f.expected} is not offered by the host's package sources"
        if f.actual:
            line += f" (installed {f.actual})"
    elif f.kind is FindingKind.SECURITY_UPDATE:
        line = f"pinned {f.expected} is behind a security fix"
        if f.actual:
            line += f" (installed {f.actual})"
    elif f.kind is FindingKind.UNPINNED:
        line = f"installed {f.actual}, not pinned"
    elif f.kind in (FindingKind.NOT_IN_INVENTORY, FindingKind.NOT_CHECKED):
        return f.reason
    elif not f.actual:
        line = f"pinned {f.expected}, not installed"
    else:
        line = f"pinned {f.expected}, installed {f.actual}"
        if f.direction is not None:
            line += f" ({f.direction.value})"
    if f.reason:
        line += f"; {f.reason}"
    return line


def describe(f: Finding) -> str:
    """One visible-safe line naming the host and the problem (SARIF and annotation text)."""
    where = f"{f.host} ({f.env}, role {f.role})" if f.role else f"{f.host} ({f.env})"
    if f.kind.is_host_failure:
        return clean(f"{where} could not be collected: {message(f)}")
    if not f.package:
        return clean(f"{where}: {message(f)}")
    eco = f.ecosystem.value if f.ecosystem else ""
    text = f"{where}: {eco}:{f.package} {message(f)}"
    if f.kind is FindingKind.WAIVED:
        text += f"; waived: {f.waiver_reason}"
    return clean(text)


def _details(f: Finding, history: str = "") -> str:
    """The element body: every field, one per line, for the CI's detail view."""
    rows = [
        ("kind", f.kind.value),
        ("env", f.env),
        ("host", f.host),
        ("role", f.role),
        ("os release", f.os_release),
        ("ecosystem", f.ecosystem.value if f.ecosystem else ""),
        ("package", f.package),
        ("pinned", f.expected),
        ("installed", f.actual),
        ("direction", f.direction.value if f.direction else ""),
        ("reason", f.reason),
        ("waiver", f.waiver_reason),
        ("lockfile", str(f.location) if f.location else ""),
        ("history", history),
    ]
    if f.fix is not None:
        rows += [
            ("fixed in", f.fix.version),
            ("security source", f.fix.source),
            ("advisory", f.fix.advisory),
            ("severity", f.fix.severity),
            ("cves", " ".join(f.fix.cves)),
        ]
    return "\n".join(f"{name}: {clean(value)}" for name, value in rows if value)


def _case(f: Finding, history: str = "") -> tuple[str, str] | None:
    """(xml, outcome) of one finding's testcase, None when it is not a test."""
    result = outcome(f.kind)
    if result is None:
        return None
    classname = f"{f.env}.{f.host}.{f.role}"
    if f.kind.is_host_failure:
        name = "collect"
    elif f.kind in (FindingKind.UNSUPPORTED_OS, FindingKind.MIXED_OS):
        name = f"os-release:{f.kind.value}"
    else:
        name = f"{f.ecosystem.value if f.ecosystem else ''}:{f.package}"
    head = f'    <testcase classname="{_attr(classname)}" name="{_attr(name)}"'
    if not result:
        return head + "/>", result
    msg = f.waiver_reason if f.kind is FindingKind.WAIVED else message(f)
    xml = (
        f'{head}>\n      <{result} type="{f.kind.value}" message="{_attr(msg)}">'
        f"{_text(_details(f, history))}</{result}>\n    </testcase>"
    )
    return xml, result


def _suite(
    env: str,
    findings: Iterable[Finding],
    warnings: Iterable[HostWarning],
    report: CheckReport,
) -> tuple[str, dict[str, int]]:
    lockfile = report.lockfile
    cases = [case for f in findings if (case := _case(f, history_mark(report, f))) is not None]
    counts = {"tests": len(cases), "failure": 0, "error": 0, "skipped": 0}
    for _, result in cases:
        if result:
            counts[result] += 1
    lines = [
        f'  <testsuite name="{_attr(env)}" tests="{counts["tests"]}" '
        f'failures="{counts["failure"]}" errors="{counts["error"]}" '
        f'skipped="{counts["skipped"]}">'
    ]
    if lockfile:
        lines.append("    <properties>")
        lines.append(f'      <property name="lockfile" value="{_attr(lockfile)}"/>')
        lines.append("    </properties>")
    lines.extend(xml for xml, _ in cases)
    # One line per warning: clean() first, so a newline in host text cannot start a line.
    said = "\n".join(f"warning from {clean(w.host)}: {clean(w.message)}" for w in warnings)
    if said:
        lines.append(f"    <system-err>{_text(said)}</system-err>")
    lines.append("  </testsuite>")
    return "\n".join(lines), counts


def render(report: CheckReport) -> str:
    """The whole report as one ``<testsuites>`` document (UTF-8, trailing newline)."""
    by_env: dict[str, list[Finding]] = {env: [] for env in report.environments}
    for f in report.findings:
        by_env.setdefault(f.env, []).append(f)
    warned: dict[str, list[HostWarning]] = {}
    for w in report.warnings:
        by_env.setdefault(w.env, [])
        warned.setdefault(w.env, []).append(w)
    suites: list[str] = []
    total = {"tests": 0, "failure": 0, "error": 0, "skipped": 0}
    for env in sorted(by_env):
        xml, counts = _suite(env, by_env[env], warned.get(env, ()), report)
        suites.append(xml)
        for key, n in counts.items():
            total[key] += n
    head = (
        f'<testsuites name="pinmgr check" tests="{total["tests"]}" '
        f'failures="{total["failure"]}" errors="{total["error"]}"'
    )
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    if suites:
        out += [head + ">", *suites, "</testsuites>"]
    else:
        out.append(head + "/>")
    return "\n".join(out) + "\n"
