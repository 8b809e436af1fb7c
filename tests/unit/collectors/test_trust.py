"""Issue 10 (trust): reasons kept whole, failures keep the host's warnings, reports carry them,
and ``accept`` refuses a fleet with a host that failed or came back incomplete."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from pinmgr import api
from pinmgr.authoring import plan_accept
from pinmgr.collectors.base import CommandResult
from pinmgr.collectors.collect import MAX_REASON_CHARS, collect_host, failure_from, one_line
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.hostkeys import KnownHosts
from pinmgr.errors import EXIT_HOSTS, HostCollectError
from pinmgr.lockfile.load import load
from pinmgr.model import (
    Ecosystem,
    FailureKind,
    Host,
    HostFailure,
    HostSnapshot,
    HostWarning,
    InstalledPackage,
    OsRelease,
)

HOST = Host("web1", "prod", ("app",))


def test_the_unknown_host_key_advice_is_never_cut(tmp_path: Path) -> None:
    """The real reason, with a long known_hosts path: the whole command survives."""
    deep = tmp_path / ("very-long-directory-name-" * 8) / "known_hosts"
    deep.parent.mkdir(parents=True)
    store = KnownHosts((), str(deep))
    key = paramiko.Ed25519Key.from_private_key_file(_new_key(tmp_path))
    with pytest.raises(CollectFailed) as exc:
        store.check("web1 (10.9.8.7:2222)", "10.9.8.7", 2222, key, accept_new=False)
    failure = failure_from(HOST, exc.value)
    assert failure.kind is FailureKind.HOSTKEY_UNKNOWN
    assert len(failure.reason) > 200  # what the old 200-character cut lost
    assert f"`ssh-keyscan -p 2222 -t ed25519 10.9.8.7 >> {deep}`" in failure.reason
    assert failure.reason.endswith("or use `pinmgr check --accept-new`")
    assert "\n" not in failure.reason


def _new_key(tmp_path: Path) -> str:
    path = tmp_path / "id_ed25519"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)


def test_reasons_stay_one_escaped_line_and_only_a_flood_is_capped() -> None:
    assert one_line("\n  first \x1b[2J line \nsecond") == "first \\x1b[2J line"
    flood = one_line("x" * 100_000)
    assert len(flood) == MAX_REASON_CHARS + 1 and flood.endswith("…")


class _Canned:
    def __init__(self, stdout: bytes, rc: int = 0, stderr: bytes = b"") -> None:
        self.result = CommandResult(rc, stdout, stderr)

    def run(self, command: str, timeout: float) -> CommandResult:
        # Echo the probe's own nonce back, as a host would (markers must carry it).
        nonce = command.split("m='@@pinmgr ", 1)[1].split("'", 1)[0]
        return CommandResult(
            self.result.rc,
            self.result.stdout.replace(b"NONCE", nonce.encode()),
            self.result.stderr,
        )

    def close(self) -> None:
        pass


def test_a_cut_stream_is_an_incomplete_failure_with_the_hosts_warnings() -> None:
    out = (
        b"motd noise\n@@pinmgr NONCE begin os-release\nID=debian\nVERSION_ID=12\n"
        b"\n@@pinmgr NONCE end os-release 0\n@@pinmgr NONCE begin dpkg\nbash\t5.2-1\tii \tamd64\n"
    )
    result = collect_host(HOST, _Canned(out, rc=-1, stderr=b"Broken pipe\n"), timeout=5)
    assert isinstance(result, HostFailure)
    assert result.kind is FailureKind.INCOMPLETE
    assert result.reason.startswith("dpkg: cut short (no end marker); no final marker")
    assert result.warnings == (
        "output outside any probe section: motd noise",
        "stderr: Broken pipe",
    )


LOCK = """schema = 1

[roles.app."debian-12".deb]
bash = "5.2-1"
nginx = "1.22.1-9"
"""


def _snapshot(host: Host, warnings: tuple[str, ...] = ()) -> HostSnapshot:
    pkgs = (
        InstalledPackage(Ecosystem.DEB, "bash", "5.2-1"),
        InstalledPackage(Ecosystem.DEB, "nginx", "1.24.0-1"),
    )
    return HostSnapshot(host, OsRelease("debian", "12"), pkgs, warnings)


def test_report_carries_every_hosts_warnings_in_host_order(tmp_path: Path) -> None:
    (tmp_path / "pinmgr.toml").write_text(LOCK)
    lock = load(tmp_path / "pinmgr.toml")
    web2 = Host("web2", "prod", ("app",))
    results = [
        _snapshot(HOST, ("dpkg: 3 duplicate package rows ignored",)),
        HostFailure(web2, FailureKind.INCOMPLETE, "dpkg: cut short", ("stderr: Killed",)),
    ]
    report = api.report_for(lock, results)
    assert report.warnings == (
        HostWarning("web1", "prod", "dpkg: 3 duplicate package rows ignored"),
        HostWarning("web2", "prod", "stderr: Killed"),
    )


def test_accept_refuses_a_fleet_with_an_incomplete_host(tmp_path: Path) -> None:
    path = tmp_path / "pinmgr.toml"
    path.write_text(LOCK)
    lock = load(path)
    web2 = Host("web2", "staging", ("app",))
    failed = HostFailure(web2, FailureKind.INCOMPLETE, "dpkg: probe exited with status 2")
    report = api.report_for(lock, [_snapshot(HOST), failed])
    with pytest.raises(HostCollectError) as exc:
        plan_accept(path, report)
    assert exc.value.exit_code == EXIT_HOSTS
    assert str(exc.value) == (
        "not accepting: a host was not collected, the lockfile is unchanged: "
        "web2 (staging): incomplete: dpkg: probe exited with status 2"
    )
    assert path.read_text() == LOCK
    # The same fleet without the failed host: the drift is accepted.
    edit = plan_accept(path, api.report_for(lock, [_snapshot(HOST)]))
    assert 'nginx = "1.24.0-1"' in edit.after


def test_accept_names_five_failed_hosts_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "pinmgr.toml"
    path.write_text(LOCK)
    lock = load(path)
    failures = [
        HostFailure(Host(f"h{i}", "prod", ("app",)), FailureKind.TIMEOUT, "no result within 3s")
        for i in range(7)
    ]
    with pytest.raises(HostCollectError) as exc:
        plan_accept(path, api.report_for(lock, failures))
    message = str(exc.value)
    assert message.startswith("not accepting: 7 hosts were not collected, the lockfile is ")
    assert message.count(": timeout: no result within 3s") == 5
    assert message.endswith("; and 2 more")
    assert "\n" not in message
