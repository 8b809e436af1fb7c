"""``pinmgr check --show-waived``: every waiver with its status, so stale ones get noticed.

Lockfile text is shown through ``log_safe`` like host text: it reaches the same CI log.
"""

from __future__ import annotations

import datetime as dt
import textwrap

from pinmgr.diff.waivers import matches
from pinmgr.model import CheckReport, FindingKind, Lockfile
from pinmgr.reporters.text import log_safe, neutralise


def render(lock: Lockfile, report: CheckReport, today: dt.date, *, width: int | None = None) -> str:
    """One entry per waiver; with ``width``, long entries wrap (continuation indented)."""
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
            f"{k}={log_safe(v)}"
            for k, v in (
                ("eco", w.ecosystem.value if w.ecosystem else None),
                ("env", w.env),
                ("role", w.role),
                ("host", w.host),
            )
            if v
        )
        where = f"{log_safe(str(w.location))}: " if w.location else ""
        what = " ".join(part for part in (log_safe(w.package), scope) if part)
        entry = f"{where}{what} - {state}: {log_safe(w.reason)}"
        if width is None:
            lines.append(f"  {entry}")
        else:
            lines.extend(
                textwrap.wrap(
                    entry,
                    width=max(20, width),
                    initial_indent="  ",
                    subsequent_indent="    ",
                    break_on_hyphens=False,
                    break_long_words=False,
                )
            )
    # Entries start with the lockfile position or the package: no token may start a line.
    return neutralise("\n".join(lines) + "\n")
