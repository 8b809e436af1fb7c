"""pinmgr's ssh_config resolution == the real OpenSSH client's, field by field.

For every config in ``tests/data/ssh_config/`` and every alias in it (each concrete ``Host``
name plus the names its ``# names:`` line lists, which match only wildcards or Match blocks),
``inventory.openssh`` must give what ``ssh -G -F FILE ALIAS`` prints (and, for a host's own
user / port / proxy_jump, what ``ssh -G -l -p -J`` prints). ``ssh -G`` does not connect.
IdentityFile / CertificateFile are printed unexpanded by ``ssh -G``; their expansion
(``~``, ``%h %r %p %n %d %u %%``) is compared with the paths ``ssh -v`` says it loads, through
``ProxyCommand=true`` (ssh loads its identities before the handshake fails; no network).

HOME is a temp dir holding ``dot-ssh/`` as ``~/.ssh`` (relative and ``~`` Includes). OpenSSH
expands ``~``/``%d`` in paths with the passwd home, pinmgr with $HOME: the passwd home in
ssh's output is read as $HOME.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pinmgr.inventory import openssh, ssh_config
from pinmgr.model import Location

CORPUS = Path(__file__).resolve().parents[2] / "data" / "ssh_config"
FILES = sorted(CORPUS.glob("*.conf"))
PW_HOME = pwd.getpwuid(os.getuid()).pw_dir

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")


def _names(config: Path) -> list[str]:
    cfg = openssh.read_config(config)
    extra: list[str] = []
    for line in config.read_text().splitlines():
        if line.startswith("# names:"):
            extra += line.split(":", 1)[1].split()
    return sorted(set(ssh_config.concrete_hosts(cfg)) | set(extra))


CASES = [(f, name) for f in FILES for name in _names(f)]


@pytest.fixture
def corpus_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    shutil.copytree(CORPUS / "dot-ssh", home / ".ssh")
    for path in (home, home / ".ssh"):
        path.chmod(0o700)
    monkeypatch.setenv("HOME", str(home))
    return home


def _ssh(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run(
        ["ssh", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env
    )


def _home(text: str, home: Path) -> str:
    """ssh's passwd-home paths read as $HOME (see the module docstring)."""
    return re.sub(rf"(^|\s){re.escape(PW_HOME.rstrip('/'))}(?=/|\s|$)", rf"\g<1>{home}", text)


def ssh_g(home: Path, config: Path, alias: str) -> dict[str, list[str]]:
    return ssh_g_with(home, config, alias)


def ssh_loaded_files(home: Path, config: Path, alias: str) -> tuple[list[str], list[str]]:
    """(identity files, certificate files) as ``ssh -v`` opens them, expanded."""
    done = _ssh(home, "-v", "-o", "ProxyCommand=true", "-o", "BatchMode=yes",
                "-F", str(config), alias, "true")  # fmt: skip
    ids = re.findall(r"^debug1: identity file (.+) type -?\d+$", done.stderr, re.M)
    certs = re.findall(r"^debug1: certificate file (.+) type -?\d+$", done.stderr, re.M)
    # For each identity file ssh also tries "FILE-cert": not a file of the config.
    keys = [p for i, p in enumerate(ids) if not (i and p == ids[i - 1] + "-cert")]
    return [_home(p, home) for p in keys], [_home(p, home) for p in certs]


def _hops(spec: str | None) -> list[openssh.Hop] | None:
    """A ProxyJump as hops (``ssh -G`` rewrites the last hop: no ``ssh://``, [v4])."""
    if spec is None:
        return None
    return [openssh.parse_hop(h, Location("ssh -G", 1)) for h in spec.split(",")]


_STRICT = {"true": "yes", "false": "no", "ask": "ask", "accept-new": "accept-new"}


@pytest.mark.parametrize(("config", "alias"), CASES, ids=[f"{f.stem}:{n}" for f, n in CASES])
def test_resolution_equals_ssh_G(corpus_home: Path, config: Path, alias: str) -> None:
    want = ssh_g(corpus_home, config, alias)
    got = openssh.lookup(openssh.read_config(config), alias)
    assert got.hostname == want["hostname"][0]
    assert got.user == want["user"][0]
    assert got.port == int(want["port"][0])
    assert list(got.identity_files) == want["identityfile"]
    assert list(got.certificate_files) == want.get("certificatefile", [])
    assert [_home(p, corpus_home) for p in want["userknownhostsfile"][0].split()] == list(
        got.known_hosts_files
    )
    assert _hops(got.proxy_jump) == _hops(want["proxyjump"][0] if "proxyjump" in want else None)
    assert str(got.connect_timeout or "none") == want["connecttimeout"][0]
    assert got.identities_only == (want["identitiesonly"][0] == "yes")
    assert got.strict_host_key_checking == _STRICT[want["stricthostkeychecking"][0]]


@pytest.mark.parametrize(("config", "alias"), CASES, ids=[f"{f.stem}:{n}" for f, n in CASES])
def test_key_paths_equal_what_ssh_loads(corpus_home: Path, config: Path, alias: str) -> None:
    ids, certs = ssh_loaded_files(corpus_home, config, alias)
    cfg = openssh.read_config(config)
    # ProxyCommand=true on ssh's command line outranks the config's ProxyJump (no %j).
    got = openssh.lookup(cfg, alias, jump="none")
    ctx = openssh.default_context()
    where = Location(str(config), 1)
    assert [openssh.expand_path(p, got, ctx, where) for p in got.identity_files] == ids
    assert [openssh.expand_path(p, got, ctx, where) for p in got.certificate_files] == certs


def test_match_exec_runs_only_when_allowed_and_then_agrees_with_ssh(
    corpus_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Match exec`` runs a local command: never unless asked, then with ssh's tokens."""
    config = corpus_home / "exec.conf"
    marker = corpus_home / "ran"
    config.write_text(
        f'Match exec "touch {marker}; test %h = exec-yes -a %p = 22"\n  User via-exec\n'
        "Host *\n  User plain\n"
    )
    with pytest.raises(openssh.HostProblem, match="Match exec not run") as caught:
        openssh.lookup(openssh.read_config(config), "exec-yes")
    assert caught.value.location == Location(str(config), 1, 1)
    assert not marker.exists()
    monkeypatch.setenv(openssh.MATCH_EXEC_ENV, "1")
    for alias in ("exec-yes", "exec-no"):
        got = openssh.lookup(openssh.read_config(config), alias)
        assert got.user == ssh_g(corpus_home, config, alias)["user"][0]
    assert marker.exists()


@pytest.mark.parametrize(("config", "alias"), CASES, ids=[f"{f.stem}:{n}" for f, n in CASES])
def test_inventory_values_act_as_ssh_l_p_J(corpus_home: Path, config: Path, alias: str) -> None:
    """A host's own user / port / proxy_jump are ``ssh -l`` / ``-p`` / ``-J``: they win, and
    ``Match user`` and ``%r``/``%p`` see them."""
    want = ssh_g_with(corpus_home, config, alias, "-l", "root", "-p", "2345", "-J", "j@hop:2")
    got = openssh.lookup(openssh.read_config(config), alias, user="root", port=2345, jump="j@hop:2")
    assert (got.user, got.port, got.hostname) == (
        want["user"][0],
        int(want["port"][0]),
        want["hostname"][0],
    )
    assert list(got.identity_files) == want["identityfile"]
    assert _hops(got.proxy_jump) == _hops(want["proxyjump"][0])


def ssh_g_with(home: Path, config: Path, alias: str, *options: str) -> dict[str, list[str]]:
    done = _ssh(home, "-G", *options, "-F", str(config), alias)
    assert done.returncode == 0, done.stderr
    found: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        found.setdefault(key, []).append(value)
    return found
