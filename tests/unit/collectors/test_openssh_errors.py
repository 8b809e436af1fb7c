"""ssh exit-255 stderr -> failure kinds, on texts captured from OpenSSH 9.2 against lab hosts."""

from __future__ import annotations

import shlex

import pytest

from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.openssh import OpensshTransport, classify
from pinmgr.collectors.ssh import SshOptions
from pinmgr.model import FailureKind, Host, SshEndpoint, SshRoute, TransportKind

LABEL = "s1 (10.213.1.2)"

CHANGED = """\
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:6CJU5qJxqX+1a3SfxFzAwKP/fJcLfCDzBknt5ftr8h0.
Please contact your system administrator.
Add correct host key in /tmp/x/kh to get rid of this message.
Offending ED25519 key in /tmp/x/kh:1
  remove with:
  ssh-keygen -f "/tmp/x/kh" -R "10.213.1.2"
Host key for 10.213.1.2 has changed and you have requested strict checking.
Host key verification failed.
"""
UNKNOWN = """\
No ED25519 host key is known for 10.213.1.3 and you have requested strict checking.
Host key verification failed.
"""
BAD_KEY_FILE = """\
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
Permissions 0666 for '/dev/null' are too open.
It is required that your private key files are NOT accessible by others.
This private key will be ignored.
Load key "/dev/null": bad permissions
pinmgr-lab@10.213.1.2: Permission denied (publickey).
"""


@pytest.mark.parametrize(
    ("stderr", "kind", "transient", "needle"),
    [
        (
            CHANGED,
            FailureKind.HOSTKEY_CHANGED,
            False,
            "SHA256:6CJU5qJxqX+1a3SfxFzAwKP/fJcLfCDzBknt5ftr8h0",
        ),
        (UNKNOWN, FailureKind.HOSTKEY_UNKNOWN, False, "host key for 10.213.1.3 unknown: ED25519"),
        ("Host key verification failed.\n", FailureKind.HOSTKEY_UNKNOWN, False, "--accept-new"),
        (
            "pinmgr-lab@10.213.1.2: Permission denied (publickey).\n",
            FailureKind.AUTH_FAILED,
            False,
            "Permission denied (publickey)",
        ),
        (BAD_KEY_FILE, FailureKind.AUTH_FAILED, False, "Permission denied"),
        ("Connection timed out during banner exchange\n", FailureKind.TIMEOUT, False, "banner"),
        (
            "ssh: connect to host 10.213.1.9 port 22: Connection timed out\n",
            FailureKind.TIMEOUT,
            False,
            "timed out",
        ),
        (
            "ssh: connect to host 10.213.254.1 port 22: No route to host\n",
            FailureKind.UNREACHABLE,
            False,
            "No route to host",
        ),
        (
            "ssh: connect to host 10.213.1.5 port 22: Connection refused\n",
            FailureKind.UNREACHABLE,
            True,
            "Connection refused",
        ),
        (
            "ssh: Could not resolve hostname nonexistent.invalid: Name or service not known\n",
            FailureKind.UNREACHABLE,
            False,
            "nonexistent.invalid",
        ),
        (
            "ssh: Could not resolve hostname db1: Temporary failure in name resolution\n",
            FailureKind.UNREACHABLE,
            True,
            "db1",
        ),
        (
            "kex_exchange_identification: read: Connection reset by peer\n"
            "Connection reset by 10.0.0.1 port 22\n",
            FailureKind.UNREACHABLE,
            True,
            "reset",
        ),
        (
            "Unable to negotiate with 10.0.0.1 port 22: "
            "no matching host key type found. Their offer: ssh-dss\n",
            FailureKind.COLLECT_ERROR,
            False,
            "no matching host key type",
        ),
        ("", FailureKind.COLLECT_ERROR, False, "no message"),
    ],
)
def test_classify_real_ssh_stderr(
    stderr: str, kind: FailureKind, transient: bool, needle: str
) -> None:
    failed = classify(LABEL, stderr)
    assert failed.kind is kind
    assert failed.transient is transient
    assert needle in failed.reason
    assert failed.reason.startswith(LABEL)
    assert "\n" not in failed.reason


def test_unknown_key_reason_gives_the_whole_keyscan_command() -> None:
    reason = classify(LABEL, UNKNOWN, known_hosts="/p/known_hosts").reason
    assert reason.endswith(
        "verify it out of band, then run "
        "`ssh-keyscan -t ed25519 10.213.1.3 >> /p/known_hosts` or use `pinmgr check --accept-new`"
    )
    other_port = UNKNOWN.replace("10.213.1.3", "[10.213.1.3]:2222")
    reason = classify(LABEL, other_port, known_hosts="/p/known_hosts").reason
    assert "`ssh-keyscan -p 2222 -t ed25519 10.213.1.3 >> /p/known_hosts`" in reason


def test_changed_wins_over_verification_failed_and_mentions_no_paths() -> None:
    reason = classify(LABEL, CHANGED).reason
    assert "man-in-the-middle" in reason
    assert "/tmp/x/kh" not in reason


def host(**kw: object) -> Host:
    return Host("db1", "prod", ("db",), transport=TransportKind.OPENSSH, **kw)  # type: ignore[arg-type]


def test_argv_is_strict_and_puts_the_project_known_hosts_first() -> None:
    opts = SshOptions(
        known_hosts="/h/known_hosts", project_known_hosts="/p/known hosts", ssh_config="/c"
    )
    argv = OpensshTransport(
        host(address="10.0.0.7", user="u", port=2222, key_file="/k"), opts
    ).argv()
    assert argv[:2] == ["ssh", "-T"]
    assert "StrictHostKeyChecking=yes" in argv
    assert "BatchMode=yes" in argv
    assert "ConnectTimeout=10" in argv
    assert 'UserKnownHostsFile="/p/known hosts" "/h/known_hosts"' in argv
    assert argv[argv.index("-F") + 1] == "/c"
    assert argv[argv.index("-p") + 1] == "2222"
    assert argv[argv.index("-l") + 1] == "u"
    assert argv[argv.index("-i") + 1] == "/k"
    assert argv[-4:] == ["--", "10.0.0.7", "sh", "-s"] or argv[-3:] == ["--", "10.0.0.7", "sh -s"]
    assert not any(a.startswith("StrictHostKeyChecking=no") for a in argv)


def test_argv_accept_new_and_alias_without_address() -> None:
    argv = OpensshTransport(host(), SshOptions(accept_new=True, ssh_config="/c")).argv()
    assert "StrictHostKeyChecking=accept-new" in argv
    assert argv[-2] == "db1"
    assert "-J" not in argv and "-p" not in argv and "-l" not in argv


def test_argv_proxy_jump_is_a_strict_proxycommand_chain() -> None:
    """Each hop gets our strict options and the target's key; nested % are doubled."""
    h = host(address="10.0.0.9", key_file="/keys/k%n", proxy_jump="u@b1:2200,b2")
    argv = OpensshTransport(h, SshOptions(ssh_config="/c")).argv()
    assert "-J" not in argv
    assert argv[argv.index("-i") + 1] == "/keys/k%%n"  # IdentityFile expands tokens
    proxy = next(a for a in argv if a.startswith("ProxyCommand="))
    outer = shlex.split(proxy.removeprefix("ProxyCommand="))  # what ssh runs for hop b2
    assert outer[-4:] == ["-W", "%h:%p", "--", "b2"]
    assert "StrictHostKeyChecking=yes" in outer and "BatchMode=yes" in outer
    assert outer[outer.index("-i") + 1] == "/keys/k%%%%n"  # expanded once more by the target
    nested = next(a for a in outer if a.startswith("ProxyCommand="))
    inner = shlex.split(nested.removeprefix("ProxyCommand=").replace("%%", "%"))
    assert inner[-4:] == ["-W", "%h:%p", "--", "b1"]
    assert inner[inner.index("-p") + 1] == "2200"
    assert inner[inner.index("-l") + 1] == "u"
    assert "StrictHostKeyChecking=yes" in inner


def test_argv_bad_jump_spec_is_a_collect_error() -> None:
    with pytest.raises(CollectFailed) as info:
        OpensshTransport(host(proxy_jump="u@b1:notaport"), SshOptions(ssh_config="/c")).argv()
    assert info.value.kind is FailureKind.COLLECT_ERROR


def test_argv_keeps_the_config_known_hosts_and_asks_ssh_for_the_alias() -> None:
    """With a resolved route: ssh gets the alias (its Host blocks apply), the resolved
    HostName, the route's config file, and the config's UserKnownHostsFile after ours."""
    target = SshEndpoint("db1", "10.0.0.9", 22, "u", known_hosts_files=("/c/known_hosts.aws",))
    h = host(route=SshRoute(target, (), "/cfg"))
    argv = OpensshTransport(h, SshOptions(project_known_hosts="/p", known_hosts="/h")).argv()
    assert 'UserKnownHostsFile="/p" "/h" "/c/known_hosts.aws"' in argv
    assert argv[argv.index("-F") + 1] == "/cfg"
    assert "HostName=10.0.0.9" in argv
    assert argv[-2] == "db1" or argv[-3] == "db1"
