"""The one exception a transport raises; the pool turns it into a ``HostFailure`` value."""

from __future__ import annotations

from pinmgr.model import FailureKind


class CollectFailed(Exception):
    """Collection of one host failed; ``reason`` is one line meant for the user."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(f"{kind.value}: {reason}")
