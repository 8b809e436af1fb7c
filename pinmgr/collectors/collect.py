"""One host, one round trip: build the probe, run it through a transport, parse the output.

Everything that goes wrong becomes a ``HostFailure`` value with a one-line reason, so one
broken host never aborts a fleet run.
"""

from __future__ import annotations

from pinmgr.collectors.available import AvailableQuery
from pinmgr.collectors.base import Transport
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.parsers import ProbeIncomplete, ProbeOutputError, escape_text, parse_probe
from pinmgr.collectors.probe import build_probe, new_nonce
from pinmgr.model import FailureKind, Host, HostFailure, HostSnapshot

MAX_REASON_CHARS = 4000
"""Only against a flood: every reason pinmgr writes (the longest is the unknown-host-key
advice with its ``ssh-keyscan ... >> known_hosts`` command, ~300 characters with long paths)
fits whole; host-supplied parts are bounded where they are put in (``MAX_DETAIL_CHARS``)."""

MAX_DETAIL_CHARS = 500
"""A line of host stderr quoted in a reason."""


def one_line(text: str) -> str:
    """First non-empty line, escaped: reasons end up in tables and JUnit, one line each."""
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return escape_text(first, MAX_REASON_CHARS)


def probe_host(
    host: Host, transport: Transport, timeout: float, available: AvailableQuery | None = None
) -> HostSnapshot:
    """Run the probe and parse it; raises ``CollectFailed`` (the transport's or our own).

    ``available``: also ask the host's sources about these packages (same round trip).
    """
    nonce = new_nonce()
    result = transport.run(build_probe(host, nonce, available), timeout)
    try:
        return parse_probe(
            host, result.stdout, nonce, stderr=result.stderr, rc=result.rc, available=available
        )
    except ProbeIncomplete as exc:
        raise CollectFailed(FailureKind.INCOMPLETE, exc.reason, warnings=exc.warnings) from exc
    except ProbeOutputError as exc:
        stderr = result.stderr.decode("utf-8", errors="backslashreplace")
        detail = escape_text(one_line(stderr), MAX_DETAIL_CHARS)
        raise CollectFailed(
            FailureKind.COLLECT_ERROR,
            f"{exc} (exit status {result.rc}{': ' + detail if detail else ''})",
        ) from exc


def failure_from(host: Host, exc: BaseException) -> HostFailure:
    """The value a failed collection becomes; unexpected exceptions are collect errors."""
    if isinstance(exc, CollectFailed):
        return HostFailure(host, exc.kind, one_line(exc.reason) or exc.kind.value, exc.warnings)
    reason = one_line(str(exc))
    name = type(exc).__name__
    return HostFailure(host, FailureKind.COLLECT_ERROR, f"{name}: {reason}" if reason else name)


def collect_host(
    host: Host, transport: Transport, timeout: float, available: AvailableQuery | None = None
) -> HostSnapshot | HostFailure:
    """Collect one host; never raises for host problems (only for KeyboardInterrupt and kin)."""
    try:
        return probe_host(host, transport, timeout, available)
    except Exception as exc:
        return failure_from(host, exc)
