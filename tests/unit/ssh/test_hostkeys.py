"""known_hosts parsing and policy, checked against ssh-keygen where OpenSSH has an answer."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import paramiko
import pytest

from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.hostkeys import KnownHosts, fingerprint, known_hosts_name, shared_store
from pinmgr.model import FailureKind

from .conftest import Keys, keygen, openssh_fingerprint, pubkey


def load(path: Path) -> paramiko.PKey:
    kind, b64 = pubkey(path).split()
    return paramiko.PKey.from_type_string(kind, base64.b64decode(b64))


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return keygen(tmp_path_factory.mktemp("rsa") / "rsa", kind="rsa")


def test_fingerprint_matches_ssh_keygen(keys: Keys, rsa_key: Path) -> None:
    for path in (keys.client, keys.other_host, rsa_key):
        assert fingerprint(load(path)) == openssh_fingerprint(path)


def test_known_hosts_name() -> None:
    assert known_hosts_name("web1", 22) == "web1"
    assert known_hosts_name("10.0.0.5", 2222) == "[10.0.0.5]:2222"


def test_patterns_wildcards_negation_case_and_junk(tmp_path: Path, keys: Keys) -> None:
    key = load(keys.client)
    line = f"{key.get_name()} {key.get_base64()}"
    path = tmp_path / "known_hosts"
    path.write_text(
        "garbage line\n"
        "host ssh-ed25519 !!notbase64!!\n"
        f"@cert-authority *.corp {line}\n"
        f"*.example.com,!bad.example.com {line}\n"
        f"Exact.Host,[10.1.1.1]:2200 {line}\n"
    )
    store = KnownHosts((str(path),), str(path))
    assert store.lookup("a.example.com", 22) == [key]
    assert store.lookup("bad.example.com", 22) == []
    assert store.lookup("exact.host", 22) == [key]
    assert store.lookup("10.1.1.1", 2200) == [key]
    assert store.lookup("10.1.1.1", 22) == []
    assert store.lookup("x.corp", 22) == []  # certificates are not trusted as host keys


def test_unknown_reason_names_port_type_and_file(tmp_path: Path, rsa_key: Path) -> None:
    key = load(rsa_key)
    store = KnownHosts(("~/nonexistent/known_hosts",), "~/nonexistent/known_hosts")
    with pytest.raises(CollectFailed) as info:
        store.check("db1 (db1:22)", "db1", 22, key, accept_new=False)
    assert info.value.kind is FailureKind.HOSTKEY_UNKNOWN
    assert "ssh-keyscan -p 22 -t rsa db1 >> ~/nonexistent/known_hosts" in info.value.reason
    assert openssh_fingerprint(rsa_key) in info.value.reason


def test_other_key_type_known_is_refused_as_changed(
    tmp_path: Path, keys: Keys, rsa_key: Path
) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(f"h {pubkey(rsa_key)}\n")
    before = path.read_bytes()
    store = KnownHosts((str(path),), str(path))
    with pytest.raises(CollectFailed) as info:
        store.check("h", "h", 22, load(keys.client), accept_new=True)
    assert info.value.kind is FailureKind.HOSTKEY_CHANGED
    assert path.read_bytes() == before
    assert store.preferred_algorithms("h", 22) == ("rsa-sha2-512", "rsa-sha2-256")


def test_hashed_new_entries_are_found_by_ssh_keygen(tmp_path: Path, keys: Keys) -> None:
    path = tmp_path / "known_hosts"
    store = KnownHosts((str(path),), str(path), hash_new_entries=True)
    store.check("h", "10.9.9.9", 2222, load(keys.client), accept_new=True)
    text = path.read_text()
    assert text.startswith("|1|")
    assert "10.9.9.9" not in text
    found = subprocess.run(
        ["ssh-keygen", "-F", "[10.9.9.9]:2222", "-f", str(path)], capture_output=True
    )
    assert found.returncode == 0
    # and a fresh parse of the hashed file recognises it
    assert KnownHosts((str(path),), str(path)).lookup("10.9.9.9", 2222) == [load(keys.client)]


def test_accept_new_rechecks_the_file_under_the_lock(
    tmp_path: Path, keys: Keys, rsa_key: Path
) -> None:
    """Another process recorded a different key meanwhile: refuse, and add nothing."""
    path = tmp_path / "known_hosts"
    store = KnownHosts((str(path),), str(path))
    path.write_text(f"[h]:2 {pubkey(keys.other_host)}\n")  # written after our parse
    with pytest.raises(CollectFailed) as info:
        store.check("h", "h", 2, load(keys.client), accept_new=True)
    assert info.value.kind is FailureKind.HOSTKEY_CHANGED
    assert path.read_text() == f"[h]:2 {pubkey(keys.other_host)}\n"


def test_shared_store_is_parsed_once_and_again_when_changed(tmp_path: Path, keys: Keys) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("")
    first = shared_store((str(path),), str(path))
    assert shared_store((str(path),), str(path)) is first
    assert first.lookup("h", 22) == []
    path.write_text(f"h {pubkey(keys.client)}\n")
    assert shared_store((str(path),), str(path)).lookup("h", 22) == [load(keys.client)]


def test_unreadable_file_raises_oserror(tmp_path: Path) -> None:
    path = tmp_path / "dir_not_file"
    path.mkdir()
    with pytest.raises(OSError):
        KnownHosts((str(path),), str(tmp_path / "w"))
