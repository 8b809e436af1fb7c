"""Root-namespace plumbing for the lab: the guard route, per-lab slots, bridges, veths, netns.

Everything here exists so lab traffic can never leave the machine: the guard route makes every
lab address without a bridge fail at once, and ``assert_routed_locally`` refuses to let a client
connect to an address the kernel would send anywhere but a lab bridge.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

SUBNET_PREFIX = "10.213"
GUARD_NET = f"{SUBNET_PREFIX}.0.0/16"
GUARD_METRIC = 4000
MAX_SLOT = 250
"""Slots 1..250 are lab subnets ``10.213.<slot>.0/24``; 251-255 are never bridged."""
UNREACHABLE_NET = f"{SUBNET_PREFIX}.254"
"""Addresses here are covered only by the guard route: connecting fails with EHOSTUNREACH."""

STATE_DIR = Path("/run/pinmgr-hostlab")


class LabError(RuntimeError):
    """The lab could not be set up or torn down; the message says which step and why."""


def run(args: Sequence[str], *, stdin: str | None = None, check: bool = True) -> str:
    """Run a root-namespace tool; raise LabError with its stderr when it fails."""
    proc = subprocess.run(
        list(args), input=stdin, capture_output=True, text=True, check=False, timeout=120
    )
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def requirements_missing() -> str | None:
    """Why the lab cannot run here (not root, tools missing), or None when it can."""
    if os.geteuid() != 0:
        return "host lab needs root (network namespaces, bridges, mounts)"
    missing = [
        tool
        for tool in ("ip", "sshd", "unshare", "nsenter", "ssh-keygen", "dpkg-query")
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()
    ]
    if missing:
        return f"host lab needs {', '.join(missing)} (apt-get install iproute2 openssh-server)"
    return None


def ensure_guard_route() -> None:
    """Add ``unreachable 10.213.0.0/16 metric 4000`` unless present (safe to race)."""
    if "unreachable" in run(["ip", "route", "show", "table", "main", "exact", GUARD_NET]):
        return
    proc = subprocess.run(
        ["ip", "route", "add", "unreachable", GUARD_NET, "metric", str(GUARD_METRIC)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 and "File exists" not in proc.stderr:
        raise LabError(f"cannot add guard route {GUARD_NET}: {proc.stderr.strip()}")


def guard_route_present() -> bool:
    out = run(["ip", "route", "show", "table", "main", "exact", GUARD_NET])
    return "unreachable" in out and f"metric {GUARD_METRIC}" in out


_ROUTE_DEV = re.compile(r"\bdev (\S+)")


def routed_devices(addresses: Iterable[str]) -> dict[str, str]:
    """``ip route get`` for every address in one ``ip -batch`` call: address -> dev ('' = none)."""
    addrs = list(addresses)
    if not addrs:
        return {}
    proc = subprocess.run(
        ["ip", "-o", "-batch", "-"],
        input="".join(f"route get {a}\n" for a in addrs),
        capture_output=True,
        text=True,
        check=False,
    )
    found: dict[str, str] = dict.fromkeys(addrs, "")
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in found:
            m = _ROUTE_DEV.search(line)
            found[parts[0]] = m.group(1) if m else ""
    return found


def assert_routed_locally(address: str, bridge: str | None = None) -> str:
    """Refuse unless the kernel sends ``address`` to a lab bridge (or loopback); return the dev.

    With ``bridge`` given, the device must be exactly that bridge.
    """
    if not address.startswith(f"{SUBNET_PREFIX}.") and not address.startswith("127."):
        raise LabError(f"{address} is outside the lab subnet {GUARD_NET} and loopback")
    dev = routed_devices([address])[address]
    ok = dev == "lo" if address.startswith("127.") else dev.startswith("pmlab")
    if bridge is not None and not address.startswith("127."):
        ok = dev == bridge
    if not ok:
        raise LabError(f"{address} would be routed via {dev or 'nothing'!r}, not a lab bridge")
    return dev


def slot_range() -> range:
    """The slots this process may take: all of them, or under pytest-xdist a disjoint share per
    worker (``gw0`` the lowest), so a slot freed by one worker is never taken by another
    mid-test (test_a_killed_run_is_cleaned_up_by_the_next_lab_in_its_slot takes a dead run's
    slot back; processes a test starts inherit the worker's variables, hence its share)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    m = re.fullmatch(r"gw(\d+)", worker)
    if not m or not count.isdigit() or int(count) < 1:
        return range(1, MAX_SLOT + 1)
    index, share = int(m.group(1)), MAX_SLOT // int(count)
    if share < 1 or index >= int(count):
        raise LabError(f"cannot share {MAX_SLOT} lab slots among {count} xdist workers")
    return range(index * share + 1, (index + 1) * share + 1)


class Slot:
    """An exclusive lab number (flock on a file in /run), so concurrent labs never collide.

    The lock dies with the process, so a slot left behind by a killed run is reclaimed (and its
    leftovers purged) by the next lab that takes it.
    """

    def __init__(self) -> None:
        STATE_DIR.mkdir(mode=0o700, exist_ok=True)
        for n in slot_range():
            fd = os.open(STATE_DIR / f"slot-{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            self.number = n
            self._fd: int | None = fd
            purge_slot(n)
            return
        slots = slot_range()
        raise LabError(f"all lab slots {slots.start}-{slots.stop - 1} are in use")

    @property
    def bridge(self) -> str:
        return f"pmlab{self.number}"

    @property
    def subnet(self) -> str:
        return f"{SUBNET_PREFIX}.{self.number}"

    def netns(self, index: int) -> str:
        return f"pmlab{self.number}-h{index}"

    def veth(self, index: int) -> str:
        return f"pl{self.number}h{index}"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lab_netns(number: int) -> list[str]:
    """Named network namespaces belonging to lab slot ``number``."""
    names = [line.split()[0] for line in run(["ip", "netns", "list"]).splitlines() if line]
    return [n for n in names if n.startswith(f"pmlab{number}-h")]


def lab_links(number: int) -> list[str]:
    """Root-namespace links (bridge and veths) belonging to lab slot ``number``."""
    out = run(["ip", "-o", "link", "show"])
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
    return [n for n in names if n == f"pmlab{number}" or n.startswith(f"pl{number}h")]


def netns_pids(name: str) -> list[int]:
    out = run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in out.split()]


def purge_slot(number: int) -> None:
    """Remove every process, netns and link a previous lab in this slot left behind."""
    for ns in lab_netns(number):
        for pid in netns_pids(ns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    delete_network(lab_netns(number), lab_links(number))


def delete_network(netns: Iterable[str], links: Iterable[str]) -> None:
    """Delete links then namespaces in one ``ip -batch`` (``-force``: keep going on errors)."""
    lines = [f"link del {link}\n" for link in links] + [f"netns del {ns}\n" for ns in netns]
    if lines:
        subprocess.run(
            ["ip", "-force", "-batch", "-"],
            input="".join(lines),
            capture_output=True,
            text=True,
            check=False,
        )
