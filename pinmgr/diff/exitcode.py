"""Report + ``--fail-on`` policy -> process exit code (0 clean, 1 drift, 3 hosts not collected)."""

from __future__ import annotations

from enum import Enum

from pinmgr.errors import EXIT_DRIFT, EXIT_HOSTS, EXIT_OK
from pinmgr.model import CheckReport, FindingKind, assert_never

DRIFT_KINDS = frozenset(
    {
        FindingKind.DRIFT,
        FindingKind.MISSING,
        FindingKind.UNSUPPORTED_OS,
        FindingKind.INCONSISTENT,
        FindingKind.MIXED_OS,
        # Only reported with ``check --installable``: a pin no host could be put on again.
        FindingKind.NOT_INSTALLABLE,
        # Only reported with ``check --security``: a pin behind a security fix.
        FindingKind.SECURITY_UPDATE,
        # Only when checking saved data: a host nobody checks is a gap in coverage.
        FindingKind.NOT_IN_INVENTORY,
        # A pinned ecosystem a host could not be checked in: pins nobody verified.
        FindingKind.NOT_CHECKED,
    }
)
# ``--fail-on drift``: only version drift against the pins and OS-release problems.
VERSION_KINDS = frozenset({FindingKind.DRIFT, FindingKind.UNSUPPORTED_OS, FindingKind.MIXED_OS})


class FailOn(str, Enum):
    """Which findings make ``pinmgr check`` fail. Host failures always exit 3 unless ``never``."""

    # any drift, missing, unsupported-os, inconsistent, mixed-os, not-installable,
    # security-update, not-checked or host failure
    ANY = "any"
    DRIFT = "drift"  # drift, unsupported-os and mixed-os only; missing packages do not fail
    MISSING = "missing"  # missing packages only
    SECURITY = "security"  # only pins behind a security fix (check --security)
    UNREACHABLE = "unreachable"  # only hosts that could not be collected
    NEVER = "never"  # always 0 (report only)
    # as any, counting only findings the previous recorded run of the same scope did not have
    NEW = "new"


def exit_code(report: CheckReport, fail_on: FailOn = FailOn.ANY) -> int:
    """Host failures (3) take precedence over drift (1): an incomplete answer is the worse news."""
    findings = report.findings
    if fail_on is FailOn.NEW:  # a report without history marks counts every finding as new
        findings = tuple(f for f in findings if report.is_new(f))
    failed_hosts = any(f.kind.is_host_failure for f in findings)
    kinds = {f.kind for f in findings}
    match fail_on:
        case FailOn.NEVER:
            return EXIT_OK
        case FailOn.UNREACHABLE:
            return EXIT_HOSTS if failed_hosts else EXIT_OK
        case FailOn.ANY | FailOn.NEW:
            drift = bool(kinds & DRIFT_KINDS)
        case FailOn.DRIFT:
            drift = bool(kinds & VERSION_KINDS)
        case FailOn.MISSING:
            drift = FindingKind.MISSING in kinds
        case FailOn.SECURITY:
            drift = FindingKind.SECURITY_UPDATE in kinds
        case _:
            assert_never(fail_on)
    if failed_hosts:
        return EXIT_HOSTS
    return EXIT_DRIFT if drift else EXIT_OK
