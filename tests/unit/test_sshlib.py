"""pinmgr.sshlib: paramiko without invoke at import, and ``Match exec`` still runs for real."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_match_exec_still_works_with_invoke_deferred() -> None:
    code = textwrap.dedent(
        """
        import sys
        import pinmgr.collectors.ssh
        import pinmgr.inventory.openssh as o
        assert "paramiko" in sys.modules
        assert "invoke" not in sys.modules, "invoke imported with paramiko"
        # ssh_config (and its Match exec) is read by pinmgr's own resolver, not paramiko's.
        ctx = o.default_context(allow_exec=True)
        config = o.config_from_text(
            'Match exec "true"\\n  User yes-user\\n'
            'Match exec "false"\\n  Port 2222\\n'
            'Host *\\n  User fallback\\n',
            "<test>",
            ctx,
        )
        found = o.lookup(config, "web1", ctx=ctx)
        assert found.user == "yes-user", found
        assert not found.port_configured, found
        import invoke
        assert invoke.__spec__ is not None and callable(invoke.run)
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_invoke_imported_first_is_left_alone() -> None:
    """A program that already uses invoke (Fabric users) keeps its own module object."""
    code = "import invoke, sys; m = invoke\nimport pinmgr.sshlib\nassert sys.modules['invoke'] is m"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
