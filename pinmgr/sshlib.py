"""paramiko, imported without its eager import of invoke (~35 ms of every fleet check).

``paramiko.config`` imports invoke at module level, and invoke pulls in asyncio,
``unittest.mock`` and a YAML parser, only to run the ``Match exec`` lines of an OpenSSH config.
A fleet check imports paramiko before its first connection, so that cost delays every host.
Every pinmgr module that needs paramiko imports it from here: paramiko then binds a stand-in
module, which imports the real invoke the first time it is used (``Match exec`` still works,
and fails as paramiko's own would when invoke is not installed).
"""

from __future__ import annotations

import importlib
import sys
import types


class _DeferredInvoke(types.ModuleType):
    """Stands in for ``invoke`` inside paramiko.config; the real one loads on first use."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):  # import machinery probing: not a use
            raise AttributeError(name)
        return getattr(importlib.import_module("invoke"), name)


_stand_in: types.ModuleType | None = None
if "paramiko" not in sys.modules and "invoke" not in sys.modules:
    _stand_in = sys.modules["invoke"] = _DeferredInvoke("invoke")
try:
    import paramiko
    from paramiko.channel import Channel
    from paramiko.hostkeys import HostKeyEntry, HostKeys, InvalidHostKey
    from paramiko.pkey import PKey
    from paramiko.ssh_exception import (
        AuthenticationException,
        BadAuthenticationType,
        ChannelException,
        IncompatiblePeer,
        PasswordRequiredException,
        SSHException,
    )
finally:
    # Only paramiko holds the stand-in: anyone importing invoke later gets the real module.
    if _stand_in is not None and sys.modules.get("invoke") is _stand_in:
        del sys.modules["invoke"]

__all__ = [
    "AuthenticationException",
    "BadAuthenticationType",
    "Channel",
    "ChannelException",
    "HostKeyEntry",
    "HostKeys",
    "IncompatiblePeer",
    "InvalidHostKey",
    "PKey",
    "PasswordRequiredException",
    "SSHException",
    "paramiko",
]
