"""Issue #14 end to end through the CLI: fmt like ``ruff format``, --version, completion.

No lab: these run the real CLI in a subprocess (stdin not a terminal, as in CI) on files in a
temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "pins" / "pinmgr.toml"


def pinmgr(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pin_of_a_new_role_that_sorts_last_leaves_fmt_check_clean(tmp_path: Path) -> None:
    lock = tmp_path / "pinmgr.toml"
    lock.write_bytes(BUNDLED.read_bytes())
    args = ("--role", "web", "--new-role", "--os", "debian-12", "-y", "-l", str(lock))
    pinned = pinmgr("pin", "nginx=1.22.1-9", *args)
    assert pinned.returncode == 0, pinned.stderr
    assert '+[roles.web."debian-12".deb]' in pinned.stdout
    check = pinmgr("fmt", "--check", "-l", str(lock))
    assert check.returncode == 0, check.stdout + check.stderr


def test_fmt_diff_shows_the_change_and_writes_nothing(tmp_path: Path) -> None:
    lock = tmp_path / "pinmgr.toml"
    messy = 'schema = 1\n\n[roles.app."debian-12".deb]\nzlib1g="1:1.2.13.dfsg-1"\n'
    messy += 'bash = "5.2.15-2+b7"\n'
    lock.write_text(messy)
    shown = pinmgr("fmt", "--diff", "-l", str(lock))
    assert shown.returncode == 1, shown.stderr
    assert '-zlib1g="1:1.2.13.dfsg-1"' in shown.stdout
    assert '+zlib1g = "1:1.2.13.dfsg-1"' in shown.stdout
    assert lock.read_text() == messy
    written = pinmgr("fmt", "-l", str(lock))
    assert (written.returncode, written.stdout) == (0, f"{lock}: formatted\n")
    again = pinmgr("fmt", "--diff", "-l", str(lock))
    assert (again.returncode, again.stdout) == (0, f"{lock}: already formatted\n")


def test_version_is_an_option_too() -> None:
    from importlib.metadata import version

    want = f"pinmgr {version('pinmgr')}\n"
    for args in (("--version",), ("-V",), ("version",)):
        result = pinmgr(*args)
        assert (result.returncode, result.stdout) == (0, want), result.stderr


def _bin_dir() -> str:
    """The directory of the installed ``pinmgr`` script: completion calls it by name."""
    return str(Path(sys.executable).parent)


def _shell(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{_bin_dir()}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        argv,
        env={**os.environ, "PATH": path, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_bash_completion_completes_commands_options_and_choices() -> None:
    script = """
    source <(_PINMGR_COMPLETE=source_bash pinmgr)
    complete -p pinmgr
    ask() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _pinmgr_completion pinmgr;
            echo "${COMPREPLY[*]}"; }
    ask pinmgr ch
    ask pinmgr check --fa
    ask pinmgr check --format ''
    """
    result = _shell(["bash", "-c", script])
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert lines[0] == "complete -o default -F _pinmgr_completion pinmgr"
    assert lines[1:] == ["check", "--fail-on", "table json junit sarif markdown github"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish not installed (apt: fish)")
def test_fish_completion_in_a_real_fish() -> None:
    script = (
        'pinmgr --show-completion | source; complete -C "pinmgr ch"; complete -C "pinmgr fmt --d"'
    )
    result = _shell(["fish", "--no-config", "-c", script])
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert lines == ["check", "--diff"], result.stdout


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not installed (apt: zsh)")
def test_zsh_completion_script_loads_and_answers() -> None:
    script = _shell(["pinmgr"], _PINMGR_COMPLETE="source_zsh")
    assert script.stdout.strip().startswith("#compdef pinmgr"), script.stdout
    loaded = _shell(["zsh", "-f", "-c", f"autoload -U compinit && compinit -u && {script.stdout}"])
    assert loaded.returncode == 0, loaded.stderr
    # What the loaded function asks pinmgr for, as zsh's completion system would.
    answer = _shell(["pinmgr"], _PINMGR_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="pinmgr fm")
    assert '"fmt":"Normalise' in answer.stdout, answer.stdout


SHARED_INVENTORY = """\
schema = 1

[settings]
fail_on = "never"
envs = ["staging"]
outputs = ["json=shared.json"]

[environments.local.hosts.localhost]
transport = "local"
roles = ["app"]

[environments.staging.hosts.web1]
transport = "local"
roles = ["app"]
"""


def test_settings_then_variables_then_flags_win(tmp_path: Path) -> None:
    """The documented order: flag > PINMGR_* > [settings] > built-in default (real check of
    this machine: the bundled pins drift here, so fail_on decides the exit code)."""
    (tmp_path / "pins").mkdir()
    (tmp_path / "pins" / "pinmgr.toml").write_bytes(BUNDLED.read_bytes())
    (tmp_path / "pins" / "inventory.toml").write_text(SHARED_INVENTORY)

    def envs(result: subprocess.CompletedProcess[str]) -> list[str]:
        import json

        assert result.returncode in (0, 1), result.stderr
        return list(json.loads(result.stdout)["environments"])

    shared = pinmgr("check", "-q", "-f", "json", cwd=tmp_path)
    assert (shared.returncode, envs(shared)) == (0, ["staging"])  # fail_on never, envs
    assert (tmp_path / "shared.json").is_file()  # outputs
    variables = pinmgr(
        "check", "-q", "-f", "json", cwd=tmp_path, PINMGR_FAIL_ON="any", PINMGR_ENV="local"
    )
    assert (variables.returncode, envs(variables)) == (1, ["local"])
    flags = pinmgr(
        "check",
        "-q",
        "-f",
        "json",
        "--fail-on",
        "never",
        "--env",
        "staging",
        cwd=tmp_path,
        PINMGR_FAIL_ON="any",
        PINMGR_ENV="local",
    )
    assert (flags.returncode, envs(flags)) == (0, ["staging"])


def test_bad_settings_are_listed_by_validate_and_refused_by_check(tmp_path: Path) -> None:
    (tmp_path / "pins").mkdir()
    (tmp_path / "pins" / "pinmgr.toml").write_bytes(BUNDLED.read_bytes())
    bad = SHARED_INVENTORY.replace('fail_on = "never"', 'fail_on = "sometimes"\njobs = 0')
    (tmp_path / "pins" / "inventory.toml").write_text(bad)
    validate = pinmgr("validate", cwd=tmp_path)
    assert validate.returncode == 2
    assert validate.stderr.splitlines()[:2] == [
        "pinmgr: error: pins/inventory.toml:4:1: setting fail_on = 'sometimes': expected one "
        "of any, drift, missing, security, unreachable, never, new",
        "pinmgr: error: pins/inventory.toml:5:1: setting jobs = 0: expected hosts collected "
        "in parallel, 1-512",
    ]
    check = pinmgr("check", "-q", cwd=tmp_path)
    assert check.returncode == 2 and check.stdout == ""
    assert pinmgr("check", "--help", cwd=tmp_path).returncode == 0  # help still helps
    assert check.stderr.startswith("pinmgr: error: pins/inventory.toml:4:1: setting fail_on")


def test_validate_takes_the_files_as_arguments_and_tells_which_is_which(tmp_path: Path) -> None:
    """The lockfile header's advice, ``pinmgr validate pins/pinmgr.toml``, works; a file named
    anything is read as a lockfile or an inventory from its content, in either order."""
    lock = tmp_path / "prod-pins.toml"
    lock.write_bytes(BUNDLED.read_bytes())
    inv = tmp_path / "hosts.toml"
    inv.write_text(
        'schema = 1\n[environments.local.hosts.localhost]\ntransport = "local"\n'
        'roles = ["nosuchrole"]\n'
    )
    alone = pinmgr("validate", str(lock), cwd=tmp_path)  # no pins/inventory.toml here
    assert (alone.returncode, alone.stderr) == (0, ""), alone.stderr
    assert alone.stdout.splitlines()[0] == f"{lock}: ok"
    both = pinmgr("validate", str(inv), str(lock), cwd=tmp_path)
    assert both.returncode == 2
    assert f"{inv}:2:1: host localhost (local) has role 'nosuchrole'" in both.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text('[roles.app."debian-12".deb]\nnginx = 1.22\n')
    bad = pinmgr("validate", str(broken), cwd=tmp_path)
    assert bad.returncode == 2
    assert f"{broken}:2:9: version of nginx must be a string" in bad.stderr
    missing = pinmgr("validate", "nope.toml", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (
        2,
        "pinmgr: error: nope.toml: no such file or directory\n",
    )
