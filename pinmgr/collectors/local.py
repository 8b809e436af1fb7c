"""Run the probe on this machine: ``sh -c`` in a subprocess, with a deadline and a byte cap.

The child gets its own process group so a timeout kills everything the script started
(a hung ``dpkg-query`` or interpreter), not just ``sh``; output is read incrementally so a
runaway command cannot fill memory before the cap is noticed.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time

from pinmgr.collectors.base import CommandResult
from pinmgr.collectors.errors import CollectFailed
from pinmgr.model import FailureKind, Host

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
STDERR_MAX_BYTES = 64 * 1024
"""stderr only feeds diagnostics: keep its start, drop the rest rather than fail."""

_CHUNK = 65536


class LocalTransport:
    """``collectors.base.Transport`` for the machine pinmgr runs on."""

    def __init__(self, host: Host | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.host = host
        self.max_bytes = max_bytes

    def run(self, command: str, timeout: float) -> CommandResult:
        deadline = time.monotonic() + timeout
        try:
            proc = subprocess.Popen(
                ["sh", "-c", command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise CollectFailed(FailureKind.COLLECT_ERROR, f"cannot run sh: {exc}") from exc
        try:
            stdout, stderr = self._read(proc, deadline, timeout)
            rc = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired as exc:
            raise CollectFailed(FailureKind.TIMEOUT, f"no result within {timeout:g}s") from exc
        finally:
            _kill_group(proc)
        return CommandResult(rc, stdout, stderr)

    def _read(
        self, proc: subprocess.Popen[bytes], deadline: float, timeout: float
    ) -> tuple[bytes, bytes]:
        assert proc.stdout is not None and proc.stderr is not None
        out: list[bytes] = []
        err: list[bytes] = []
        out_size = err_size = 0
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ, "out")
            sel.register(proc.stderr, selectors.EVENT_READ, "err")
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise subprocess.TimeoutExpired(proc.args, timeout)
                for key, _ in sel.select(left):
                    chunk = os.read(key.fd, _CHUNK)
                    if not chunk:
                        sel.unregister(key.fileobj)
                    elif key.data == "out":
                        out_size += len(chunk)
                        if out_size > self.max_bytes:
                            raise CollectFailed(
                                FailureKind.COLLECT_ERROR, f"output over {self.max_bytes} bytes"
                            )
                        out.append(chunk)
                    elif err_size < STDERR_MAX_BYTES:
                        err.append(chunk[: STDERR_MAX_BYTES - err_size])
                        err_size += len(err[-1])
        return b"".join(out), b"".join(err)

    def close(self) -> None:
        """Nothing to release: each ``run`` cleans up its own process."""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child's whole process group (a no-op once it exited) and reap it."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
