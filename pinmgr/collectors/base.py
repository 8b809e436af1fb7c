"""The transport contract: run one fixed command on a host, return bytes and a code.

Transports know how to reach a host, nothing about packages; parsers (pure) know packages,
nothing about hosts. Local and SSH collection share every parser through this seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: bytes
    stderr: bytes


class Transport(Protocol):
    """Runs a fixed command string on one host.

    Raises ``CollectFailed`` (collectors.errors) for anything that prevents running it:
    unreachable, auth, host key, timeout, output over the byte cap.
    """

    def run(self, command: str, timeout: float) -> CommandResult: ...

    def close(self) -> None: ...
