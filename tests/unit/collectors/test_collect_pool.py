"""collect_all: order, deadlines, retry, cancel, with a fake of the Transport contract."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from pinmgr.collectors.base import CommandResult, Transport
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.local import LocalTransport
from pinmgr.collectors.pool import (
    INTERRUPTED,
    TRANSPORTS,
    collect_all,
    default_transport_factory,
    make_transport_factory,
)
from pinmgr.model import (
    FailureKind,
    Host,
    HostFailure,
    HostSnapshot,
    OsRelease,
    TransportKind,
)

WAIT = 10.0  # upper bound for anything a test waits on; never reached when the code works


def host(name: str) -> Host:
    return Host(name, "test", ("app",))


def probe_output(command: str, package: str) -> bytes:
    """What a healthy Debian host would answer to this exact probe."""
    match = re.search(r"m='@@pinmgr ([0-9a-f]+)'", command)
    assert match is not None
    m = f"@@pinmgr {match.group(1)}"
    return (
        f"{m} begin os-release\nID=debian\nVERSION_ID=12\n\n{m} end os-release 0\n"
        f"{m} begin dpkg\n{package}\t1.0\tii \tall\n\n{m} end dpkg 0\n{m} done\n"
    ).encode()


Behaviour = Callable[["FakeTransport", str, float], CommandResult]


def answer(t: FakeTransport, command: str, timeout: float) -> CommandResult:
    return CommandResult(0, probe_output(command, t.host.name), b"")


@dataclass
class Fleet:
    """Per-host behaviour plus a log of what the pool did, shared by all fake transports."""

    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def factory(self, h: Host) -> Transport:
        with self.lock:
            self.attempts[h.name] = self.attempts.get(h.name, 0) + 1
        return FakeTransport(h, self)


@dataclass
class FakeTransport:
    host: Host
    fleet: Fleet

    def run(self, command: str, timeout: float) -> CommandResult:
        behaviour = self.fleet.behaviours.get(self.host.name, answer)
        return behaviour(self, command, timeout)

    def close(self) -> None:
        with self.fleet.lock:
            self.fleet.closed[self.host.name] = self.fleet.closed.get(self.host.name, 0) + 1


def names_of(results: list[HostSnapshot | HostFailure]) -> list[str]:
    return [r.host.name for r in results]


def test_results_in_input_order_whatever_the_completion_order() -> None:
    fleet = Fleet()
    hosts = [host(f"h{i}") for i in range(6)]
    finished = {h.name: threading.Event() for h in hosts}

    def after_next(i: int) -> Behaviour:
        # h0 waits for h1, h1 for h2 ...: they complete in reverse input order.
        def run(t: FakeTransport, command: str, timeout: float) -> CommandResult:
            if i + 1 < len(hosts):
                assert finished[f"h{i + 1}"].wait(WAIT)
            return answer(t, command, timeout)

        return run

    for i, h in enumerate(hosts):
        fleet.behaviours[h.name] = after_next(i)
    done_order: list[str] = []

    def on_done(h: Host, result: HostSnapshot | HostFailure) -> None:
        assert threading.current_thread() is threading.main_thread()
        done_order.append(h.name)
        finished[h.name].set()

    results = collect_all(hosts, fleet.factory, jobs=len(hosts), on_done=on_done)
    assert names_of(results) == [h.name for h in hosts]
    assert done_order == [h.name for h in reversed(hosts)]
    for h, r in zip(hosts, results, strict=True):
        assert isinstance(r, HostSnapshot)
        assert r.os_release == OsRelease("debian", "12")
        assert [p.name for p in r.packages] == [h.name]
    assert fleet.closed == {h.name: 1 for h in hosts}


@pytest.mark.parametrize("jobs", [1, 2])
def test_stuck_host_is_abandoned_and_never_stalls_the_others(jobs: int) -> None:
    fleet = Fleet()
    release = threading.Event()

    def stuck(t: FakeTransport, command: str, timeout: float) -> CommandResult:
        release.wait(WAIT)  # a transport that ignores its own timeout
        return answer(t, command, timeout)

    fleet.behaviours["stuck"] = stuck
    hosts = [host("stuck"), host("a"), host("b"), host("c")]
    done: list[str] = []
    start = time.monotonic()
    try:
        results = collect_all(
            hosts,
            fleet.factory,
            jobs=jobs,
            timeout=0.2,
            grace=0.3,
            on_done=lambda h, r: done.append(h.name),
        )
    finally:
        release.set()
    assert time.monotonic() - start < WAIT / 2
    assert names_of(results) == ["stuck", "a", "b", "c"]
    first = results[0]
    assert isinstance(first, HostFailure)
    assert first.kind is FailureKind.TIMEOUT
    assert "0.5s" in first.reason
    assert all(isinstance(r, HostSnapshot) for r in results[1:])
    assert sorted(done) == sorted(h.name for h in hosts)  # once each


def test_transient_unreachable_is_retried_once() -> None:
    fleet = Fleet()
    calls: dict[str, int] = {}

    def failing(kind: FailureKind, *, transient: bool, times: int) -> Behaviour:
        def run(t: FakeTransport, command: str, timeout: float) -> CommandResult:
            n = calls[t.host.name] = calls.get(t.host.name, 0) + 1
            if n <= times:
                raise CollectFailed(kind, f"{t.host.name}: connection reset", transient=transient)
            return answer(t, command, timeout)

        return run

    fleet.behaviours |= {
        "flaky": failing(FailureKind.UNREACHABLE, transient=True, times=1),
        "down": failing(FailureKind.UNREACHABLE, transient=True, times=99),
        "refused": failing(FailureKind.UNREACHABLE, transient=False, times=99),
        "badauth": failing(FailureKind.AUTH_FAILED, transient=True, times=99),
    }
    hosts = [host(n) for n in ("flaky", "down", "refused", "badauth", "fine")]
    results = collect_all(hosts, fleet.factory, jobs=2, retry_delay=0)
    flaky, down, refused, badauth, fine = results
    assert isinstance(flaky, HostSnapshot)
    assert isinstance(fine, HostSnapshot)
    assert down == HostFailure(
        hosts[1], FailureKind.UNREACHABLE, "down: connection reset (retried)"
    )
    assert isinstance(refused, HostFailure)
    assert refused.reason == "refused: connection reset"
    assert isinstance(badauth, HostFailure)
    assert badauth.kind is FailureKind.AUTH_FAILED
    assert calls == {"flaky": 2, "down": 2, "refused": 1, "badauth": 1}
    # A fresh transport per attempt, each one closed.
    assert fleet.attempts == {"flaky": 2, "down": 2, "refused": 1, "badauth": 1, "fine": 1}
    assert fleet.closed == fleet.attempts


def test_factory_failures_become_values() -> None:
    attempts: list[str] = []

    def factory(h: Host) -> Transport:
        attempts.append(h.name)
        if h.name == "nokey":
            raise CollectFailed(FailureKind.AUTH_FAILED, "no usable key")
        if h.name == "dns":
            raise CollectFailed(FailureKind.UNREACHABLE, "cannot resolve", transient=True)
        raise ValueError("bad\naddress")

    results = collect_all([host("nokey"), host("dns"), host("odd")], factory, retry_delay=0)
    assert results == [
        HostFailure(host("nokey"), FailureKind.AUTH_FAILED, "no usable key"),
        HostFailure(host("dns"), FailureKind.UNREACHABLE, "cannot resolve (retried)"),
        HostFailure(host("odd"), FailureKind.COLLECT_ERROR, "ValueError: bad"),
    ]
    assert sorted(attempts) == ["dns", "dns", "nokey", "odd"]


def test_cancel_stops_new_hosts_and_returns_promptly() -> None:
    fleet = Fleet()
    cancel = threading.Event()
    started = threading.Event()

    def blocks_until_cancel(t: FakeTransport, command: str, timeout: float) -> CommandResult:
        started.set()
        cancel.wait(WAIT)
        return answer(t, command, timeout)

    fleet.behaviours["busy"] = blocks_until_cancel
    hosts = [host("first"), host("busy"), host("later1"), host("later2")]
    canceller = threading.Thread(target=lambda: started.wait(WAIT) and cancel.set())
    canceller.start()
    start = time.monotonic()
    results = collect_all(hosts, fleet.factory, jobs=1, cancel=cancel)
    canceller.join(WAIT)
    assert time.monotonic() - start < WAIT / 2
    assert isinstance(results[0], HostSnapshot)
    for r in results[2:]:
        assert r == HostFailure(r.host, FailureKind.COLLECT_ERROR, INTERRUPTED)
    # busy may have answered in the instant after cancel; either way it is a value.
    assert isinstance(results[1], HostSnapshot | HostFailure)
    assert "later1" not in fleet.attempts
    assert "later2" not in fleet.attempts


def test_ctrl_c_returns_what_was_collected() -> None:
    fleet = Fleet()
    release = threading.Event()

    def stuck(t: FakeTransport, command: str, timeout: float) -> CommandResult:
        release.wait(WAIT)
        return answer(t, command, timeout)

    fleet.behaviours["second"] = stuck
    done: list[str] = []

    def on_done(h: Host, r: HostSnapshot | HostFailure) -> None:
        done.append(h.name)
        if h.name == "first":
            raise KeyboardInterrupt

    try:
        results = collect_all(
            [host("first"), host("second"), host("third")], fleet.factory, jobs=1, on_done=on_done
        )
    finally:
        release.set()
    assert isinstance(results[0], HostSnapshot)
    assert results[1:] == [
        HostFailure(host("second"), FailureKind.COLLECT_ERROR, INTERRUPTED),
        HostFailure(host("third"), FailureKind.COLLECT_ERROR, INTERRUPTED),
    ]
    assert done == ["first", "second", "third"]
    assert "third" not in fleet.attempts


def test_empty_and_bad_jobs() -> None:
    assert collect_all([], Fleet().factory) == []
    with pytest.raises(ValueError, match="jobs"):
        collect_all([host("a")], Fleet().factory, jobs=0)


def test_default_factory_local_end_to_end() -> None:
    local = Host("me", "test", ("app",), transport=TransportKind.LOCAL)
    transport = default_transport_factory(local)
    assert isinstance(transport, LocalTransport)
    capped = make_transport_factory(max_bytes=1234)(local)
    assert isinstance(capped, LocalTransport)
    assert capped.max_bytes == 1234
    (result,) = collect_all([local], default_transport_factory, timeout=60)
    assert isinstance(result, HostSnapshot)
    assert result.os_release is not None


def test_default_factory_builds_ssh_lazily() -> None:
    """Importing the pool must not import paramiko; asking for an SSH host does."""
    code = (
        "import sys\n"
        "from pinmgr.collectors.pool import default_transport_factory\n"
        "from pinmgr.model import Host\n"
        "assert 'paramiko' not in sys.modules\n"
        "t = default_transport_factory(Host('h', 'e', ('r',), address='192.0.2.1'))\n"
        "print(type(t).__module__, type(t).__name__)\n"
        "assert 'paramiko' in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == TRANSPORTS[TransportKind.SSH].split(":")
