"""Acceptance (issue 16, part 3): which application revision each environment runs.

Two sshd test hosts deploy the same repository to ``/srv/app/deploy``: production at the first
commit with its refs packed (``git pack-refs --all``), staging at the second on a detached HEAD.
Their git is made unusable inside the hosts (``/usr/bin/git`` bound to /dev/null in each host's
own mount namespace): pinmgr reads ``.git`` files only. The oracle for each revision is
``git rev-parse`` run on the machine's copies. Locally, the same reading is held against git for
loose refs, packed refs, a detached HEAD and a linked worktree (``.git`` file + commondir).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pinmgr.collectors.collect import collect_host
from pinmgr.collectors.local import LocalTransport
from pinmgr.model import AppPin, AppSource, Ecosystem, Host, HostSnapshot, TransportKind
from tests.hostlab import HostSpec, Lab, LabFactory

pytestmark = pytest.mark.hosts

DEPLOY = "/srv/app/deploy"


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "PATH": "/usr/bin:/bin",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "HOME": str(repo),
    }
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    )
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git (the oracle) is not installed")
    path = tmp_path_factory.mktemp("src") / "shop"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "commit", "-q", "--allow-empty", "-m", "one")
    git(path, "commit", "-q", "--allow-empty", "-m", "two")
    return path


def _clone(repo: Path, dest: Path, *, commit: str, detach: bool, pack: bool) -> str:
    subprocess.run(["git", "clone", "-q", str(repo), str(dest)], check=True)
    if detach:
        git(dest, "checkout", "-q", "--detach", commit)
    else:
        git(dest, "reset", "-q", "--hard", commit)
    if pack:
        git(dest, "pack-refs", "--all")
        assert not (dest / ".git" / "refs" / "heads" / "main").exists()
    return git(dest, "rev-parse", "HEAD")


def _lockfile(path: Path, app: str) -> Path:
    path.write_text(f'schema = 1\n\n[roles.app."debian-12".deb]\n\n[roles.app.apps.shop]\n{app}\n')
    return path


class Setup:
    def __init__(self, lab: Lab, inventory: Path, revisions: dict[str, str], work: Path) -> None:
        self.lab, self.inventory, self.revisions, self.work = lab, inventory, revisions, work


@pytest.fixture(scope="module")
def setup(hostlab: LabFactory, repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    work = tmp_path_factory.mktemp("apps")
    first = git(repo, "rev-parse", "HEAD~1")
    second = git(repo, "rev-parse", "HEAD")
    copies = {
        "web-prod": _clone(repo, work / "prod", commit=first, detach=False, pack=True),
        "web-stage": _clone(repo, work / "stage", commit=second, detach=True, pack=False),
    }
    assert copies == {"web-prod": first, "web-stage": second}
    lab = hostlab(
        [
            HostSpec("web-prod", env="production", role="app", os_release="debian-12"),
            HostSpec("web-stage", env="staging", role="app", os_release="debian-12"),
        ]
    )
    for name, src in (("web-prod", work / "prod"), ("web-stage", work / "stage")):
        for args in (
            ["cp", "-a", str(src), DEPLOY],
            ["mount", "--bind", "/dev/null", "/usr/bin/git"],
        ):
            done = lab.exec(name, args)
            assert done.returncode == 0, done.stderr
        no_git = lab.exec(name, ["sh", "-c", "git --version"])
        assert no_git.returncode != 0  # the host really has no usable git
    inventory = lab.write_inventory(work / "inventory.toml")
    return Setup(lab, inventory, copies, work)


def _check(s: Setup, app: str) -> tuple[int, list[dict[str, str]]]:
    lock = _lockfile(s.work / "pinmgr.toml", app)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pinmgr",
            "check",
            "-l",
            str(lock),
            "-i",
            str(s.inventory),
            "--known-hosts",
            str(s.lab.known_hosts),
            "-f",
            "json",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    return proc.returncode, [f for f in findings if f["ecosystem"] == "app"]


def test_same_everywhere_reports_revision_drift_with_each_environment(setup: Setup) -> None:
    rc, findings = _check(setup, f'path = "{DEPLOY}"\nsame = true')
    prod, stage = setup.revisions["web-prod"], setup.revisions["web-stage"]
    assert rc == 1
    got = {(f["host"], f["kind"], f["actual"]) for f in findings}
    assert got == {("web-prod", "drift", prod), ("web-stage", "drift", stage)}
    reason = f"production runs {prod[:12]}, staging runs {stage[:12]}"
    assert {f["reason"] for f in findings} == {reason}


def test_pinned_revision_by_prefix(setup: Setup) -> None:
    stage = setup.revisions["web-stage"]
    rc, findings = _check(setup, f'path = "{DEPLOY}"\nrevision = "{stage[:7]}"')
    assert rc == 1
    got = {(f["host"], f["kind"]) for f in findings}
    assert got == {("web-prod", "drift"), ("web-stage", "ok")}


def _local(path: Path) -> HostSnapshot:
    app = AppPin("app", "shop", str(path), AppSource.GIT, same=True)
    host = Host("localhost", "local", ("app",), transport=TransportKind.LOCAL, apps=(app,))
    result = collect_host(host, LocalTransport(host), 60)
    assert isinstance(result, HostSnapshot), result
    return result


def _revision(snap: HostSnapshot) -> str | None:
    return next((p.version for p in snap.packages if p.ecosystem is Ecosystem.APP), None)


def test_local_checkouts_read_as_git_resolves_them(repo: Path, tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    subprocess.run(["git", "clone", "-q", str(repo), str(loose)], check=True)
    assert _revision(_local(loose)) == git(loose, "rev-parse", "HEAD")
    git(loose, "pack-refs", "--all")
    assert _revision(_local(loose)) == git(loose, "rev-parse", "HEAD")
    worktree = tmp_path / "wt"
    git(loose, "worktree", "add", "-q", "--detach", str(worktree), "HEAD~1")
    assert (worktree / ".git").is_file()
    assert _revision(_local(worktree)) == git(worktree, "rev-parse", "HEAD")
    git(worktree, "checkout", "-q", "-b", "feature")
    assert _revision(_local(worktree)) == git(worktree, "rev-parse", "HEAD")
    assert _revision(_local(tmp_path / "absent")) is None


def test_rootfs_reads_the_same_revision(repo: Path, tmp_path: Path) -> None:
    from pinmgr.collectors.rootfs import read_rootfs

    root = tmp_path / "root"
    deploy = root / "srv" / "shop"
    deploy.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(repo), str(deploy)], check=True)
    git(deploy, "pack-refs", "--all")
    app = AppPin("app", "shop", "/srv/shop", AppSource.GIT, same=True)
    host = Host("g", "golden", ("app",), transport=TransportKind.ROOTFS, path=str(root))
    snap = read_rootfs(replace(host, apps=(app,)))
    assert _revision(snap) == git(deploy, "rev-parse", "HEAD")
