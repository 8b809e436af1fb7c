"""Reports for the HTML report's tests: a small fleet with every finding kind, and host text
built to break HTML, JavaScript, CSS, JSON and bidi rendering."""

from __future__ import annotations

import datetime as dt

from pinmgr.diff.report import build
from pinmgr.model import (
    CheckReport,
    Direction,
    Ecosystem,
    Finding,
    FindingKind,
    HostWarning,
    TrendPoint,
)

IMG = "<img src=x onerror=alert(1)>"
HOSTILE = (
    IMG,
    "</script><script>alert(2)</script>",
    "\"dq' 'sq\" `bt` ${alert(3)} {{7*7}}",
    "<!-- <![CDATA[ ]]> --> <style>body{display:none}</style>",
    "line\u2028sep\u2029para\nnl",
    "rtl\u202egnp.exe \u200f\u061c mark",
    "javascript:alert(4)",
    "&lt;amp&gt; &amp; &#60;",
    "long-" + "x" * 3000,
)
DEB, PIP = Ecosystem.DEB, Ecosystem.PIP


def _f(kind: FindingKind, host: str, env: str, role: str, **kw: object) -> Finding:
    return Finding(kind=kind, host=host, env=env, role=role, os_release="debian-12", **kw)  # type: ignore[arg-type]


def fleet_report() -> CheckReport:
    """Three environments; web1/web2/db1 in production, web3 and a hostile host in staging."""
    ok, drift, missing = FindingKind.OK, FindingKind.DRIFT, FindingKind.MISSING
    findings = [
        _f(
            ok,
            "web1",
            "production",
            "app",
            ecosystem=DEB,
            package="nginx",
            expected="1.22.1-9",
            actual="1.22.1-9",
        ),
        _f(
            drift,
            "web1",
            "production",
            "app",
            ecosystem=DEB,
            package="openssl",
            expected="3.0.11-1",
            actual="3.0.9-1",
            direction=Direction.OLDER,
            reason="installed is older than pinned",
        ),
        _f(
            missing, "web1", "production", "app", ecosystem=DEB, package="bash", expected="5.2.15-2"
        ),
        _f(
            ok,
            "web1",
            "production",
            "app",
            ecosystem=PIP,
            package="requests",
            expected="2.31.0",
            actual="2.31.0",
        ),
        _f(
            drift,
            "web2",
            "production",
            "app",
            ecosystem=DEB,
            package="nginx",
            expected="1.22.1-9",
            actual="1.24.0-1",
            direction=Direction.NEWER,
        ),
        _f(
            ok,
            "web2",
            "production",
            "app",
            ecosystem=DEB,
            package="openssl",
            expected="3.0.11-1",
            actual="3.0.11-1",
        ),
        _f(
            FindingKind.UNREACHABLE,
            "db1",
            "production",
            "db",
            reason="connection refused (port 22)",
        ),
        _f(
            FindingKind.WAIVED,
            "web3",
            "staging",
            "app",
            ecosystem=DEB,
            package="nginx",
            expected="1.22.1-9",
            actual="1.22.0-1",
            waiver_reason="ticket 42",
        ),
        _f(
            ok,
            "web3",
            "staging",
            "app",
            ecosystem=DEB,
            package="openssl",
            expected="3.0.11-1",
            actual="3.0.11-1",
        ),
        _f(
            FindingKind.UNPINNED,
            "web3",
            "staging",
            "app",
            ecosystem=PIP,
            package="flask",
            actual="3.0.0",
        ),
    ]
    for i, text in enumerate(HOSTILE):
        findings.append(
            _f(
                drift,
                IMG,
                "staging",
                "db",
                ecosystem=DEB,
                package=f"{text}-{i}",
                expected=text,
                actual=text + "-new",
                direction=Direction.NEWER,
                reason=text,
            )
        )
    findings.append(_f(FindingKind.MIXED_OS, IMG, "staging", "db", reason=HOSTILE[1]))
    return build(
        findings,
        hosts_total=5,
        hosts_collected=4,
        lockfile="pins/pinmgr.toml",
        environments=("production", "staging"),
        warnings=(HostWarning(IMG, "staging", HOSTILE[1]),),
    )


def trend_points() -> tuple[TrendPoint, ...]:
    """Three runs: production 3 -> 2 -> 1 problems, staging (hostile name) 0 -> 4 -> 2."""
    t0 = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.timezone.utc)
    points = []
    for i, (prod, stag) in enumerate(((3, 0), (2, 4), (1, 2))):
        when = t0 + dt.timedelta(days=i)
        points.append(
            TrendPoint(when, "production", ((FindingKind.OK, 50), (FindingKind.DRIFT, prod)))
        )
        points.append(
            TrendPoint(
                when,
                HOSTILE[1],
                (
                    (FindingKind.MISSING, stag // 2),
                    (FindingKind.UNREACHABLE, stag - stag // 2),
                    (FindingKind.WAIVED, 7),
                ),
            )
        )
    return tuple(points)


def many_hosts(n: int, packages: int) -> CheckReport:
    """``n`` hosts in 2 environments x 2 roles, ``packages`` pins each; every 7th cell drifts."""
    findings = []
    for h in range(n):
        env, role = ("production", "staging")[h % 2], ("app", "db")[(h // 2) % 2]
        for p in range(packages):
            drifted = (h * packages + p) % 7 == 0
            findings.append(
                Finding(
                    kind=FindingKind.DRIFT if drifted else FindingKind.OK,
                    host=f"host{h:04d}",
                    env=env,
                    role=role,
                    ecosystem=DEB,
                    package=f"pkg{p:03d}",
                    expected="1.0-1",
                    actual="1.1-1" if drifted else "1.0-1",
                    direction=Direction.NEWER if drifted else None,
                    os_release="debian-12",
                )
            )
    return build(findings, hosts_total=n, hosts_collected=n, environments=("production", "staging"))
