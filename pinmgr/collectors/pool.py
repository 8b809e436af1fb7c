"""Collect many hosts in parallel; slow, dead or hostile hosts only ever cost themselves.

Worker threads are daemons and the caller's thread only waits on a queue with a deadline, so
a transport stuck past its own timeout is abandoned (reported as ``TIMEOUT``) and replaced by
a fresh worker instead of stalling the run or the interpreter's exit. Results come back in
input order; ``on_done`` runs in the caller's thread, once per host.
"""

from __future__ import annotations

import contextlib
import importlib
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeAlias

from pinmgr.collectors.available import AvailableQuery
from pinmgr.collectors.base import Transport
from pinmgr.collectors.collect import failure_from, probe_host
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.local import DEFAULT_MAX_BYTES
from pinmgr.model import FailureKind, Host, HostFailure, HostSnapshot, TransportKind, assert_never

Result: TypeAlias = "HostSnapshot | HostFailure"

DEFAULT_JOBS = 64
"""Hosts collected at once: enough to hide network latency, few enough for 2 cores."""

TransportFactory: TypeAlias = "Callable[[Host], Transport]"
AvailableFor: TypeAlias = "Callable[[Host], AvailableQuery]"
"""Which packages to ask a host's sources about (``collectors.available.query_for``)."""

TRANSPORTS: dict[TransportKind, str] = {
    TransportKind.LOCAL: "pinmgr.collectors.local:LocalTransport",
    TransportKind.SSH: "pinmgr.collectors.ssh:SshTransport",
    TransportKind.OPENSSH: "pinmgr.collectors.openssh:OpensshTransport",
}
"""Lazy registry: the SSH module (and paramiko) is imported only when a host needs it."""

SSH_OPTIONS = "pinmgr.collectors.ssh:SshOptions"

INTERRUPTED = "interrupted"
_POLL = 0.1  # bounds how late a cancel or pool deadline is noticed, not how results arrive


def _load(target: str, what: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise CollectFailed(FailureKind.COLLECT_ERROR, f"{what} unavailable: {exc}") from exc


OFFLINE_READERS: dict[TransportKind, str] = {
    TransportKind.IMAGE: "pinmgr.collectors.image:read_image",
    TransportKind.ROOTFS: "pinmgr.collectors.rootfs:read_rootfs",
}
"""Trees read in-process instead of through a transport (``collectors.tree``)."""


def load_transport_class(kind: TransportKind) -> Any:
    """Import the transport class registered for ``kind``; CollectFailed if unavailable."""
    if kind not in TRANSPORTS:
        raise CollectFailed(FailureKind.COLLECT_ERROR, f"{kind.value}: read, not connected to")
    return _load(TRANSPORTS[kind], f"{kind.value} transport")


def make_transport_factory(
    *, ssh_options: object | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> TransportFactory:
    """A factory choosing each host's transport by ``Host.transport``.

    ``ssh_options`` (a ``collectors.ssh.SshOptions``; default ``SshOptions()``, built once on
    the first SSH host) is passed through untouched to ``SshTransport(host, options)`` and
    ``OpensshTransport(host, options)`` (the system ``ssh`` binary);
    ``max_bytes`` caps local output (SSH has its own ``SshOptions.max_bytes``).
    """
    shared: list[object] = [] if ssh_options is None else [ssh_options]
    lock = threading.Lock()

    def ssh_opts() -> object:
        with lock:
            if not shared:
                shared.append(_load(SSH_OPTIONS, "ssh options")())
            return shared[0]

    def factory(host: Host) -> Transport:
        cls = load_transport_class(host.transport)
        match host.transport:
            case TransportKind.LOCAL:
                transport: Transport = cls(host, max_bytes=max_bytes)
            case TransportKind.SSH | TransportKind.OPENSSH:
                transport = cls(host, ssh_opts())
            case TransportKind.IMAGE | TransportKind.ROOTFS:
                raise CollectFailed(FailureKind.COLLECT_ERROR, "a file tree has no transport")
            case _:
                assert_never(host.transport)
        return transport

    return factory


def default_transport_factory(host: Host) -> Transport:
    """Local or SSH by ``Host.transport``, with default options."""
    return make_transport_factory()(host)


def _collect_once(
    host: Host, factory: TransportFactory, timeout: float, available: AvailableFor | None = None
) -> tuple[Result, bool]:
    """One attempt; the flag says whether the failure is worth a retry."""
    if host.transport.is_offline:
        try:
            reader = _load(OFFLINE_READERS[host.transport], f"{host.transport.value} reader")
            return reader(host), False
        except Exception as exc:
            return failure_from(host, exc), False
    try:
        transport = factory(host)
        query = available(host) if available is not None else None
    except Exception as exc:
        return failure_from(host, exc), _is_transient(exc)
    try:
        return probe_host(host, transport, timeout, query), False
    except Exception as exc:
        return failure_from(host, exc), _is_transient(exc)
    finally:
        with contextlib.suppress(Exception):
            transport.close()


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, CollectFailed) and exc.kind is FailureKind.UNREACHABLE and exc.transient


def collect_all(
    hosts: Iterable[Host],
    transport_factory: TransportFactory,
    *,
    jobs: int = DEFAULT_JOBS,
    timeout: float = 30.0,
    on_done: Callable[[Host, Result], None] | None = None,
    cancel: threading.Event | None = None,
    grace: float | None = None,
    retry_delay: float = 1.0,
    available: AvailableFor | None = None,
) -> list[Result]:
    """Collect every host, at most ``jobs`` at once; results in input order.

    ``timeout`` is each attempt's transport timeout; an attempt still running after
    ``timeout + grace`` (default: max(15s, timeout/2), room for an SSH connect) is abandoned
    as ``TIMEOUT``. A transient
    ``UNREACHABLE`` is retried once after ``retry_delay``. On ``cancel`` or Ctrl-C no new
    host starts and every host without a result becomes ``COLLECT_ERROR: interrupted``.
    ``available`` names, per host, the packages whose offered versions to collect too.
    """
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    host_list = list(hosts)
    results: list[Result | None] = [None] * len(host_list)
    limit = timeout + (grace if grace is not None else max(15.0, timeout / 2))
    stop = threading.Event()
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    done: queue.SimpleQueue[tuple[int, Result]] = queue.SimpleQueue()
    lock = threading.Lock()
    running: dict[int, float] = {}  # index -> monotonic start of its current attempt
    abandoned: set[int] = set()  # given up on by the pool; their workers exit when they return
    for index in range(len(host_list)):
        todo.put(index)

    def attempt(index: int) -> tuple[Result, bool]:
        with lock:
            running[index] = time.monotonic()
        return _collect_once(host_list[index], transport_factory, timeout, available)

    def stopping() -> bool:
        return stop.is_set() or (cancel is not None and cancel.is_set())

    def worker() -> None:
        while not stopping():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            result, transient = attempt(index)
            # The main thread turns a cancel into ``stop`` within _POLL, ending this wait.
            if transient and not stop.wait(retry_delay) and not stopping():
                result, _ = attempt(index)
                if isinstance(result, HostFailure):
                    result = replace(result, reason=f"{result.reason} (retried)")
            with lock:
                running.pop(index, None)
                if index in abandoned:
                    return
            done.put((index, result))

    def start_worker() -> None:
        threading.Thread(target=worker, name="pinmgr-collect", daemon=True).start()

    def finish(index: int, result: Result) -> None:
        results[index] = result
        if on_done is not None:
            on_done(host_list[index], result)

    pending = len(host_list)
    try:
        for _ in range(min(jobs, pending)):
            start_worker()
        while pending:
            if cancel is not None and cancel.is_set():
                break
            now = time.monotonic()
            with lock:
                overdue = [i for i, started in running.items() if now - started > limit]
                for i in overdue:
                    del running[i]
                    abandoned.add(i)
            for i in overdue:
                if results[i] is None:
                    pending -= 1
                    reason = f"no result within {limit:g}s"
                    finish(i, HostFailure(host_list[i], FailureKind.TIMEOUT, reason))
                    start_worker()  # the stuck thread is written off; the pool keeps its width
            with lock:
                next_deadline = min(running.values(), default=now) + limit
            wait = min(_POLL, max(0.0, next_deadline - now)) if running else _POLL
            try:
                index, result = done.get(timeout=wait)
            except queue.Empty:
                continue
            if results[index] is None:
                pending -= 1
                finish(index, result)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
    # Results that arrived while stopping still count; everything else was interrupted.
    while True:
        try:
            index, result = done.get_nowait()
        except queue.Empty:
            break
        if results[index] is None:
            finish(index, result)
    for index, maybe in enumerate(results):
        if maybe is None:
            finish(index, HostFailure(host_list[index], FailureKind.COLLECT_ERROR, INTERRUPTED))
    return [r for r in results if r is not None]
