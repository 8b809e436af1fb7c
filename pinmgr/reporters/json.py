"""JSON report: versioned schema, stable key and finding order, no timestamps (byte-identical)."""

from __future__ import annotations

import json
from typing import Any

from pinmgr.model import CheckReport, Finding, FindingKind

SCHEMA = "pinmgr.check/1"


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
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


def render(report: CheckReport) -> str:
    s = report.summary
    doc = {
        "schema": SCHEMA,
        "lockfile": report.lockfile,
        "environments": list(report.environments),
        "summary": {
            "hosts_total": s.hosts_total,
            "hosts_collected": s.hosts_collected,
            "counts": {k.value: s.count(k) for k in FindingKind},
        },
        "findings": [finding_dict(f) for f in report.findings],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
