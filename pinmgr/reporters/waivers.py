"""``pinmgr check --show-waived``: every waiver with its status, so stale ones get noticed."""

from __future__ import annotations

import datetime as dt

from pinmgr.diff.waivers import matches
from pinmgr.model import CheckReport, FindingKind, Lockfile
from pinmgr.reporters.text import printable


def render(lock: Lockfile, report: CheckReport, today: dt.date) -> str:
    if not lock.waivers:
        return "waivers: none in the lockfile\n"
    lines = ["waivers:"]
    considered = [
        f
        for f in report.findings
        if f.kind in (FindingKind.WAIVED, FindingKind.DRIFT, FindingKind.MISSING)
    ]
    for w in lock.waivers:
        hits = sum(1 for f in considered if matches(w, f))
        if today > w.expires:
            state = f"expired {w.expires.isoformat()}"
        elif hits:
            state = f"active until {w.expires.isoformat()}, covers {hits} finding(s)"
        else:
            state = f"unused (until {w.expires.isoformat()})"
        scope = " ".join(
            f"{k}={v}"
            for k, v in (
                ("eco", w.ecosystem.value if w.ecosystem else None),
                ("env", w.env),
                ("role", w.role),
                ("host", w.host),
            )
            if v
        )
        where = f"{w.location}: " if w.location else ""
        lines.append(f"  {where}{printable(w.package)} {scope} - {state}: {printable(w.reason)}")
    return "\n".join(lines) + "\n"
