"""Vagrant machines through ``vagrant ssh-config`` (run in the Vagrantfile's directory).

Vagrant prints OpenSSH config, so paramiko parses it and ``ssh_config.resolve`` reads it the same
way as a user's config. Vagrant's ``UserKnownHostsFile /dev/null`` and
``StrictHostKeyChecking no`` are deliberately never read: pinmgr still checks host keys (a new
VM's key is taken with ``--accept-new``, then pinned like any other).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pinmgr.errors import InventoryError
from pinmgr.inventory import ssh_config
from pinmgr.inventory.result import SourceResult
from pinmgr.model import Host, Location, SourceProblem

EXECUTABLE = "vagrant"
DEFAULT_ENV = "vagrant"
RoleMap = Sequence[tuple[str, tuple[str, ...]]]


def roles_for(machine: str, roles: RoleMap, default_roles: Sequence[str]) -> tuple[str, ...]:
    """Roles of the first pattern matching ``machine``; ``default_roles`` when no map is given."""
    if not roles:
        return tuple(default_roles)
    for pattern, found in roles:
        if fnmatch.fnmatchcase(machine, pattern):
            return found
    return ()


def parse_ssh_config(
    text: str,
    *,
    source: Location,
    env: str = DEFAULT_ENV,
    roles: RoleMap = (),
    default_roles: Sequence[str] = ("app",),
) -> SourceResult:
    """Hosts (one per machine, sorted by name) from ``vagrant ssh-config`` output.

    A machine that matches no ``roles`` entry, or whose config does not resolve (a bad Port),
    is a per-host problem located at the ``[[sources]]`` entry; the other machines still load.
    Output that does not parse, or lists no machine at all, fails the source.
    """
    # Vagrant's own UI lines ("==> default: ...") are not config; everything else is.
    kept = "\n".join(ln for ln in text.splitlines() if not ln.startswith("==> "))
    cfg = ssh_config.from_text(kept, source, "`vagrant ssh-config` output")
    problems: list[SourceProblem] = []
    hosts: list[Host] = []
    machines = ssh_config.concrete_hosts(cfg)
    if not machines:
        raise InventoryError("`vagrant ssh-config` listed no machine", source)
    for machine in machines:
        found = roles_for(machine, roles, default_roles)
        if not found:
            problems.append(
                SourceProblem(
                    machine,
                    f"vagrant machine {machine!r} matches no entry of roles "
                    '(add it, or a "*" entry)',
                    source,
                )
            )
            continue
        try:
            hosts.append(ssh_config.resolve(Host(machine, env, found, source=source), cfg))
        except InventoryError as exc:
            problems.append(
                SourceProblem(machine, f"vagrant machine {machine!r}: {exc.message}", source)
            )
    return SourceResult(tuple(hosts), tuple(problems))


def run(
    directory: str | Path,
    *,
    source: Location,
    timeout: float = 120.0,
    executable: str | None = None,
) -> str:
    """Output of ``vagrant ssh-config`` run in ``directory`` (argv, no shell)."""
    exe = executable or shutil.which(EXECUTABLE)
    if exe is None:
        raise InventoryError(
            f"{EXECUTABLE} not found: install Vagrant to read its machines", source
        )
    if not Path(directory).is_dir():
        raise InventoryError(f"vagrant dir {str(directory)!r} is not a directory", source)
    env = {**os.environ, "VAGRANT_NO_COLOR": "1", "VAGRANT_CHECKPOINT_DISABLE": "1"}
    try:
        done = subprocess.run(
            [exe, "ssh-config"],
            cwd=directory,
            capture_output=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as exc:
        raise InventoryError(f"{exe} not found: install Vagrant", source) from exc
    except subprocess.TimeoutExpired as exc:
        raise InventoryError(f"vagrant ssh-config timed out after {timeout:g}s", source) from exc
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.decode("utf-8", "replace").splitlines()]
        last = next((ln for ln in reversed(lines) if ln), "no error output")
        raise InventoryError(f"vagrant ssh-config failed (exit {done.returncode}): {last}", source)
    return done.stdout.decode("utf-8", "replace")


def load(
    directory: str | Path,
    *,
    source: Location,
    env: str = DEFAULT_ENV,
    roles: RoleMap = (),
    default_roles: Sequence[str] = ("app",),
    executable: str | None = None,
) -> SourceResult:
    """Machines of the Vagrant project in ``directory`` as hosts of ``env``."""
    text = run(directory, source=source, executable=executable)
    return parse_ssh_config(text, source=source, env=env, roles=roles, default_roles=default_roles)
