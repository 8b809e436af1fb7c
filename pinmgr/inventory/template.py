"""The text of a new native inventory (``pinmgr init``): commented, and loadable as written."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from pinmgr.model import Host, TransportKind

HEADER = """\
# pinmgr inventory: which hosts form each environment, and which role(s) each plays.
# Reference: docs/inventory.md. Relative paths are taken from this file's directory.
# Check it with `pinmgr validate`; see each host as pinmgr reaches it with `pinmgr inventory`.
"""

PIP_HINT = """\
# pip pins are checked in the interpreters or virtualenvs a host lists, e.g.:
#   pip = ["/usr/bin/python3", "/srv/app/venv"]
"""

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _str(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def _key(name: str) -> str:
    return name if _BARE.match(name) else _str(name)


def _host_lines(host: Host) -> list[str]:
    lines = [f"[environments.{_key(host.env)}.hosts.{_key(host.name)}]"]
    if host.transport is not TransportKind.SSH:
        lines.append(f"transport = {_str(host.transport.value)}")
    if host.transport is not TransportKind.LOCAL:
        for field, value in (
            ("address", host.address),
            ("user", host.user),
            ("key", host.key_file),
            ("proxy_jump", host.proxy_jump),
        ):
            if value:
                lines.append(f"{field} = {_str(value)}")
        if host.port is not None:
            lines.append(f"port = {host.port}")
    lines.append(f"roles = [{', '.join(map(_str, host.roles))}]")
    if host.pip:
        lines.append(f"pip = [{', '.join(map(_str, host.pip))}]")
    return lines


def native_text(hosts: Sequence[Host], ansible_inventory: str | None = None) -> str:
    """An inventory holding ``hosts``, and an Ansible inventory as a ``[[sources]]`` entry."""
    out = [HEADER, "schema = 1", ""]
    for host in hosts:
        out += [*_host_lines(host), ""]
    if ansible_inventory is not None:
        out += [
            "# Hosts, roles and environments come from the Ansible inventory: each group a",
            "# host is in is a role, except environment groups (production, staging, dev, ...).",
            "# Hosts in no environment group are in environment `ansible` (`env` below).",
            "[[sources]]",
            'type = "ansible"',
            f"inventory = {_str(ansible_inventory)}",
            'env = "ansible"',
            "",
        ]
    out.append(PIP_HINT)
    return "\n".join(out)
