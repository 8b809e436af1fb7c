"""Vagrant cannot run here (no hypervisor): a stand-in ``vagrant`` script on PATH prints real
``vagrant ssh-config`` output captured in tests/data/inventory/vagrant/. That script is the only
mock in these tests; it also records its argv and working directory so the runner is checked."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pinmgr.errors import InventoryError
from pinmgr.inventory import vagrant
from pinmgr.model import Location

from .conftest import DATA

WHERE = Location("pins/inventory.toml", 30)
DEFAULT = (DATA / "vagrant" / "ssh-config-default.txt").read_text()
MULTI = (DATA / "vagrant" / "ssh-config-multi.txt").read_text()


def _stand_in(bin_dir: Path, output: Path, rc: int = 0, stderr: str = "") -> Path:
    """Write a ``vagrant`` stand-in that prints ``output`` and logs how it was called."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "vagrant"
    log = bin_dir / "calls.log"
    errors = bin_dir / "stderr.txt"
    errors.write_text(stderr)
    script.write_text(
        "#!/bin/sh\n"
        "# Stands in for Vagrant: prints captured `vagrant ssh-config` output.\n"
        f'printf "%s|%s\\n" "$*" "$PWD" >> "{log}"\n'
        f'cat "{output}"\n'
        f'cat "{errors}" >&2\n'
        f"exit {rc}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


@pytest.fixture
def path_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return bin_dir


def test_parse_single_machine() -> None:
    (host,) = vagrant.parse_ssh_config(DEFAULT, source=WHERE).hosts
    assert (host.name, host.env, host.roles) == ("default", "vagrant", ("app",))
    assert (host.address, host.user, host.port) == ("127.0.0.1", "vagrant", 2222)
    assert host.key_file == "/home/dev/project/.vagrant/machines/default/virtualbox/private_key"
    assert host.proxy_jump is None
    assert host.source == WHERE


def test_parse_multi_machine_with_role_map() -> None:
    result = vagrant.parse_ssh_config(
        MULTI, source=WHERE, env="lab", roles=(("db*", ("db",)), ("*", ("app",)))
    )
    assert result.problems == ()
    hosts = result.hosts
    assert [(h.name, h.env, h.roles, h.port) for h in hosts] == [
        ("db1", "lab", ("db",), 2200),
        ("web", "lab", ("app",), 2222),
    ]
    # A quoted IdentityFile (Vagrant quotes paths with spaces) keeps its spaces.
    assert hosts[1].key_file == "/home/dev/my project/.vagrant/machines/web/virtualbox/private_key"


def test_unmapped_machine_is_left_out_and_the_others_load() -> None:
    result = vagrant.parse_ssh_config(MULTI, source=WHERE, roles=(("web", ("app",)),))
    assert [h.name for h in result.hosts] == ["web"]
    (problem,) = result.problems
    assert problem.host == "db1"
    assert problem.message.startswith("vagrant machine 'db1' matches no entry of roles")
    assert problem.location == WHERE


def test_machine_whose_config_does_not_resolve_is_left_out() -> None:
    """The output parses, but ssh would refuse this one machine (``%n`` in HostName)."""
    text = MULTI.replace(
        "HostName 127.0.0.1\n  User vagrant\n  Port 2200",
        "HostName x-%n\n  User vagrant\n  Port 2200",
    )
    assert text != MULTI
    result = vagrant.parse_ssh_config(text, source=WHERE)
    assert [h.name for h in result.hosts] == ["web"]
    (problem,) = result.problems
    assert problem.host == "db1"
    assert problem.message == "vagrant machine 'db1': unknown token %n in 'x-%n'"


def test_a_bad_port_fails_the_whole_output_as_ssh_would() -> None:
    """ssh rejects a bad Port in any block when it reads the config, so the source fails."""
    with pytest.raises(InventoryError, match="invalid Port 'twentytwo'"):
        vagrant.parse_ssh_config(MULTI.replace("Port 2200", "Port twentytwo"), source=WHERE)


def test_ui_lines_are_ignored_and_empty_output_is_an_error() -> None:
    (host,) = vagrant.parse_ssh_config("==> default: Checking...\n" + DEFAULT, source=WHERE).hosts
    assert host.name == "default"
    with pytest.raises(InventoryError, match="listed no machine"):
        vagrant.parse_ssh_config("", source=WHERE)
    with pytest.raises(InventoryError, match="cannot parse `vagrant ssh-config` output"):
        vagrant.parse_ssh_config("Host x\n  garbage\n", source=WHERE)


def test_runner_uses_vagrant_on_path_in_the_directory(tmp_path: Path, path_bin: Path) -> None:
    log = _stand_in(path_bin, DATA / "vagrant" / "ssh-config-multi.txt")
    project = tmp_path / "project"
    project.mkdir()
    result = vagrant.load(project, source=WHERE, roles=(("db1", ("db",)), ("web", ("app",))))
    assert [h.name for h in result.hosts] == ["db1", "web"]
    assert log.read_text().splitlines() == [f"ssh-config|{project}"]


def test_runner_failure_reports_last_stderr_line(tmp_path: Path, path_bin: Path) -> None:
    _stand_in(
        path_bin,
        Path(os.devnull),
        rc=1,
        stderr="The provider for this Vagrant-managed machine is reporting that it\n"
        "is not yet ready for SSH. Depending on your provider this can carry\n"
        "different meanings. Make sure your machine is created and running and\n"
        "try again.\n",
    )
    with pytest.raises(InventoryError) as caught:
        vagrant.load(tmp_path, source=WHERE)
    assert caught.value.message == "vagrant ssh-config failed (exit 1): try again."
    assert caught.value.location == WHERE


def test_runner_missing_binary_and_dir(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="not found: install Vagrant"):
        vagrant.run(tmp_path, source=WHERE, executable=str(tmp_path / "vagrant"))
    with pytest.raises(InventoryError, match="is not a directory"):
        vagrant.run(tmp_path / "missing", source=WHERE, executable="/bin/true")
