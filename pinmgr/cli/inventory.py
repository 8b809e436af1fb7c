"""``pinmgr inventory``: the merged inventory as pinmgr will use it, without connecting."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from pinmgr.cli.app import (
    DEFAULT_INVENTORY,
    EnvOpt,
    InventoryOpt,
    RoleOpt,
    SshConfigOpt,
    StrictOpt,
    app,
)

_COLUMNS = ("ENV", "HOST", "ROLES", "TRANSPORT", "ADDRESS", "USER", "KEYS", "VIA", "SOURCE")
_LEFT_OUT_COLUMNS = ("LEFT OUT", "WHERE", "WHY")


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    address = "-"
    if row["address"]:
        address = f"{row['address']}:{row['port']}" if row["port"] else row["address"]
    keys = ", ".join(row["keys"]) or ("(OpenSSH defaults)" if row["default_keys"] else "-")
    via = " -> ".join(j["to"] for j in row["jumps"]) or "-"
    return (
        row["env"],
        row["host"],
        ",".join(row["roles"]),
        row["transport"],
        address,
        row["user"] or "-",
        keys,
        via,
        row["source"] or "-",
    )


def _aligned(lines: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]


def render_table(listing: dict[str, Any]) -> str:
    """Aligned columns, one host a line (no wrapping: paths are meant to be copied); below
    them, the hosts left out, each with where it was written and why."""
    out = _aligned([_COLUMNS, *(_cells(r) for r in listing["hosts"])])
    if listing["left_out"]:
        from pinmgr.collectors.parsers import escape_text  # inventories may be hostile

        left = [
            (escape_text(p["host"], 200), p["location"] or "-", escape_text(p["reason"], 1000))
            for p in listing["left_out"]
        ]
        out += ["", *_aligned([_LEFT_OUT_COLUMNS, *left])]
    return "\n".join(out) + "\n"


@app.command(name="inventory")
def inventory_cmd(
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    env: EnvOpt = None,
    role: RoleOpt = None,
    ssh_config: SshConfigOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="table|json", help="Output format.")
    ] = "table",
    strict: StrictOpt = False,
) -> None:
    """Show the inventory as check will use it, without connecting: per host its environment,
    roles, transport, resolved address and port, user, keys, jump hosts and the file:line it
    came from.

    The command to run when a host is reached with the wrong key or user: the values are
    what pinmgr resolved from the inventory and ssh_config (OpenSSH's rules: Host and Match
    blocks, Include, first value wins). Hosts a source could not place are listed below the
    table with where and why (JSON: "left_out"), and each is a warning on stderr, or with
    --strict an error (exit 2). ssh_config settings pinmgr does not obey are warnings
    (JSON: "warnings").

    \b
      pinmgr inventory
      pinmgr inventory --env production -f json
      pinmgr inventory --ssh-config ./ssh_config --role db
    """
    from pinmgr import api
    from pinmgr.cli.app import _collect_options
    from pinmgr.inventory.listing import rows

    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"{fmt!r} is not one of table, json", param_hint="--format")
    options = _collect_options(
        env=env,
        role=role,
        jobs=1,
        timeout=1.0,
        connect_timeout=1.0,
        accept_new=False,
        known_hosts=None,
        ssh_config=ssh_config,
        strict=strict,
    )
    listing = rows(api.inventory(inventory, options))
    if fmt == "json":
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return
    sys.stdout.write(render_table(listing))
