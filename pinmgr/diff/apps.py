"""Deployed application revisions against the lockfile's ``apps``.

A pinned revision is checked per host like a package pin (ok / drift / missing), without
older/newer: revisions have no order. ``same = true`` compares the hosts of the role with each
other across every environment checked, and names which environment runs what, so the report
says "production runs a1b2c3d, staging runs e4f5a6b".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pinmgr.model import AppPin, Ecosystem, Finding, FindingKind, HostSnapshot, Lockfile
from pinmgr.versions import revision

SHORT = 12
"""Characters of a commit id shown in reasons (the findings keep the full id)."""


def short(rev: str) -> str:
    return rev[:SHORT] if len(rev) >= 40 and rev.isalnum() else rev


def app_findings(lock: Lockfile, snapshots: Sequence[HostSnapshot]) -> list[Finding]:
    if not lock.apps:
        return []
    findings: list[Finding] = []
    same: dict[tuple[str, str], list[tuple[HostSnapshot, AppPin, str | None]]] = defaultdict(list)
    for snap in snapshots:
        installed = {p.name: p for p in snap.packages if p.ecosystem is Ecosystem.APP}
        release = snap.os_release.key if snap.os_release else ""
        for app in lock.apps_for(snap.host.roles):
            found = installed.get(app.name)
            actual = found.version if found else None
            if app.same:
                same[(app.role, app.name)].append((snap, app, actual))
                continue
            if actual is None:
                kind, reason = FindingKind.MISSING, _absent(app)
            elif revision.same(app.revision, actual):
                kind, reason = FindingKind.OK, ""
            else:
                kind, reason = FindingKind.DRIFT, f"runs {short(actual)}, pinned {app.revision}"
            findings.append(_finding(snap, app, release, kind, app.revision, actual, reason))
    for hosts in same.values():
        by_env: dict[str, set[str]] = defaultdict(set)
        for snap, _, actual in hosts:
            if actual is not None:
                by_env[snap.host.env].add(actual)
        distinct = {rev for revs in by_env.values() for rev in revs}
        summary = ", ".join(
            f"{env} runs {' and '.join(short(r) for r in sorted(revs))}"
            for env, revs in sorted(by_env.items())
        )
        for snap, app, actual in hosts:
            release = snap.os_release.key if snap.os_release else ""
            if actual is None:
                kind, reason = FindingKind.MISSING, _absent(app)
            elif len(distinct) == 1:
                kind, reason = FindingKind.OK, ""
            else:
                kind, reason = FindingKind.DRIFT, summary
            expected = "same in every environment"
            findings.append(_finding(snap, app, release, kind, expected, actual, reason))
    return findings


def _absent(app: AppPin) -> str:
    match app.source.value:
        case "git":
            return f"no git checkout at {app.path}"
        case "file":
            return f"no {app.path.rstrip('/')}/{app.file}"
        case _:
            return f"package {app.package} is not installed"


def _finding(
    snap: HostSnapshot,
    app: AppPin,
    release: str,
    kind: FindingKind,
    expected: str,
    actual: str | None,
    reason: str,
) -> Finding:
    return Finding(
        kind=kind,
        host=snap.host.name,
        env=snap.host.env,
        role=app.role,
        ecosystem=Ecosystem.APP,
        package=app.name,
        expected=expected,
        actual=actual or "",
        reason=reason,
        os_release=release,
        location=app.location,
    )
