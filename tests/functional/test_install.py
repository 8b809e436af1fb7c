"""pinmgr installs like a Python tool, and docs/ci.md's CI snippets work as written (#14 part 7).

Everything runs in a fresh copy of the repository (the files git tracks, as a clone has them,
with this working tree's content): ``python -m build`` makes the sdist and, from it, the
wheel; the wheel goes into a fresh virtualenv; the GitHub Actions and GitLab CI snippets of
docs/ci.md are parsed and their shell steps run with bash, with the CI's variables pointed
at temporary files. Dependencies come from the package index through pip's cache (CI has
network to PyPI); no test touches the machine outside its temporary directory, and the
ssh-agent the snippets start is stopped.

What needs GitHub or GitLab themselves is stood in for, and named in ``NEEDS_GITHUB`` /
``NEEDS_GITLAB``: a new ``uses:`` step or before_script line fails the test until someone
decides how to stand in for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

# Building and installing take seconds on an idle CI runner, minutes on a crowded machine.
pytestmark = pytest.mark.timeout(1200)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ci.md"
# uses: steps -> what stands in for them here.
NEEDS_GITHUB = {
    "actions/checkout": "the fresh copy of the repository is the checkout",
    "actions/setup-python": "this test's Python stands in",
    "github/codeql-action/upload-sarif": "GitHub code scanning only (the file is checked)",
    "mikepenz/action-junit-report": "a GitHub check run only (the file is checked)",
    "actions/upload-artifact": "GitHub artifact storage only (the files are checked)",
}
# GitLab lines that need the job's image: apt-get as root would change this machine.
NEEDS_GITLAB = ("apt-get update",)


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        argv, capture_output=True, text=True, timeout=900, check=False, **kw
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository as a fresh clone has it: the tracked files, nothing else."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: nothing to clone")
    listed = _run(["git", "ls-files", "-z"], cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    dest = tmp_path_factory.mktemp("clone")
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():  # deleted in the working tree: not part of this state
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel(clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "build", "--outdir", str(out), str(clone)])
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (sdist,) = out.glob("pinmgr-*.tar.gz")  # the wheel was built from this sdist
    (whl,) = out.glob("pinmgr-*-py3-none-any.whl")
    assert sdist.stat().st_size > 0
    return whl


def test_the_wheel_installs_in_a_fresh_venv_and_checks_this_machine(
    wheel: Path, clone: Path, tmp_path: Path
) -> None:
    from importlib.metadata import version

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    pip = _run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)])
    assert pip.returncode == 0, pip.stderr[-3000:]
    pinmgr = str(venv / "bin" / "pinmgr")
    shown = _run([pinmgr, "--version"])
    assert (shown.returncode, shown.stdout) == (0, f"pinmgr {version('pinmgr')}\n")
    # A local check with the bundled pins/, from a directory holding them (the default path).
    work = tmp_path / "team-repo"
    shutil.copytree(clone / "pins", work / "pins")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    checked = _run([pinmgr, "check", "-q"], cwd=work, env=env, stdin=subprocess.DEVNULL)
    assert checked.returncode in (0, 1), checked.stderr  # 1: this machine drifts from them
    assert "1 host checked:" in checked.stdout and "Traceback" not in checked.stderr
    # Outside any such directory: a clear line and exit 2, not a traceback.
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    lost = _run([pinmgr, "check", "-q"], cwd=empty, env=env, stdin=subprocess.DEVNULL)
    assert lost.returncode == 2
    assert lost.stderr.startswith("pinmgr: error: pins/pinmgr.toml: no such lockfile"), lost.stderr
    assert len(lost.stderr.splitlines()) == 1


def _yaml_blocks() -> tuple[dict[str, object], dict[str, object]]:
    text = DOC.read_text(encoding="utf-8")
    workflow, gitlab = (
        yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```$", text, re.S | re.M)
    )
    return workflow, gitlab


@dataclass
class Secrets:
    key_path: str
    key: str
    known_hosts: str
    agents: list[int] = field(default_factory=list)  # ssh-agents the snippets started


@pytest.fixture
def secrets(tmp_path: Path) -> Iterator[Secrets]:
    """A deploy key made now (never committed) and a known_hosts line; agents stopped after."""
    key = tmp_path / "deploy_key"
    made = _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(key)])
    assert made.returncode == 0, made.stderr
    public = (tmp_path / "deploy_key.pub").read_text().split()
    found = Secrets(str(key), key.read_text(), f"web1.example.com {public[0]} {public[1]}")
    yield found
    for pid in found.agents:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def _stopped(pid: int, within: float = 10.0) -> bool:
    """Gone or a zombie, polled with a deadline: ``ssh-agent -k`` signals, the exit follows."""
    deadline = time.monotonic() + within
    while True:
        status = Path(f"/proc/{pid}/status")
        try:
            if "zombie" in status.read_text():
                return True
        except OSError:  # gone
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _agent_pids(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"SSH_AGENT_PID=(\d+)", text)]


def test_github_actions_steps_run_as_written(clone: Path, tmp_path: Path, secrets: Secrets) -> None:
    workflow, _ = _yaml_blocks()
    steps = workflow["jobs"]["check"]["steps"]  # type: ignore[index]
    runner = {name: tmp_path / name for name in ("runner", "home")}
    for d in runner.values():
        d.mkdir()
    files = {n: tmp_path / n for n in ("GITHUB_PATH", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")}
    for f in files.values():
        f.touch()
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "PINMGR_"))},
        "HOME": str(runner["home"]),
        "RUNNER_TEMP": str(runner["runner"]),
        "NO_COLOR": "1",
        **{k: str(v) for k, v in files.items()},
    }
    secret_values = {"PINMGR_SSH_KEY": secrets.key, "PINMGR_KNOWN_HOSTS": secrets.known_hosts}
    failed = False
    ran: dict[str, int] = {}
    stood_in: list[str] = []
    for step in steps:
        if "uses" in step:
            action = step["uses"].split("@")[0]
            assert action in NEEDS_GITHUB, f"new step {action}: say what stands in for it"
            stood_in.append(action)
            continue
        if failed and "always()" not in step.get("if", ""):
            continue  # GitHub skips it after a failed step
        env = dict(base)
        for name, value in (step.get("env") or {}).items():
            secret = re.fullmatch(r"\$\{\{ secrets\.(\w+) \}\}", value)
            env[name] = secret_values[secret.group(1)] if secret else value
        for line in files["GITHUB_ENV"].read_text().splitlines():
            name, _, value = line.partition("=")
            env[name] = value
        extra = files["GITHUB_PATH"].read_text().split()
        env["PATH"] = os.pathsep.join([*reversed(extra), base["PATH"]])
        # GitHub's shell for run: bash --noprofile --norc -eo pipefail {0}
        result = _run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        secrets.agents.extend(_agent_pids(files["GITHUB_ENV"].read_text()))
        ran[step["name"]] = result.returncode
        failed = failed or result.returncode != 0
        assert result.returncode in (0, 1), f"{step['name']}: {result.stderr[-3000:]}"
    assert sorted(stood_in) == sorted(NEEDS_GITHUB)
    # Drift on this machine: the check step fails the job (exit 1) and the report steps run.
    assert ran == {
        "Install pinmgr": 0,
        "SSH key and known hosts": 0,
        "pinmgr check": 1,
        "Job summary": 0,
        "Stop ssh-agent": 0,
    }
    assert (clone / "pinmgr.xml").is_file() and (clone / "pinmgr.sarif").is_file()
    assert files["GITHUB_STEP_SUMMARY"].read_text().startswith("## ")
    assert (runner["home"] / ".ssh" / "known_hosts").read_text().startswith("web1.example.com ")
    for pid in set(secrets.agents):  # stopped by the snippet's own last step
        assert _stopped(pid), f"ssh-agent {pid} still running after 'ssh-agent -k'"


def test_gitlab_job_runs_as_written(clone: Path, tmp_path: Path, secrets: Secrets) -> None:
    _, gitlab = _yaml_blocks()
    job = gitlab["pinmgr"]  # type: ignore[index]
    before = [line for line in job["before_script"] if not line.startswith(NEEDS_GITLAB)]
    assert len(before) == len(job["before_script"]) - len(NEEDS_GITLAB)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "PINMGR_"))},
        "HOME": str(home),
        "NO_COLOR": "1",
        "PINMGR_SSH_KEY": secrets.key_path,  # a File variable is a path
        "PINMGR_KNOWN_HOSTS": secrets.known_hosts,
    }
    # GitLab runs before_script and script in one shell, stopping at the first failure, and
    # after_script in a shell of its own.
    # (The trap only tells this test which agent to stop: a GitLab job's container ends.)
    script = "set -eo pipefail\n" + "trap 'echo \"SSH_AGENT_PID=${SSH_AGENT_PID:-}\" >&2' EXIT\n"
    script += "\n".join([*before, *job["script"]]) + "\n"
    work = tmp_path / "project"
    shutil.copytree(clone, work, ignore=shutil.ignore_patterns("pinmgr.xml", "pinmgr.sarif"))
    result = _run(["bash", "-c", script], cwd=work, env=env, stdin=subprocess.DEVNULL)
    secrets.agents.extend(_agent_pids(result.stderr))
    assert secrets.agents, result.stderr[-3000:]  # the agent started, and will be stopped
    assert result.returncode == 1, result.stderr[-3000:]  # drift on this machine
    for name in ("pinmgr.xml", "pinmgr.sarif", "summary.md"):
        assert (work / name).is_file(), name
    after = _run(["bash", "-c", "\n".join(job["after_script"])], cwd=work, env=env)
    assert after.returncode == 0
