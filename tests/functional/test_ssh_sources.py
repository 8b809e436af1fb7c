"""Where hosts come from, end to end over real SSH: ProxyJump (inventory and OpenSSH config), an
Ansible inventory (the real ``ansible-inventory``), Vagrant, and ``pinmgr diff`` across two lab
environments. The only stand-in is the ``vagrant`` executable (see ``test_vagrant_source``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.hostlab import (
    BASE_PACKAGES,
    BASE_PIP,
    VENV_PATH,
    Drift,
    HostSpec,
    Lab,
    LabFactory,
    LabHost,
    newer,
)

ROOT = Path(__file__).resolve().parents[2]
BOOKWORM, JAMMY, NOBLE = "debian-12", "ubuntu-22.04", "ubuntu-24.04"
B = BASE_PACKAGES[BOOKWORM]
PINS = {
    ("app", BOOKWORM): ("bash", "nginx"),
    ("db", BOOKWORM): ("bash", "postgresql-15"),
    ("app", JAMMY): ("bash", "nginx"),
    ("db", JAMMY): ("bash", "postgresql-14"),
    ("db", NOBLE): ("bash", "postgresql-16"),
}
PR_APP_PIP = {**BASE_PIP, "Django": "5.0.9"}


def write_lockfile(path: Path) -> Path:
    """BASE versions of a few packages per role/release, and Django for app hosts."""
    lines = ["schema = 1", ""]
    for (role, release), names in PINS.items():
        lines.append(f'[roles.{role}."{release}".deb]')
        lines += [f'"{n}" = "{BASE_PACKAGES[release][n]}"' for n in names]
        if role == "app":
            lines += [f'[roles.{role}."{release}".pip]', f'Django = "{BASE_PIP["Django"]}"']
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def pinmgr(
    *args: str, home: Path, path_prefix: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI; HOME is a temp dir so the user's ~/.ssh is never read or written."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160", "HOME": str(home)}
    env.pop("SSH_AUTH_SOCK", None)
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


def check_json(
    lock: Path, inv: Path, known: Path, home: Path, *extra: str, path_prefix: Path | None = None
) -> tuple[int, dict[str, Any]]:
    result = pinmgr(
        "check", "-l", str(lock), "-i", str(inv), "--known-hosts", str(known),
        "-f", "json", "-q", *extra, home=home, path_prefix=path_prefix,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, doc


def kinds_by_host(doc: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for f in doc["findings"]:
        out.setdefault(f["host"], set()).add((f["kind"], f["package"] or ""))
    return out


def all_ok(lab_host: LabHost, *, pip: bool) -> set[tuple[str, str]]:
    """The findings of a host that matches every pin of its role and release."""
    names = PINS[(lab_host.role, lab_host.os_release)]
    found = {("ok", n) for n in names}
    if pip and lab_host.role == "app":
        found.add(("ok", "django"))
    return found


def accepted_from(lab_host: LabHost) -> list[str]:
    """Client addresses of every login sshd on ``lab_host`` accepted, in order (its log)."""
    text = lab_host.log.read_text(errors="replace")
    return re.findall(r"Accepted publickey for \S+ from (\S+) port", text)


@pytest.fixture(scope="module")
def lab(hostlab: LabFactory) -> Lab:
    return hostlab(
        [
            HostSpec("bastion", role="bastion"),
            HostSpec("inner", role="db", os_release=NOBLE, proxy_jump="bastion"),
            HostSpec("st-app1", env="staging", role="app"),
            HostSpec("st-db1", env="staging", role="db"),
            HostSpec(
                "pr-app1",
                env="production",
                role="app",
                drift=Drift(versions={"nginx": newer(B["nginx"])}),
                pip=PR_APP_PIP,
            ),
            HostSpec(
                "pr-db1",
                env="production",
                role="db",
                drift=Drift(versions={"postgresql-15": newer(B["postgresql-15"])}),
            ),
            HostSpec("vm-web", env="vagrant", role="app", os_release=JAMMY),
            HostSpec("vm-db", env="vagrant", role="db", os_release=JAMMY),
        ]
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def files(lab: Lab, tmp_path: Path) -> tuple[Path, Path]:
    """Lockfile and a private copy of the lab's known_hosts."""
    known = tmp_path / "known_hosts"
    known.write_bytes(lab.known_hosts.read_bytes())
    return write_lockfile(tmp_path / "pinmgr.toml"), known


# --- ProxyJump ---------------------------------------------------------------------------------


def test_proxy_jump_from_the_inventory_uses_the_targets_key(
    lab: Lab, tmp_path: Path, home: Path, files: tuple[Path, Path]
) -> None:
    """``proxy_jump = "pinmgr-lab@ADDR:22"`` names no key: the hop authenticates with the
    target's ``key`` (no agent, no ~/.ssh identities exist here)."""
    lock, known = files
    inner, bastion = lab.hosts["inner"], lab.hosts["bastion"]
    inv = lab.write_inventory(tmp_path / "inventory.toml", [inner])
    assert f'proxy_jump = "{lab.user}@{bastion.address}:22"' in inv.read_text()
    logins_before = len(accepted_from(inner))
    code, doc = check_json(lock, inv, known, home)
    assert code == 0, doc
    assert kinds_by_host(doc) == {"inner": all_ok(inner, pip=False)}
    assert {f["os_release"] for f in doc["findings"]} == {NOBLE}
    # The inner host's sshd saw the login coming from the bastion, not from this machine.
    assert accepted_from(inner)[logins_before:] == [bastion.address]


def test_proxy_jump_from_an_openssh_config(
    lab: Lab, tmp_path: Path, home: Path, files: tuple[Path, Path]
) -> None:
    """The inventory names only the alias; HostName, User, IdentityFile and ProxyJump (and the
    bastion's own settings) come from ``--ssh-config``."""
    lock, known = files
    inner, bastion = lab.hosts["inner"], lab.hosts["bastion"]
    config = lab.ssh_config.read_text()
    assert "ProxyJump bastion" in config
    inv = tmp_path / "inventory.toml"
    inv.write_text('schema = 1\n\n[environments.staging.hosts.inner]\nroles = ["db"]\n')
    logins_before = len(accepted_from(inner))
    result = pinmgr(
        "check", "-l", str(lock), "-i", str(inv), "--known-hosts", str(known),
        "--ssh-config", str(lab.ssh_config), "-f", "json", "-q", home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert kinds_by_host(doc) == {"inner": all_ok(inner, pip=False)}
    assert accepted_from(inner)[logins_before:] == [bastion.address]

    # Without the config the alias means nothing: proof the config was what resolved it.
    result = pinmgr(
        "check", "-l", str(lock), "-i", str(inv), "--known-hosts", str(known),
        "--connect-timeout", "3", "-f", "json", "-q", home=home,
    )  # fmt: skip
    assert result.returncode == 3
    assert json.loads(result.stdout)["findings"][0]["kind"] == "unreachable"


# --- Ansible -----------------------------------------------------------------------------------


def test_ansible_inventory_source(
    lab: Lab, tmp_path: Path, home: Path, files: tuple[Path, Path]
) -> None:
    """An INI inventory evaluated by the real ``ansible-inventory``; names are not resolvable,
    so reaching the hosts proves ``ansible_host`` / ``ansible_user`` / the key were used."""
    lock, known = files
    app, db = lab.hosts["st-app1"], lab.hosts["st-db1"]
    key = lab.client_key
    (tmp_path / "hosts.ini").write_text(
        "[app]\n"
        f"web.staging.invalid ansible_host={app.address} ansible_user={lab.user} "
        f"ansible_ssh_private_key_file={key} pinmgr_pip={VENV_PATH}\n"
        "\n[db]\n"
        f"db.staging.invalid ansible_host={db.address} ansible_user={lab.user} "
        f"ansible_ssh_private_key_file={key}\n"
        "\n[staging:children]\napp\ndb\n"
    )
    inv = tmp_path / "inventory.toml"
    inv.write_text('schema = 1\n\n[[sources]]\ntype = "ansible"\ninventory = "hosts.ini"\n')
    code, doc = check_json(lock, inv, known, home, "--env", "staging")
    assert code == 0, doc
    assert doc["environments"] == ["staging"]
    assert kinds_by_host(doc) == {
        "web.staging.invalid": all_ok(app, pip=True),
        "db.staging.invalid": all_ok(db, pip=False),
    }
    roles = {f["host"]: f["role"] for f in doc["findings"]}
    assert roles == {"web.staging.invalid": "app", "db.staging.invalid": "db"}


# --- Vagrant -----------------------------------------------------------------------------------

VAGRANT_SSH_CONFIG = """\
Host {name}
  HostName {address}
  User {user}
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile {key}
  IdentitiesOnly yes
  LogLevel FATAL
  PubkeyAcceptedKeyTypes +ssh-rsa
  HostKeyAlgorithms +ssh-rsa

"""


def test_vagrant_source(lab: Lab, tmp_path: Path, home: Path, files: tuple[Path, Path]) -> None:
    """MOCK: ``vagrant`` is a stand-in script on PATH (no Vagrant/VirtualBox here). It prints
    what real ``vagrant ssh-config`` prints for two machines, pointing at two lab hosts;
    everything after it (parsing, SSH, host keys, the probe) is real.

    Vagrant's ``StrictHostKeyChecking no`` is not obeyed: unknown keys are refused until
    ``--accept-new`` records them."""
    lock, known = files
    web, db = lab.hosts["vm-web"], lab.hosts["vm-db"]
    project = tmp_path / "vm"
    project.mkdir()
    (project / "Vagrantfile").write_text("# machines web and db\n")
    calls = tmp_path / "vagrant-calls"
    output = "".join(
        VAGRANT_SSH_CONFIG.format(name=n, address=h.address, user=lab.user, key=lab.client_key)
        for n, h in (("web", web), ("db", db))
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vagrant"
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s %s\\n" "$PWD" "$*" >> "{calls}"\n'
        '[ "$1" = ssh-config ] || { echo "stand-in knows only ssh-config" >&2; exit 1; }\n'
        f"cat <<'EOF'\n{output}EOF\n"
    )
    fake.chmod(0o755)
    inv = tmp_path / "inventory.toml"
    inv.write_text(
        'schema = 1\n\n[[sources]]\ntype = "vagrant"\ndir = "vm"\n'
        'roles = { web = "app", "db*" = "db" }\n'
    )
    # A fresh VM's key is not known: drop the lab's lines for these two hosts.
    kept = [ln for ln in known.read_text().splitlines(True) if not ln.startswith("vm-")]
    known.write_text("".join(kept))
    before = known.read_bytes()

    code, doc = check_json(lock, inv, known, home, path_prefix=bin_dir)
    assert code == 3
    assert {(f["host"], f["kind"]) for f in doc["findings"]} == {
        ("web", "hostkey-unknown"),
        ("db", "hostkey-unknown"),
    }
    assert known.read_bytes() == before

    code, doc = check_json(lock, inv, known, home, "--accept-new", path_prefix=bin_dir)
    # vagrant ssh-config names no interpreter: the app role's pip pin is said not checked
    # (a finding that fails --fail-on any), never skipped silently.
    assert code == 1, doc
    assert doc["environments"] == ["vagrant"]
    web_found = all_ok(web, pip=False) | {("not-checked", "")}
    assert kinds_by_host(doc) == {"web": web_found, "db": all_ok(db, pip=False)}
    added = known.read_text()[len(before.decode()) :]
    for h in (web, db):
        assert h.host_key_pub.split()[1] in added
    assert calls.read_text().splitlines() == [f"{project} ssh-config"] * 2


# --- diff --------------------------------------------------------------------------------------


def test_diff_staging_production(
    lab: Lab, tmp_path: Path, home: Path, files: tuple[Path, Path]
) -> None:
    _, known = files
    chosen = [lab.hosts[n] for n in ("st-app1", "st-db1", "pr-app1", "pr-db1")]
    inv = lab.write_inventory(tmp_path / "inventory.toml", chosen)
    result = pinmgr(
        "diff", "staging", "production", "-i", str(inv), "--known-hosts", str(known),
        "-f", "json", "-q", home=home,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["failures"] == []
    rows = {
        (
            r["role"],
            r["ecosystem"],
            r["package"],
            tuple(r["left"]),
            tuple(r["right"]),
            r["direction"],
        )
        for r in doc["differences"]
    }
    assert rows == {
        ("app", "deb", "nginx", (B["nginx"],), (newer(B["nginx"]),), "newer"),
        ("app", "pip", "django", (BASE_PIP["Django"],), ("5.0.9",), "newer"),
        (
            "db",
            "deb",
            "postgresql-15",
            (B["postgresql-15"],),
            (newer(B["postgresql-15"]),),
            "newer",
        ),
    }
    table = pinmgr(
        "diff", "staging", "production", "-i", str(inv), "--known-hosts", str(known), "-q",
        home=home,
    )  # fmt: skip
    assert table.returncode == 1
    assert "3 packages differ between staging and production" in table.stdout
    assert "production newer" in table.stdout
