"""The merged inventory as plain rows: what ``pinmgr inventory`` shows, without connecting.

One row per host with everything a transport will use (address, port, user, keys, jump
hosts, the ssh_config file) and where the host was written: the answer to "why was this host
checked with that key?". Hosts a source left out are listed too, with why and where: the
answer to "why was this host not checked at all?".
"""

from __future__ import annotations

from typing import Any

from pinmgr.inventory.result import LoadedInventory
from pinmgr.model import Host, SshEndpoint, TransportKind


def _hop(hop: SshEndpoint) -> str:
    address = f"[{hop.address}]" if ":" in hop.address else hop.address
    return f"{hop.user}@{address}:{hop.port}"


def host_row(host: Host) -> dict[str, Any]:
    """One host as JSON-ready values (local hosts have no address, user or keys)."""
    route = host.route
    row: dict[str, Any] = {
        "env": host.env,
        "host": host.name,
        "roles": list(host.roles),
        "transport": host.transport.value,
        "address": None,
        "port": None,
        "user": None,
        "keys": [],
        "default_keys": False,
        "jumps": [],
        "ssh_config": None,
        "source": str(host.source) if host.source else None,
    }
    if host.transport.is_offline:
        row["address"] = host.path
        return row
    if host.transport is TransportKind.LOCAL:
        return row
    if route is None:  # not resolved (a library caller's hand-made host)
        row.update(address=host.address or host.name, port=host.port, user=host.user)
        row["keys"] = [host.key_file] if host.key_file else []
        return row
    target = route.target
    row.update(
        alias=target.alias,
        address=target.address,
        port=target.port,
        user=target.user,
        keys=list(target.identity_files),
        default_keys=not target.identity_files,
        certificates=list(target.certificate_files),
        identities_only=target.identities_only,
        known_hosts=list(target.known_hosts_files),
        connect_timeout=target.connect_timeout,
        strict_host_key_checking=target.strict_host_key_checking,
        jumps=[
            {"alias": h.alias, "to": _hop(h), "keys": list(h.identity_files)} for h in route.jumps
        ],
        ssh_config=route.config or "default (~/.ssh/config, /etc/ssh/ssh_config)",
    )
    return row


def rows(loaded: LoadedInventory) -> dict[str, Any]:
    """Hosts in inventory order, the hosts left out (why, and where), and the caveats."""
    return {
        "hosts": [host_row(h) for h in loaded.inventory.hosts],
        "left_out": [
            {
                "host": p.host,
                "reason": p.message,
                "location": str(p.location) if p.location else None,
            }
            for p in loaded.problems
        ],
        "warnings": [{"host": w.host, "env": w.env, "message": w.message} for w in loaded.warnings],
    }
