"""The one exception a transport raises; the pool turns it into a ``HostFailure`` value."""

from __future__ import annotations

from pinmgr.model import FailureKind


class CollectFailed(Exception):
    """Collection of one host failed; ``reason`` is one line meant for the user.

    ``transient`` marks failures worth one retry (connection reset, refused while a host
    boots, DNS hiccup); the pool retries a transient ``UNREACHABLE`` once, nothing else.
    """

    def __init__(self, kind: FailureKind, reason: str, *, transient: bool = False) -> None:
        self.kind = kind
        self.reason = reason
        self.transient = transient
        super().__init__(f"{kind.value}: {reason}")
