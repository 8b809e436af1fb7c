"""JSON report: versioned schema, stable key and finding order, no timestamps (byte-identical).

Strings are exactly what the hosts said (``json.loads`` gives them back), but the text itself
is safe to print into a CI log: see ``text.json_text``. docs/json.md documents every key.
"""

from __future__ import annotations

from typing import Any

from pinmgr.model import CheckReport, Finding, FindingKind
from pinmgr.reporters.text import json_text

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
        # Every warning, not the few per host the other formats show (collectors bound them).
        "warnings": [{"host": w.host, "env": w.env, "message": w.message} for w in report.warnings],
    }
    return json_text(doc)
