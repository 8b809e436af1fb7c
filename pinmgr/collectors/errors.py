"""The one exception a transport raises; the pool turns it into a ``HostFailure`` value."""

from __future__ import annotations

from collections.abc import Sequence

from pinmgr.model import FailureKind


class CollectFailed(Exception):
    """Collection of one host failed; ``reason`` is one line meant for the user.

    ``transient`` marks failures worth one retry (connection reset, refused while a host
    boots, DNS hiccup); the pool retries a transient ``UNREACHABLE`` once, nothing else.
    ``warnings`` is what the host said besides (unparsed lines, stderr): reports show it.
    """

    def __init__(
        self,
        kind: FailureKind,
        reason: str,
        *,
        transient: bool = False,
        warnings: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.reason = reason
        self.transient = transient
        self.warnings = tuple(warnings)
        super().__init__(f"{kind.value}: {reason}")
