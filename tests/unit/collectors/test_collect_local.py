"""The real probe through LocalTransport on this machine: real sh, dpkg-query, rpm, python."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import packaging
import pytest

from pinmgr.collectors.collect import collect_host, probe_host
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.local import LocalTransport
from pinmgr.collectors.parsers import parse_probe
from pinmgr.collectors.probe import DPKG_FORMAT, build_probe, new_nonce
from pinmgr.model import (
    Ecosystem,
    FailureKind,
    Host,
    HostFailure,
    OsRelease,
    PackageState,
    TransportKind,
)

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query")


def local_host(*pip: str) -> Host:
    return Host("localhost", "test", ("app",), transport=TransportKind.LOCAL, pip=pip)


def os_release_now() -> OsRelease:
    values: dict[str, str] = {}
    path = Path("/etc/os-release")
    if not path.exists():
        path = Path("/usr/lib/os-release")
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip("\"'")
    return OsRelease(values["ID"].lower(), values["VERSION_ID"])


@needs_dpkg
def test_real_dpkg_and_os_release() -> None:
    snap = probe_host(local_host(), LocalTransport(), timeout=60)
    expected = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "dpkg"], capture_output=True, text=True, check=True
    ).stdout
    debs = {p.name: p for p in snap.packages if p.ecosystem is Ecosystem.DEB}
    assert debs["dpkg"].version == expected
    assert snap.os_release == os_release_now()
    count = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\n"], capture_output=True, text=True
    ).stdout.split()
    # Every ii/hi/half package is collected; rc/un are not.
    assert len(debs) <= len(count)
    assert len(debs) >= sum(1 for s in count if s in ("ii", "hi"))
    assert snap.warnings == ()


def _stanza(name: str, status: str, arch: str, version: str, extra: str = "") -> str:
    return (
        f"Package: {name}\nStatus: {status}\nPriority: optional\nSection: misc\n"
        f"Maintainer: T <t@example.com>\nArchitecture: {arch}\n{extra}Version: {version}\n"
        "Description: test\n\n"
    )


@needs_dpkg
def test_real_dpkg_query_states(tmp_path: Path) -> None:
    """A throwaway dpkg database holding every state the parser must tell apart."""
    (tmp_path / "updates").mkdir()
    (tmp_path / "info").mkdir()
    native = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (tmp_path / "status").write_text(
        _stanza("libssl3", "install ok installed", native, "3.0.11-1", "Multi-Arch: same\n")
        + _stanza("libssl3", "install ok installed", "i386", "3.0.11-1", "Multi-Arch: same\n")
        + _stanza("nginx", "hold ok installed", native, "1.22.1-9")
        + _stanza("oldpkg", "deinstall ok config-files", native, "1.0-1")
        + _stanza("unpacked", "install ok unpacked", native, "2.0-1")
        + _stanza("halfconf", "install ok half-configured", native, "2.0-1")
        + _stanza("halfinst", "install reinstreq half-installed", native, "2.0-1")
        + _stanza(
            "trigawait", "install ok triggers-awaited", native, "2.0-1", "Triggers-Awaited: x\n"
        )
        + _stanza(
            "trigpend", "install ok triggers-pending", native, "2.0-1", "Triggers-Pending: y\n"
        )
    )
    query = subprocess.run(
        ["dpkg-query", f"--admindir={tmp_path}", "-W", f"-f={DPKG_FORMAT}"],
        capture_output=True,
        check=True,
    )
    nonce = new_nonce()
    m = f"@@pinmgr {nonce}".encode()
    out = (
        m
        + b" begin os-release\nID=debian\nVERSION_ID=12\n\n"
        + m
        + b" end os-release 0\n"
        + m
        + b" begin dpkg-arch\n"
        + native.encode()
        + b"\n\n"
        + m
        + b" end dpkg-arch 0\n"
        + m
        + b" begin dpkg\n"
        + query.stdout
        + b"\n"
        + m
        + b" end dpkg 0\n"
        + m
        + b" done\n"
    )
    snap = parse_probe(local_host(), out, nonce)
    got = {(p.name, p.arch): p.state for p in snap.packages}
    assert got == {
        ("libssl3", native): PackageState.INSTALLED,
        ("libssl3:i386", "i386"): PackageState.INSTALLED,
        ("nginx", native): PackageState.HELD,
        ("unpacked", native): PackageState.HALF_INSTALLED,
        ("halfconf", native): PackageState.HALF_INSTALLED,
        ("halfinst", native): PackageState.HALF_INSTALLED,
        ("trigawait", native): PackageState.HALF_INSTALLED,
        ("trigpend", native): PackageState.HALF_INSTALLED,
    }
    assert snap.warnings == ()


def test_real_pip_of_this_interpreter_and_a_venv_dir() -> None:
    if sys.prefix == sys.base_prefix:
        pytest.skip("tests must run inside a virtualenv to probe a venv directory")
    venv = sys.prefix  # a directory: the probe uses venv/bin/python
    snap = probe_host(local_host(sys.executable, venv), LocalTransport(), timeout=60)
    pips = {(p.origin, p.name): p.version for p in snap.packages if p.ecosystem is Ecosystem.PIP}
    assert pips[(sys.executable, "packaging")] == packaging.__version__
    assert pips[(venv, "packaging")] == packaging.__version__
    assert snap.warnings == ()


def test_hostile_pip_paths_are_quoted(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    hostile = (
        f"$(touch {canary})",
        f"`touch {canary}`",
        f"x; touch {canary}",
        f"x' ; touch {canary}; '",
        f"x\ntouch {canary}",
    )
    result = collect_host(local_host(*hostile), LocalTransport(), timeout=60)
    assert isinstance(result, HostFailure)  # no such interpreters: the host is incomplete
    assert result.kind is FailureKind.INCOMPLETE
    assert not canary.exists()
    assert result.reason.startswith(f"pip {hostile[0]}: probe exited with status 127 (not found)")
    assert result.reason.endswith("; 2 more problems")


def test_probe_is_posix_sh(tmp_path: Path) -> None:
    """dash is a strict POSIX shell: the probe must parse and run under it."""
    dash = shutil.which("dash")
    if dash is None:
        pytest.skip("needs dash")
    nonce = new_nonce()
    script = build_probe(local_host(sys.executable), nonce)
    subprocess.run([dash, "-n", "-c", script], check=True)
    out = subprocess.run([dash, "-c", script], capture_output=True, check=True)
    assert out.stdout.rstrip().endswith(f"@@pinmgr {nonce} done".encode())


@pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="needs rpm and rpmbuild")
def test_real_rpm_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's rpm keeps its database in ~/.rpmdb: build two packages into a throwaway one."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, epoch in (("pinmgr-demo-epoch", "Epoch: 2\n"), ("pinmgr-demo-plain", "")):
        spec = tmp_path / f"{name}.spec"
        spec.write_text(
            f"Name: {name}\nVersion: 1.2\nRelease: 3\n{epoch}Summary: demo\nLicense: MIT\n"
            "BuildArch: noarch\n%description\ndemo\n%files\n"
        )
        subprocess.run(
            ["rpmbuild", "-bb", "--define", f"_topdir {tmp_path / 'top'}", str(spec)],
            check=True,
            capture_output=True,
        )
    rpms = sorted(str(p) for p in (tmp_path / "top").rglob("*.rpm"))
    subprocess.run(["rpm", "-i", "--justdb", "--nodeps", *rpms], check=True, capture_output=True)
    snap = probe_host(local_host(), LocalTransport(), timeout=60)
    found = {p.name: p for p in snap.packages if p.ecosystem is Ecosystem.RPM}
    assert found["pinmgr-demo-epoch"].version == "2:1.2-3"
    assert found["pinmgr-demo-plain"].version == "1.2-3"
    assert found["pinmgr-demo-plain"].arch == "noarch"


def test_byte_cap() -> None:
    transport = LocalTransport(max_bytes=100_000)
    with pytest.raises(CollectFailed) as info:
        transport.run("yes", timeout=30)
    assert info.value.kind is FailureKind.COLLECT_ERROR
    assert "over 100000 bytes" in info.value.reason
    # Exactly at the cap is fine.
    assert transport.run("head -c 100000 /dev/zero", timeout=30).stdout == b"\0" * 100_000


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    transport = LocalTransport()
    start = time.monotonic()
    with pytest.raises(CollectFailed) as info:
        transport.run(f"sh -c 'echo $$ > {pidfile}; exec sleep 60' & sleep 60", timeout=1.0)
    assert info.value.kind is FailureKind.TIMEOUT
    assert time.monotonic() - start < 5
    # The background grandchild was in the killed group too.
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(pid)


def test_result_codes_and_stderr() -> None:
    result = LocalTransport().run("printf out; printf err >&2; exit 7", timeout=10)
    assert (result.rc, result.stdout, result.stderr) == (7, b"out", b"err")


def test_collect_host_turns_failures_into_values() -> None:
    class Exploding:
        def run(self, command: str, timeout: float) -> object:
            raise RuntimeError("boom\nsecond line")

        def close(self) -> None:
            pass

    host = local_host()
    failure = collect_host(host, Exploding(), timeout=1)  # type: ignore[arg-type]
    assert failure == HostFailure(host, FailureKind.COLLECT_ERROR, "RuntimeError: boom")

    timed_out = collect_host(host, LocalTransport(), timeout=0.000001)
    assert isinstance(timed_out, HostFailure)
    assert timed_out.kind is FailureKind.TIMEOUT


def test_collect_host_non_probe_output_is_collect_error() -> None:
    class Liar:
        def run(self, command: str, timeout: float) -> object:
            return LocalTransport().run("echo not a probe; echo 'bad thing' >&2; exit 2", timeout)

        def close(self) -> None:
            pass

    failure = collect_host(local_host(), Liar(), timeout=10)  # type: ignore[arg-type]
    assert isinstance(failure, HostFailure)
    assert failure.kind is FailureKind.COLLECT_ERROR
    assert failure.reason == "no probe output found (exit status 2: bad thing)"
