"""SARIF 2.1.0 for code-scanning UIs (GitHub ``upload-sarif``, GitLab, VS Code viewers).

Each problem becomes a result pointing at the pin's line in the lockfile, so drift shows up
where a reviewer can fix it. One rule per reportable finding kind, worded as in
docs/findings.md (a test keeps the two in step). ``ok`` and ``unpinned`` are not problems and
are not results. Every result also has a logical location naming the host. Results with no
pin line (host failures, unsupported-os, mixed-os, inconsistent) point at line 1 of the
lockfile: GitHub code scanning rejects the *whole* upload when any result lacks a physical
location (codeql-action issues 1738 and 2459), so a logical location alone would lose every
alert exactly when a host is down.

partialFingerprints hash the finding's identity (kind, env, host, role, ecosystem, package),
not versions or lines, so an alert survives a lockfile edit and a version bump.

Host warnings (host output pinmgr could not use) are ``invocations[0].toolExecutionNotifications``,
level ``warning``, one per warning, each with the host as its logical location: they say how
far the run can be trusted, they are not problems in the lockfile.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote

from pinmgr import __version__
from pinmgr.model import CheckReport, Finding, FindingKind, HostWarning, Location
from pinmgr.reporters.junit import clean, describe, outcome
from pinmgr.reporters.text import history_mark, json_text

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/pinmgr/"
FINGERPRINT_KEY = "pinmgrFinding/v1"

# kind -> (rule name, short description, meaning, fix); meaning and fix are the Markdown cells
# of docs/findings.md verbatim.
RULES: dict[FindingKind, tuple[str, str, str, str]] = {
    FindingKind.DRIFT: (
        "PackageDrift",
        "Installed version differs from the pinned version",
        "installed, but not the pinned version; `direction` says whether it is **older** or "
        "**newer** than the pin, by the ecosystem's own ordering (dpkg, rpm, PEP 440). A "
        "package dpkg reports half-installed is drift too (reason `half-installed`)",
        "install the pinned version, or — if the upgrade was intended — update the pin",
    ),
    FindingKind.MISSING: (
        "PackageMissing",
        "Pinned package is not installed",
        "pinned but not installed (a deb in state `rc`, removed with config files left, "
        "counts as not installed)",
        "install it, or remove the pin",
    ),
    FindingKind.UNSUPPORTED_OS: (
        "UnsupportedOsRelease",
        "Host OS release has no pins for its role",
        "the host's OS release (`ID-VERSION_ID` from `/etc/os-release`) has no table for its "
        "role in the lockfile",
        'add `[roles.app."rocky-9".rpm]` pins, or move the host to a declared release',
    ),
    FindingKind.WAIVED: (
        "DriftWaived",
        "Drift accepted by an unexpired waiver",
        "drift or missing covered by an unexpired waiver in the lockfile; shown, never hidden. "
        "After `expires` it is drift again, with reason `waiver expired YYYY-MM-DD`",
        "fix before expiry, or extend the waiver deliberately",
    ),
    # Not yet in docs/findings.md: worded from pinmgr/diff/consistency.py.
    FindingKind.INCONSISTENT: (
        "RoleInconsistent",
        "Hosts of one role disagree on an unpinned package",
        "hosts of one role on one OS release disagree on a package the lockfile does not "
        "pin (different versions, or installed on some and not others); the most common "
        "value is the reference and each host that differs gets a finding, with the "
        "spread in the reason",
        "pin it (pinmgr lock --from a good host), or bring the odd hosts in line with the others",
    ),
    FindingKind.MIXED_OS: (
        "RoleMixedOsReleases",
        "Hosts of one role in one environment run different OS releases",
        "hosts of one role within one environment run different OS releases; the most "
        "common release is the reference and each other host gets a finding",
        "move the odd hosts to the environment's release (the same OS release everywhere "
        "is half the point), or give them their own role",
    ),
    FindingKind.NOT_INSTALLABLE: (
        "PinNotInstallable",
        "Pinned version is no longer offered by the host's package sources",
        "the pinned version is not offered by the host's configured package sources any more "
        "(only with `check --installable`): a reinstall could not get it",
        "mirror or snapshot the pinned version, or move the pin to a version the sources offer",
    ),
    FindingKind.SECURITY_UPDATE: (
        "PinBehindSecurityFix",
        "A security source offers a fix newer than the pin",
        "a security source of the host (a Debian `*-security` suite, an Ubuntu `-security` "
        "pocket, a dnf updateinfo security advisory) offers a version newer than the pin "
        "allows (only with `check --security`); the reason and the result's properties name "
        "the fixing version, the source, and the advisory, severity and CVE ids where the "
        "metadata has them",
        "move the pin to the fixing version (`pinmgr accept --security-fixes`), roll it out, "
        "or waive it with a reason",
    ),
    FindingKind.UNREACHABLE: (
        "HostUnreachable",
        "Host could not be reached",
        "the host could not be reached (connection refused, no route to host, DNS)",
        "start the host / fix the address in the inventory",
    ),
    FindingKind.AUTH_FAILED: (
        "HostAuthFailed",
        "SSH authentication failed",
        "SSH authentication failed",
        "load the key into ssh-agent, or set `key`/`user` in the inventory",
    ),
    FindingKind.HOSTKEY_UNKNOWN: (
        "HostKeyUnknown",
        "Host key is not in any known_hosts file",
        "the host's key is not in any known_hosts file; the reason shows its SHA256 "
        "fingerprint and the command to trust it",
        "verify the fingerprint, then add it (the reason prints the `ssh-keyscan` line) or "
        "run once with `--accept-new`",
    ),
    FindingKind.HOSTKEY_CHANGED: (
        "HostKeyChanged",
        "Host presented a different key than the recorded one",
        "the host presented a different key than the one recorded — always refused, the "
        "known_hosts file is never changed",
        "find out why (reinstall? attack?), then remove the old line with `ssh-keygen -R`",
    ),
    FindingKind.TIMEOUT: (
        "HostTimeout",
        "Connecting or collecting timed out",
        "connecting or collecting took longer than `--connect-timeout` / `--timeout`",
        "check the host's load / network; raise the timeout",
    ),
    FindingKind.COLLECT_ERROR: (
        "CollectError",
        "Host output could not be used",
        "collected, but the output was unusable (over the byte cap, probe failed)",
        "look at the host; report a bug if the probe misread it",
    ),
    FindingKind.INCOMPLETE: (
        "IncompleteCollection",
        "Host output was incomplete",
        "reached, but the probe's output was cut short (connection dropped, no final marker), "
        "a section's command exited non-zero, or a section did not parse: nothing read from "
        "the host is used, so no `missing` findings follow from it",
        "look at the named section on the host, then re-run",
    ),
    FindingKind.NO_DATA: (
        "NoSavedData",
        "No saved data for an inventory host",
        "checking saved data (`check --snapshot`): the inventory names the host, but no "
        "snapshot or fact cache given has data for it",
        "collect it (`pinmgr collect`, or Ansible `setup` + `package_facts`), or pass the "
        "shard or cache that has it",
    ),
    FindingKind.STALE: (
        "StaleSavedData",
        "Saved data older than --max-age",
        "checking saved data with `--max-age`: the host's data was collected longer ago than "
        "that; it is not checked",
        "collect the host again; raise `--max-age` only if old data is acceptable",
    ),
    FindingKind.NOT_IN_INVENTORY: (
        "HostNotInInventory",
        "Saved data for a host the inventory does not know",
        "checking saved data: a host in the snapshot or fact cache is not in the inventory "
        "and the data carries no environment and role, so it is not checked",
        "add the host to the inventory (`-i`), or leave it out of the saved data",
    ),
    FindingKind.NOT_CHECKED: (
        "EcosystemNotChecked",
        "Pinned ecosystem could not be checked on the host",
        "the host's role pins packages of an ecosystem the host could not be checked in: pip "
        "pins and no interpreter listed for the host, or deb/rpm pins and the host reported "
        "no package of that ecosystem (no dpkg/rpm database); one finding per host, role and "
        "ecosystem, never a silent skip",
        "pip: list the interpreters or virtualenvs on the host (`pip = [...]` in the "
        "inventory, `pinmgr_pip` in Ansible); deb/rpm: move the pins under the release the "
        "host runs",
    ),
}
_MD = re.compile(r"\*\*|`")
_SECURITY = frozenset({FindingKind.SECURITY_UPDATE})


def level(kind: FindingKind) -> str | None:
    """SARIF level of a kind, or None when the kind is not a result at all."""
    if kind is FindingKind.NOT_INSTALLABLE:
        return "warning"  # nothing has drifted yet; the pin is at risk
    return {"failure": "error", "error": "error", "skipped": "note"}.get(outcome(kind) or "")


RULE_KINDS: tuple[FindingKind, ...] = tuple(k for k in FindingKind if level(k) is not None)
_RULE_INDEX = {kind: i for i, kind in enumerate(RULE_KINDS)}


def plain(markdown: str) -> str:
    """The rule texts without Markdown emphasis and code marks."""
    return _MD.sub("", markdown)


def _rule(kind: FindingKind) -> dict[str, Any]:
    name, short, meaning, fix = RULES[kind]
    return {
        "id": kind.value,
        "name": name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": plain(meaning)},
        "help": {
            "text": f"{plain(meaning)}. Fix: {plain(fix)}.",
            "markdown": f"**{kind.value}**: {meaning}.\n\n**Fix:** {fix}.",
        },
        "defaultConfiguration": {"level": level(kind)},
        "properties": {"tags": ["pinmgr", "security"] if kind in _SECURITY else ["pinmgr"]},
    }


def fingerprint(f: Finding) -> str:
    """Stable identity of a finding: same problem on the same pin and host, same hash."""
    eco = f.ecosystem.value if f.ecosystem else ""
    key = "\0".join((f.kind.value, f.env, f.host, f.role, eco, f.package))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _host_location(host: str, env: str) -> dict[str, str]:
    return {"name": clean(host), "fullyQualifiedName": clean(f"{env}/{host}"), "kind": "resource"}


def _notification(w: HostWarning) -> dict[str, Any]:
    return {
        "level": "warning",
        "message": {"text": clean(f"{w.host} ({w.env}): {w.message}")},
        "locations": [{"logicalLocations": [_host_location(w.host, w.env)]}],
        "properties": {"host": clean(w.host), "env": clean(w.env), "warning": clean(w.message)},
    }


def _result(f: Finding, lvl: str, lockfile: str, history: str = "") -> dict[str, Any]:
    location: dict[str, Any] = {}
    where = f.location or (Location(lockfile, 1, 1) if lockfile else None)
    if where is not None:
        location["physicalLocation"] = {
            "artifactLocation": {"uri": quote(clean(where.file), safe="/")},
            "region": {"startLine": where.line, "startColumn": where.col},
        }
    location["logicalLocations"] = [_host_location(f.host, f.env)]
    props = {
        "env": f.env,
        "host": f.host,
        "role": f.role,
        "osRelease": f.os_release,
        "ecosystem": f.ecosystem.value if f.ecosystem else "",
        "package": f.package,
        "expected": f.expected,
        "actual": f.actual,
        "direction": f.direction.value if f.direction else "",
        "reason": f.reason,
        "waiver": f.waiver_reason,
        "history": history,
    }
    properties: dict[str, Any] = {k: clean(v) for k, v in props.items() if v}
    if f.fix is not None:
        properties.update(_fix_properties(f))
    return {
        "ruleId": f.kind.value,
        "ruleIndex": _RULE_INDEX[f.kind],
        "level": lvl,
        "message": {"text": describe(f)},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f)},
        "properties": properties,
    }


def _fix_properties(f: Finding) -> dict[str, Any]:
    """A security-update's fix: version, source, advisory, severity, CVE ids (also as tags)."""
    assert f.fix is not None
    fix = f.fix
    out: dict[str, Any] = {"fixedVersion": clean(fix.version), "securitySource": clean(fix.source)}
    if fix.advisory:
        out["advisory"] = clean(fix.advisory)
    if fix.severity:
        out["severity"] = clean(fix.severity)
    if fix.cves:
        out["cves"] = [clean(c) for c in fix.cves]
    out["tags"] = ["security", *(clean(i) for i in (fix.advisory, *fix.cves) if i)]
    return out


def render(report: CheckReport) -> str:
    """One run with every rule and one result per problem; byte-identical for one report."""
    results: list[dict[str, Any]] = []
    for f in report.findings:
        lvl = level(f.kind)
        if lvl is not None:
            results.append(_result(f, lvl, report.lockfile, history_mark(report, f)))
    s = report.summary
    doc = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pinmgr",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(k) for k in RULE_KINDS],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": [_notification(w) for w in report.warnings],
                    }
                ],
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": {
                    "lockfile": clean(report.lockfile),
                    "environments": [clean(e) for e in report.environments],
                    "hostsTotal": s.hosts_total,
                    "hostsCollected": s.hosts_collected,
                    "counts": {k.value: s.count(k) for k in FindingKind},
                },
            }
        ],
    }
    return json_text(doc)
