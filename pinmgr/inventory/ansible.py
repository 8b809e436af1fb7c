"""Ansible inventories (static INI/YAML or dynamic) through ``ansible-inventory --list``.

Ansible itself evaluates the inventory (plugins, group_vars, scripts), so pinmgr sees exactly the
hosts and variables a playbook would. ``parse_list`` is pure (tested on captured JSON); ``run``
is a thin runner. How groups become environments and roles is documented in docs/inventory.md.
A host that cannot be placed is left out as a ``SourceProblem`` (the others still load),
located by ``ansible_lines`` in the static files where they tell.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pinmgr.errors import InventoryError
from pinmgr.inventory.ansible_lines import (
    group_var_location,
    host_index,
    hosts_with_vars,
    read_lines,
    sets_inline,
    var_location,
)
from pinmgr.inventory.result import SourceResult
from pinmgr.model import Host, Location, SourceProblem, TransportKind

KNOWN_ENVS = ("dev", "vagrant", "staging", "production", "prod", "test", "qa", "local")
"""Group names that mean an environment unless the caller passes more."""

NOT_ROLES = frozenset(("all", "ungrouped"))
EXECUTABLE = "ansible-inventory"
_LOCAL_CONNECTIONS = frozenset(("local",))
_SSH_CONNECTIONS = frozenset(("ssh", "paramiko", "smart", "ansible.builtin.ssh", "paramiko_ssh"))


def proxy_jump_from_args(args: str) -> str | None:
    """The ProxyJump in ssh arguments: ``-J x``, ``-Jx``, ``-o ProxyJump=x``, ``-oProxyJump x``.

    As ssh itself, the first proxy option wins (ProxyJump and ProxyCommand exclude each other);
    a ``ProxyCommand="ssh -W %h:%p HOST"`` counts as a jump through HOST, any other none.
    """
    try:
        words = shlex.split(args)
    except ValueError:
        return None
    i = 0
    while i < len(words):
        word = words[i]
        option: str | None = None
        if word == "-J" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("-J") and len(word) > 2:
            return word[2:]
        if word == "-o" and i + 1 < len(words):
            option, i = words[i + 1], i + 1
        elif word.startswith("-o") and len(word) > 2:
            option = word[2:]
        if option is not None:
            key, _, value = option.replace("=", " ", 1).partition(" ")
            if key.strip().lower() == "proxyjump" and value.strip():
                return value.strip()
            if key.strip().lower() == "proxycommand":
                return _jump_from_proxy_command(value.strip())
        i += 1
    return None


_SSH_OPTS_WITH_ARG = frozenset("BbcDEeFIiJLlmOopQRSWw")


def _jump_from_proxy_command(command: str) -> str | None:
    """``ssh -W %h:%p [-p P] [-l U] [U@]HOST`` (the pre-ProxyJump idiom) as a jump spec."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or Path(words[0]).name != "ssh" or "-W" not in words:
        return None
    user = port = host = None
    i = 1
    while i < len(words):
        word = words[i]
        if word.startswith("-") and len(word) >= 2:
            flag, attached = word[1], word[2:]
            if flag in _SSH_OPTS_WITH_ARG:
                value = attached or (words[i + 1] if i + 1 < len(words) else "")
                i += 0 if attached else 1
                if flag == "p":
                    port = value
                elif flag == "l":
                    user = value
        elif host is None:
            host = word
        i += 1
    if host is None:
        return None
    if user and "@" not in host:
        host = f"{user}@{host}"
    return f"{host}:{port}" if port else host


def _roles_var(value: Any) -> tuple[str, ...] | None:
    """``pinmgr_roles`` as a list or a comma-separated string; None if malformed."""
    if isinstance(value, str):
        return tuple(r.strip() for r in value.split(",") if r.strip()) or None
    if isinstance(value, list) and value and all(isinstance(r, str) and r.strip() for r in value):
        return tuple(r.strip() for r in value)
    return None


def _memberships(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Host -> every group it belongs to, directly or through child groups (in JSON order)."""
    parents: dict[str, list[str]] = {}
    for group, body in data.items():
        if group == "_meta" or not isinstance(body, Mapping):
            continue
        for child in body.get("children", []) or []:
            parents.setdefault(child, []).append(group)
    out: dict[str, list[str]] = {}
    for group, body in data.items():
        if group == "_meta" or not isinstance(body, Mapping):
            continue
        for host in body.get("hosts", []) or []:
            groups = out.setdefault(host, [])
            stack = [group]
            while stack:
                current = stack.pop()
                if current not in groups:
                    groups.append(current)
                    stack.extend(parents.get(current, []))
    return out


Locator = Callable[[str, str | None, Sequence[str]], Location | None]
"""(host, variable or None, the host's groups nearest first) -> where it was written, if known."""

_TEMPLATE_MARKS = ("{{", "{%")


def _template(value: Any) -> bool:
    """ansible-inventory --list prints variables untemplated: a Jinja value is not its value."""
    return isinstance(value, str) and any(mark in value for mark in _TEMPLATE_MARKS)


class _HostProblems:
    """The reasons one host cannot be placed, with the variable each is about (for locating)."""

    def __init__(self) -> None:
        self.reasons: list[tuple[str, str | None]] = []

    def add(self, message: str, var: str | None = None) -> None:
        self.reasons.append((message, var))

    def text(self, var: str, value: Any) -> str | None:
        """A string-like connection variable as text, or None after recording why not."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.add(f"{var} must be a string, not {value!r}", var)
            return None
        if _template(value):
            self.add(
                f"{var} {value!r} is a Jinja template, which pinmgr does not evaluate; "
                "write the value itself",
                var,
            )
            return None
        return str(value)


def _first_var(hostvars: Mapping[str, Any], *names: str) -> tuple[str, Any]:
    """(name, value) of the first variable set among ``names``; (names[0], None) if none is.

    Callers list names as Ansible's ssh plugin reads them, last first: when a host has both
    ``ansible_user`` and ``ansible_ssh_user``, Ansible connects as ``ansible_ssh_user``.
    """
    for name in names:
        if hostvars.get(name) not in (None, ""):
            return name, hostvars[name]
    return names[0], None


def _port(raw: Any, var: str, found: _HostProblems) -> int | None:
    if raw is None:
        return None
    if _template(raw):
        found.text(var, raw)
        return None
    port = -1
    if not isinstance(raw, bool):
        try:
            port = int(raw)
        except (TypeError, ValueError):
            port = -1
    if not 0 < port < 65536:
        found.add(f"{var} {raw!r} is not a port (1-65535)", var)
        return None
    return port


def _place(
    name: str,
    groups: Sequence[str],
    hostvars: Mapping[str, Any],
    env_groups: set[str],
    default_env: str | None,
    role_groups: Sequence[str] | None,
    base_dir: Path | None,
    source: Location,
    found: _HostProblems,
) -> Host | None:
    """The host, or None with every reason it cannot be placed recorded in ``found``."""
    envs_in = [g for g in groups if g in env_groups]
    env = hostvars.get("pinmgr_env")
    if env is not None and not (isinstance(env, str) and env.strip()):
        found.add(f"pinmgr_env must be a string, not {env!r}", "pinmgr_env")
    elif env is None and len(envs_in) > 1:
        found.add(f"in several environment groups ({', '.join(sorted(envs_in))}); set pinmgr_env")
    elif env is None:
        env = envs_in[0] if envs_in else default_env
        if env is None:
            found.add(
                "in no environment group "
                f"({', '.join(sorted(env_groups))}); set pinmgr_env or pinmgr_skip"
            )

    if "pinmgr_roles" in hostvars:
        roles = _roles_var(hostvars["pinmgr_roles"])
        if roles is None:
            found.add("pinmgr_roles must be a list or a comma-separated string", "pinmgr_roles")
    else:
        roles = tuple(
            g
            for g in groups
            if g not in NOT_ROLES
            and g not in env_groups
            and (role_groups is None or g in role_groups)
        )
        if not roles:
            found.add("in no role group; put it in one or set pinmgr_roles")

    connection = str(hostvars.get("ansible_connection") or "ssh")
    transport = TransportKind.SSH
    if connection in _LOCAL_CONNECTIONS:
        transport = TransportKind.LOCAL
    elif connection not in _SSH_CONNECTIONS:
        found.add(
            f"connection {connection!r} is not supported (local or ssh); "
            "set pinmgr_skip to leave it out",
            "ansible_connection",
        )
    local = transport is TransportKind.LOCAL

    address = user = key = jump = None
    port: int | None = None
    if not local:
        address = found.text(*_first_var(hostvars, "ansible_ssh_host", "ansible_host"))
        user = found.text(*_first_var(hostvars, "ansible_ssh_user", "ansible_user"))
        port_var, raw_port = _first_var(hostvars, "ansible_ssh_port", "ansible_port")
        port = _port(raw_port, port_var, found)
        key = found.text(
            *_first_var(hostvars, "ansible_ssh_private_key_file", "ansible_private_key_file")
        )
        if key is not None:
            path = Path(key).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            key = str(path)
        # Ansible passes common args before extra args, and ssh keeps the first proxy option.
        args = [hostvars.get(v) for v in ("ansible_ssh_common_args", "ansible_ssh_extra_args")]
        jump = proxy_jump_from_args(" ".join(a for a in args if isinstance(a, str)))
        if jump is not None and _template(jump):
            found.text("ansible_ssh_common_args", jump)
            jump = None
    pip = _roles_var(hostvars["pinmgr_pip"]) if "pinmgr_pip" in hostvars else ()
    if pip is None:
        found.add("pinmgr_pip must be a list or a comma-separated string", "pinmgr_pip")

    if found.reasons or env is None or not roles:
        return None
    return Host(
        name=name,
        env=env,
        roles=roles,
        transport=transport,
        address=address,
        user=user,
        port=port,
        key_file=key,
        proxy_jump=jump,
        pip=pip or (),
        source=source,
    )


def parse_list(
    data: Mapping[str, Any],
    *,
    source: Location,
    env_names: Iterable[str] = (),
    default_env: str | None = None,
    role_groups: Sequence[str] | None = None,
    base_dir: Path | None = None,
    locate: Locator | None = None,
) -> SourceResult:
    """Hosts from ``ansible-inventory --list`` JSON, and one problem per host left out.

    Environment: host var ``pinmgr_env``, else the one group named like an environment
    (``KNOWN_ENVS`` plus ``env_names``), else ``default_env``. Roles: ``pinmgr_roles``, else
    every other group the host is in (except all/ungrouped), restricted to ``role_groups`` if
    given. ``pinmgr_skip`` leaves a host out. Connection from the usual ``ansible_*`` vars.
    A host that cannot be placed is a ``SourceProblem`` (every reason, one line), located by
    ``locate`` when it can, else at ``source``; the other hosts are still returned.
    """
    env_groups = set(KNOWN_ENVS) | set(env_names)
    meta = data.get("_meta", {})
    all_vars = meta.get("hostvars", {}) if isinstance(meta, Mapping) else {}
    problems: list[SourceProblem] = []
    hosts: list[Host] = []
    for name, groups in sorted(_memberships(data).items()):
        hostvars: Mapping[str, Any] = all_vars.get(name, {}) or {}
        if not isinstance(hostvars, Mapping):
            hostvars = {}
        if hostvars.get("pinmgr_skip") in (True, "true", "True", "yes", "1"):
            continue
        found = _HostProblems()
        host = _place(
            name, groups, hostvars, env_groups, default_env, role_groups, base_dir, source, found
        )
        if host is not None:
            hosts.append(host)
            continue
        where = None
        if locate is not None:
            where = locate(name, found.reasons[0][1], groups) if found.reasons else None
        reasons = "; ".join(message for message, _ in found.reasons) or "cannot be placed"
        problems.append(SourceProblem(name, f"ansible host {name!r}: {reasons}", where or source))
    return SourceResult(tuple(hosts), tuple(problems))


def locator(inventory: str) -> Locator:
    """Where a host of ``inventory``, or the variable that is wrong, was written.

    A variable: its line in host_vars/HOST, else the host's own INI line if it is set there,
    else in group_vars/GROUP or ``[GROUP:vars]`` of the nearest group setting it; otherwise,
    and for problems about no variable, the line declaring the host. The static files are
    read and indexed once, and a group variable looked up once, however many hosts it breaks.
    """
    index: dict[str, Location] | None = None
    with_vars: frozenset[str] | None = None
    lines: dict[str, list[str]] = {}
    by_groups: dict[tuple[tuple[str, ...], str], Location | None] = {}

    def locate(host: str, var: str | None, groups: Sequence[str]) -> Location | None:
        nonlocal index, with_vars
        if index is None or with_vars is None:
            index, with_vars = host_index(inventory), hosts_with_vars(inventory)
        if var is not None and host in with_vars:
            found = var_location(inventory, host, var)
            if found is not None:
                return found
        line = index.get(host)
        if var is None:
            return line
        if line is not None:
            if line.file not in lines:
                lines[line.file] = read_lines(line.file)
            text = lines[line.file]
            if 0 < line.line <= len(text) and sets_inline(text[line.line - 1], var):
                return line
        key = (tuple(groups), var)
        if key not in by_groups:
            by_groups[key] = group_var_location(inventory, groups, var)
        return by_groups[key] or line

    return locate


def find_executable() -> str | None:
    """``ansible-inventory`` on PATH, else beside this Python (a virtualenv not on PATH)."""
    found = shutil.which(EXECUTABLE)
    if found:
        return found
    beside = Path(sys.executable).parent / EXECUTABLE
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def run(
    inventory: str,
    *,
    source: Location,
    timeout: float = 120.0,
    executable: str | None = None,
) -> dict[str, Any]:
    """Run ``ansible-inventory -i INVENTORY --list`` (argv, no shell) and return its JSON."""
    exe = executable or find_executable()
    if exe is None:
        raise InventoryError(
            f"{EXECUTABLE} not found: install ansible-core to read Ansible inventories "
            "(pip install 'pinmgr[ansible]', or scripts/install.sh --with-ansible)",
            source,
        )
    if "," not in inventory and not Path(inventory).exists():
        raise InventoryError(f"ansible inventory {inventory!r} does not exist", source)
    env = {
        **os.environ,
        # An inventory Ansible cannot parse must fail, not turn into an empty one.
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
    }
    target = inventory if "," in inventory else str(Path(inventory).resolve())
    argv = [exe, "-i", target, "--list"]
    cwd = _base_dir(inventory)
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as exc:
        raise InventoryError(f"{exe} not found: install ansible-core", source) from exc
    except subprocess.TimeoutExpired as exc:
        raise InventoryError(
            f"{EXECUTABLE} -i {inventory} timed out after {timeout:g}s", source
        ) from exc
    if done.returncode != 0:
        raise InventoryError(
            f"{EXECUTABLE} -i {inventory} failed (exit {done.returncode}): "
            f"{_last_line(done.stderr) or 'no error output'}",
            source,
        )
    try:
        data = json.loads(done.stdout)
    except ValueError as exc:
        raise InventoryError(f"{EXECUTABLE} printed no JSON: {exc}", source) from exc
    if not isinstance(data, dict):
        raise InventoryError(f"{EXECUTABLE} printed JSON that is not an object", source)
    return data


def _base_dir(inventory: str) -> Path | None:
    """Directory relative key paths are taken from: the inventory's (None for a host list)."""
    if "," in inventory:
        return None
    path = Path(inventory).resolve()
    return path if path.is_dir() else path.parent


def _last_line(output: bytes) -> str:
    lines = [ln.strip() for ln in output.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def load(
    inventory: str,
    *,
    source: Location,
    env_names: Iterable[str] = (),
    default_env: str | None = None,
    role_groups: Sequence[str] | None = None,
    executable: str | None = None,
) -> SourceResult:
    """Run ``ansible-inventory`` on ``inventory`` and map its hosts (see ``parse_list``)."""
    data = run(inventory, source=source, executable=executable)
    return parse_list(
        data,
        source=source,
        env_names=env_names,
        default_env=default_env,
        role_groups=role_groups,
        base_dir=_base_dir(inventory),
        locate=locator(inventory),
    )
