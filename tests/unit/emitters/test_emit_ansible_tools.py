"""Emitted Ansible files against the real tools: ansible-lint, ansible-playbook, pip, apt.

Nothing is mocked: the fix playbook really downgrades a package in throwaway virtualenvs,
and the documented role really runs (in --check mode) against this machine's apt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pinmgr.emitters.ansible_playbook import PLAYBOOK_PATH, emit_playbook
from pinmgr.emitters.ansible_vars import emit_vars
from pinmgr.model import Ecosystem, Finding, FindingKind, Lockfile
from tests.unit.emitters._support import (
    DATA,
    FINDINGS,
    LOCK,
    PIP,
    finding,
    pin,
    report,
    run,
    tool,
    write_tree,
    yaml,
)
from tests.unit.emitters.test_emit_ansible_vars import TRICKY

DIGEST = "ab" * 32
SITE = DATA / "site"


def inventory(hosts: dict[str, list[str]], local: bool = False) -> str:
    """An INI inventory: group -> host names (the names pinmgr's findings use)."""
    local_vars = (
        "ansible_connection=local",
        "ansible_become=false",  # variables beat the play's `become: true` keyword
        f"ansible_python_interpreter={sys.executable}",  # has `packaging` for the pip module
    )
    extra = " " + " ".join(local_vars) if local else ""
    lines: list[str] = []
    for group, names in hosts.items():
        lines += [f"[{group}]", *(f"{name}{extra}" for name in names), ""]
    return "\n".join(lines)


def has_community_general(playbook: str) -> bool:
    """Whether Ansible here resolves community.general.yum_versionlock (ANSIBLE_COLLECTIONS_PATH
    or the default collection paths)."""
    doc = Path(playbook).with_name("ansible-doc")
    done = subprocess.run(
        [
            str(doc) if doc.exists() else "ansible-doc",
            "-t",
            "module",
            "-j",
            "community.general.yum_versionlock",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # ansible-doc exits 0 and prints {} for a module it cannot find.
    return done.returncode == 0 and "community.general.yum_versionlock" in done.stdout


def test_fix_playbook_and_vars_pass_ansible_lint_production_and_syntax_check(
    tmp_path: Path,
) -> None:
    lint = tool("ansible-lint")
    playbook = tool("ansible-playbook")
    # --hold locks rpm packages with community.general.yum_versionlock, which is not part of
    # ansible-core (the `ansible` bundle is ~470 MB, so the test extras leave it out): without
    # the collection, the rpm findings are left out of the --hold playbook linted here, and
    # the full one is syntax-checked without --hold.
    findings = FINDINGS
    if not has_community_general(playbook):
        print("community.general not installed: --hold linted without the rpm lock task")
        findings = tuple(f for f in FINDINGS if f.ecosystem is not Ecosystem.RPM)
        write_tree(tmp_path, emit_playbook(report(), LOCK, drift_only=False, hold=False))
        (tmp_path / "inventory.ini").write_text(inventory({"app": ["web-1"]}))
        run([playbook, "-i", "inventory.ini", "--syntax-check", PLAYBOOK_PATH], tmp_path)
    files = {
        **emit_playbook(report(findings), LOCK, drift_only=False, hold=True),
        **emit_vars(LOCK, DIGEST),
    }
    write_tree(tmp_path, files)
    hosts = sorted({f.host for f in FINDINGS})
    (tmp_path / "inventory.ini").write_text(inventory({"app": hosts, "db": ["dual-1"]}))
    out = run([playbook, "-i", "inventory.ini", "--syntax-check", PLAYBOOK_PATH], tmp_path)
    assert f"playbook: {PLAYBOOK_PATH}" in out
    run(
        [lint, "--offline", "--profile", "production", "--nocolor", PLAYBOOK_PATH, "group_vars"],
        tmp_path,
    )


def test_empty_fix_playbook_runs_and_touches_no_host(tmp_path: Path) -> None:
    playbook = tool("ansible-playbook")
    lint = tool("ansible-lint")
    quiet = report(tuple(f for f in FINDINGS if f.kind is FindingKind.OK))
    write_tree(tmp_path, emit_playbook(quiet, LOCK, drift_only=True, hold=False))
    (tmp_path / "inventory.ini").write_text(inventory({"app": ["web-4"]}, local=True))
    out = run([playbook, "-i", "inventory.ini", PLAYBOOK_PATH], tmp_path)
    assert "no hosts matched" in out
    run([lint, "--offline", "--profile", "production", "--nocolor", PLAYBOOK_PATH], tmp_path)


def test_ansible_reads_every_pinned_version_as_the_same_string(tmp_path: Path) -> None:
    """group_vars loaded by ansible-playbook itself, dumped as JSON: no float, bool, int, date."""
    playbook = tool("ansible-playbook")
    tricky = [v for v in TRICKY if "\x00" not in v]  # NUL cannot travel through a module arg
    lock = Lockfile(
        "pins/pinmgr.toml", 1, ("app",), tuple(pin(f"p{i}", v) for i, v in enumerate(tricky))
    )
    write_tree(tmp_path, emit_vars(lock, DIGEST))
    (tmp_path / "inventory.ini").write_text(inventory({"app": ["box"]}, local=True))
    (tmp_path / "dump.yml").write_text(
        "- name: Dump the pins as Ansible sees them\n"
        "  hosts: app\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Write them as JSON\n"
        "      ansible.builtin.copy:\n"
        '        content: "{{ pinmgr_pins | to_json }}"\n'
        f"        dest: {tmp_path / 'pins.json'}\n"
        "        mode: '0600'\n"
    )
    run([playbook, "-i", "inventory.ini", "dump.yml"], tmp_path)
    seen = json.loads((tmp_path / "pins.json").read_text(encoding="utf-8"))
    assert seen == {"debian-12": {"deb": {f"p{i}": v for i, v in enumerate(tricky)}}}
    # Jinja in a version stays literal (not "uid=0(root)..."): it was emitted !unsafe.
    assert "{{ lookup('pipe', 'id') }}" in seen["debian-12"]["deb"].values()


# --- the fix playbook really fixes pip drift -------------------------------------------------


def _wheel(folder: Path, name: str, version: str) -> None:
    """A minimal pure-Python wheel, built by hand so the test needs no index and no network."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: pinmgr-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)


def _venv(path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "venv", str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.skip(
            f"cannot create a virtualenv with pip (apt install python3-venv): {proc.stderr}"
        )


def _installed(venv: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('pinmgr_demo'))"
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_fix_playbook_downgrades_pip_drift_in_a_virtualenv_and_by_interpreter(
    tmp_path: Path,
) -> None:
    playbook = tool("ansible-playbook")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0", "2.0"):
        _wheel(wheels, "pinmgr_demo", version)
    pip_env = {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    by_dir, by_python = tmp_path / "venv-a", tmp_path / "venv-b"
    for venv in (by_dir, by_python):
        _venv(venv)
        run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "pinmgr_demo==2.0"],
            tmp_path,
            pip_env,
        )
        assert _installed(venv) == "2.0"

    lock = Lockfile("pins/pinmgr.toml", 1, ("app",), (pin("pinmgr-demo", "==1.0", eco=PIP),))
    drift: tuple[Finding, ...] = (
        # Inventory named a virtualenv directory for one, an interpreter for the other.
        finding("box", "pinmgr-demo", "==1.0", eco=Ecosystem.PIP, actual="2.0", reason=str(by_dir)),
        finding(
            "box",
            "pinmgr-demo",
            "==1.0",
            eco=Ecosystem.PIP,
            actual="2.0",
            reason=str(by_python / "bin" / "python"),
        ),
    )
    write_tree(tmp_path, emit_playbook(report(drift), lock, drift_only=True, hold=False))
    (tmp_path / "inventory.ini").write_text(inventory({"app": ["box", "other"]}, local=True))
    cmd = [playbook, "-i", "inventory.ini", PLAYBOOK_PATH]

    dry = run([*cmd, "--check", "--diff"], tmp_path, pip_env)
    assert re.search(r"box\s*:.*changed=2", dry), dry
    assert "other" not in dry.split("PLAY RECAP", 1)[1]  # a host only gets its own fixes
    assert (_installed(by_dir), _installed(by_python)) == ("2.0", "2.0")  # --check changed nothing

    out = run(cmd, tmp_path, pip_env)
    assert re.search(r"box\s*:.*changed=2.*failed=0", out), out
    assert (_installed(by_dir), _installed(by_python)) == ("1.0", "1.0")

    again = run(cmd, tmp_path, pip_env)
    assert re.search(r"box\s*:.*changed=0.*failed=0", again), again


# --- the role documented in docs/ansible.md ---------------------------------------------------


def _dpkg_version(package: str) -> str:
    if shutil.which("dpkg-query") is None:
        pytest.skip("needs a Debian-family host (dpkg-query)")
    return subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=True
    ).stdout


def _os_release_key() -> str:
    values = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    return f"{values['ID'].strip(chr(34))}-{values['VERSION_ID'].strip(chr(34))}"


def _site(tmp_path: Path, pins: dict[str, str]) -> list[str]:
    shutil.copytree(SITE, tmp_path / "site")
    lock = Lockfile(
        "pins/pinmgr.toml",
        1,
        ("app",),
        tuple(pin(p, v, rel=_os_release_key()) for p, v in pins.items()),
    )
    write_tree(tmp_path / "site", emit_vars(lock, DIGEST))
    (tmp_path / "site" / "inventory.ini").write_text(inventory({"app": ["box"]}, local=True))
    return [tool("ansible-playbook"), "-i", "inventory.ini", "site.yml", "--check", "--diff"]


def test_documented_role_passes_ansible_lint_production(tmp_path: Path) -> None:
    lint = tool("ansible-lint")
    shutil.copytree(SITE, tmp_path / "site")
    write_tree(tmp_path / "site", emit_vars(LOCK, DIGEST))
    run([lint, "--offline", "--profile", "production", "--nocolor"], tmp_path / "site")


def test_documented_role_finds_this_hosts_release_and_asks_apt_for_the_pinned_version(
    tmp_path: Path,
) -> None:
    """In --check mode against this machine: pinned == installed is ok; a bogus pin fails."""
    cmd = _site(tmp_path, {"dpkg": _dpkg_version("dpkg"), "bash": _dpkg_version("bash")})
    out = run(cmd, tmp_path / "site")
    assert re.search(r"box\s*:.*changed=0.*failed=0", out), out
    assert "TASK [pinned_packages : Install the pinned deb versions]" in out

    bogus = tmp_path / "bogus"
    bogus.mkdir()
    cmd = _site(bogus, {"bash": "0.0.1-0"})
    env = {**os.environ, "ANSIBLE_REMOTE_TMP": str(bogus / ".ansible-remote-tmp")}  # as run()
    proc = subprocess.run(
        cmd, cwd=bogus / "site", env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0
    assert "bash=0.0.1-0" in proc.stdout


@pytest.mark.parametrize(
    ("distribution", "version", "declared", "expected"),
    [
        ("Rocky", "9.4", ["rocky-9"], "rocky-9"),  # the prefix, as pinmgr check takes it
        ("Rocky", "9.4", ["rocky-9", "rocky-9.4"], "rocky-9.4"),  # the longest declared
        ("Debian", "12.11", ["debian-12"], "debian-12"),  # Debian: the major version
        ("Ubuntu", "22.04", ["ubuntu-22", "ubuntu-22.04"], "ubuntu-22.04"),
        ("RedHat", "9.3", ["rhel-9"], "rhel-9"),  # Ansible's name mapped to os-release's
        ("Rocky", "9.4", ["rocky-8"], None),  # not declared: the play fails, naming the key
    ],
)
def test_documented_role_picks_the_release_as_pinmgr_check_does(
    tmp_path: Path, distribution: str, version: str, declared: list[str], expected: str | None
) -> None:
    """The role's release tasks, run by the real ansible-playbook with the host's facts given
    as extra vars (no host of those releases here: the facts are what setup would report)."""
    tasks = yaml.safe_load((SITE / "roles/pinned_packages/tasks/main.yml").read_text())
    (tmp_path / "release.yml").write_text(yaml.safe_dump(tasks[:2]))
    defaults = yaml.safe_load((SITE / "roles/pinned_packages/defaults/main.yml").read_text())
    (tmp_path / "pb.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_tasks: release.yml\n"
        "    - ansible.builtin.debug:\n        msg: 'key={{ pinned_packages_release }}'\n"
    )
    facts = {
        "distribution": distribution,
        "distribution_version": version,
        "distribution_major_version": version.split(".", maxsplit=1)[0],
    }
    extra = {**defaults, "ansible_facts": facts, "pinmgr_pins": {k: {} for k in declared}}
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    cmd = [tool("ansible-playbook"), "-i", "localhost,", "-c", "local", "pb.yml"]
    env = {**os.environ, "ANSIBLE_REMOTE_TMP": str(tmp_path / ".ansible-remote-tmp")}
    proc = subprocess.run(
        [*cmd, "-e", "@vars.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if expected is None:
        assert proc.returncode != 0
        assert "rocky-9.4 is not declared for this role" in proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f'"msg": "key={expected}"' in proc.stdout
