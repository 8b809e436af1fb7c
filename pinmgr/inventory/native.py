"""pinmgr's own inventory file (TOML, schema 1): environments, hosts, and other sources to merge.

Parsing collects every problem (with ``file:line:col``) before raising, so one run of
``pinmgr validate`` shows them all. Sources are only described here; running them is the job of
the ansible / vagrant / ssh_config modules, wired together in ``pinmgr.inventory``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pinmgr.errors import InventoryError, PinmgrError
from pinmgr.inventory import textfile
from pinmgr.inventory._locate import Locations, locate
from pinmgr.model import Environment, Host, Location, TransportKind, assert_never

SCHEMA = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]*$")
# Connection settings an environment may set once for all its hosts.
_INHERITED = ("transport", "user", "port", "key", "proxy_jump", "roles", "pip")
_HOST_KEYS = frozenset((*_INHERITED, "address", "path"))
_ENV_KEYS = frozenset((*_INHERITED, "hosts"))
_SSH_ONLY = ("address", "user", "port", "key", "proxy_jump")


class SourceType(str, Enum):
    ANSIBLE = "ansible"
    VAGRANT = "vagrant"
    SSH_CONFIG = "ssh_config"


_SOURCE_KEYS: dict[SourceType, frozenset[str]] = {
    SourceType.ANSIBLE: frozenset(("type", "inventory", "env", "envs", "role_groups")),
    SourceType.VAGRANT: frozenset(("type", "dir", "env", "roles")),
    SourceType.SSH_CONFIG: frozenset(("type", "path", "env", "hosts")),
}


@dataclass(frozen=True)
class SourceSpec:
    """One ``[[sources]]`` entry, paths already resolved against the inventory's directory."""

    type: SourceType
    location: Location
    # ansible: the -i argument; vagrant: the directory; ssh_config: the config file.
    target: str
    # Environment of the hosts (vagrant, ssh_config), or the fallback one (ansible).
    env: str | None = None
    # ansible: extra group names that mean an environment.
    envs: tuple[str, ...] = ()
    # vagrant machine / ssh Host pattern -> roles, in written order (first match wins).
    roles: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # ansible: only these groups give roles (None: every non-environment group).
    role_groups: tuple[str, ...] | None = None


@dataclass(frozen=True)
class NativeInventory:
    path: str
    environments: tuple[Environment, ...]
    sources: tuple[SourceSpec, ...]


def resolve_path(value: str, base_dir: Path) -> str:
    """``~`` expanded, relative paths taken from the inventory file's directory."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


class _Checker:
    """Collects problems; each ``want_*`` returns the value or None after recording why not."""

    def __init__(self, where: Locations) -> None:
        self.where = where
        self.problems: list[PinmgrError] = []

    def problem(self, message: str, *path: str | int) -> None:
        self.problems.append(InventoryError(message, self.where.at(*path)))

    def unknown_keys(
        self, table: Mapping[str, Any], allowed: frozenset[str], *path: str | int
    ) -> None:
        for key in table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.problem(f"unknown key {key!r} (known: {known})", *path, key)

    def want_table(self, value: Any, what: str, *path: str | int) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.problem(f"{what} must be a table, not {_kind(value)}", *path)
        return None

    def want_str(self, value: Any, what: str, *path: str | int) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        self.problem(f"{what} must be a non-empty string, not {_kind(value)}", *path)
        return None

    def want_name(self, value: str, what: str, *path: str | int) -> bool:
        if _NAME_RE.match(value):
            return True
        self.problem(f"invalid {what} name {value!r} (letters, digits, _ . @ : -)", *path)
        return False

    def want_str_list(self, value: Any, what: str, *path: str | int) -> tuple[str, ...] | None:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
            return tuple(value)
        self.problem(f"{what} must be a list of non-empty strings", *path)
        return None

    def want_port(self, value: Any, *path: str | int) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
            return value
        self.problem(f"port must be an integer 1-65535, not {value!r}", *path)
        return None

    def want_roles_map(
        self, value: Any, what: str, *path: str | int
    ) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
        table = self.want_table(value, what, *path)
        if table is None:
            return None
        out = []
        for pattern, roles in table.items():
            found = self.want_str_list(roles, f"{what}[{pattern!r}]", *path, pattern)
            if found is not None:
                out.append((pattern, found))
        return tuple(out)


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def parse(text: str, file: str, *, base_dir: Path | None = None) -> NativeInventory:
    """Parse inventory text; raise one ``InventoryError`` holding every problem found."""
    base = base_dir if base_dir is not None else Path(file).parent
    doc = read_toml(text, file)
    check = _Checker(locate(text, file))
    # [settings] is read by pinmgr.settings (shared defaults of the commands, not hosts).
    check.unknown_keys(doc, frozenset(("schema", "environments", "sources", "settings")))
    schema = doc.get("schema")
    if schema is None:
        check.problem(f"missing 'schema = {SCHEMA}'")
    elif schema != SCHEMA:
        check.problem(f"unsupported schema {schema!r}; this pinmgr reads schema {SCHEMA}", "schema")

    environments: list[Environment] = []
    envs = check.want_table(doc.get("environments", {}), "environments", "environments") or {}
    for env_name, env_value in envs.items():
        where = ("environments", env_name)
        if not check.want_name(env_name, "environment", *where):
            continue
        env = check.want_table(env_value, f"environment {env_name!r}", *where)
        if env is None:
            continue
        check.unknown_keys(env, _ENV_KEYS, *where)
        defaults = _fields(check, {k: env[k] for k in _INHERITED if k in env}, *where)
        hosts_table = check.want_table(env.get("hosts", {}), "hosts", *where, "hosts") or {}
        hosts = []
        for host_name, host_value in hosts_table.items():
            host = _parse_host(check, env_name, host_name, host_value, defaults, base)
            if host is not None:
                hosts.append(host)
        environments.append(Environment(env_name, tuple(hosts)))

    sources: list[SourceSpec] = []
    raw_sources = doc.get("sources", [])
    if not isinstance(raw_sources, list):
        check.problem("sources must be an array of tables ([[sources]])", "sources")
        raw_sources = []
    for index, raw in enumerate(raw_sources):
        spec = _parse_source(check, index, raw, base)
        if spec is not None:
            sources.append(spec)

    if check.problems:
        problems = sorted(check.problems, key=lambda p: p.location or Location(file, 0))
        raise InventoryError(problems[0].message, problems[0].location, tuple(problems))
    return NativeInventory(file, tuple(environments), tuple(sources))


# The inventory is only read, never edited, so the standard library's parser does (about ten
# times faster than tomlkit: ~15 ms of a 50-host check's start-up, before any connection).
if sys.version_info >= (3, 11):
    import tomllib

    _AT = re.compile(r" \(at line (\d+), column (\d+)\)$")

    def read_toml(text: str, file: str) -> dict[str, Any]:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            if (m := _AT.search(message)) is not None:
                where = Location(file, int(m.group(1)), int(m.group(2)))
                message = message[: m.start()]
            else:  # "(at end of document)"
                where = Location(file, text.count("\n") + 1)
                message = message.split(" (at ", 1)[0]
            raise InventoryError(message, where) from exc

else:  # Python 3.10: no tomllib
    import tomlkit
    from tomlkit.exceptions import ParseError

    def read_toml(text: str, file: str) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = tomlkit.parse(text).unwrap()
        except ParseError as exc:
            message = str(exc).split(" at line ", 1)[0]
            raise InventoryError(message, Location(file, exc.line, exc.col)) from exc
        return doc


def _fields(check: _Checker, table: Mapping[str, Any], *where: str | int) -> dict[str, Any]:
    """Validated connection fields written in one table (an environment's or a host's)."""
    out: dict[str, Any] = {}
    if "transport" in table:
        try:
            out["transport"] = TransportKind(table["transport"])
        except ValueError:
            check.problem(
                "transport must be one of "
                + ", ".join(repr(t.value) for t in TransportKind)
                + f", not {table['transport']!r}",
                *where,
                "transport",
            )
    for key in ("address", "user", "key", "proxy_jump", "path"):
        if key in table:
            value = check.want_str(table[key], key, *where, key)
            if value is not None:
                out[key] = value
    if "port" in table:
        port = check.want_port(table["port"], *where, "port")
        if port is not None:
            out["port"] = port
    for key in ("roles", "pip"):
        if key in table:
            values = check.want_str_list(table[key], key, *where, key)
            if values is not None:
                out[key] = values
    return out


def _parse_host(
    check: _Checker,
    env: str,
    name: str,
    value: Any,
    defaults: Mapping[str, Any],
    base: Path,
) -> Host | None:
    where = ("environments", env, "hosts", name)
    ok = check.want_name(name, "host", *where)
    table = check.want_table(value, f"host {name!r}", *where)
    if table is None:
        return None
    before = len(check.problems)
    check.unknown_keys(table, _HOST_KEYS, *where)
    own = _fields(check, table, *where)
    merged = {**defaults, **own}
    transport: TransportKind = merged.get("transport", TransportKind.SSH)
    if transport is TransportKind.LOCAL:
        for key in _SSH_ONLY:
            if key in own:
                check.problem(
                    f"{key!r} makes no sense for a host with transport 'local'", *where, key
                )
        # Inherited SSH settings do not apply to this machine.
        merged = {k: v for k, v in merged.items() if k not in _SSH_ONLY}
    if transport.is_offline:
        for key in _SSH_ONLY:
            if key in own:
                check.problem(
                    f"{key!r} makes no sense for a host with transport {transport.value!r}",
                    *where,
                    key,
                )
        merged = {k: v for k, v in merged.items() if k not in _SSH_ONLY}
        if "path" not in own:
            what = "image file or directory" if transport is TransportKind.IMAGE else "root dir"
            check.problem(f"host {name!r} needs path = <{what}>", *where)
    elif "path" in own:
        check.problem(
            f"'path' is for hosts with transport 'image' or 'rootfs', not {transport.value!r}",
            *where,
            "path",
        )
    roles: tuple[str, ...] = merged.get("roles", ())
    if not roles and "roles" not in table:
        check.problem(f'host {name!r} has no roles (give it roles = ["app"])', *where)
    elif not roles:
        check.problem(f"host {name!r} has an empty roles list", *where, "roles")
    if not ok or len(check.problems) > before:
        return None
    key_file = merged.get("key")
    return Host(
        name=name,
        env=env,
        roles=roles,
        transport=transport,
        address=merged.get("address"),
        user=merged.get("user"),
        port=merged.get("port"),
        key_file=resolve_path(key_file, base) if key_file else None,
        proxy_jump=merged.get("proxy_jump"),
        pip=merged.get("pip", ()),
        source=check.where.at(*where),
        path=resolve_path(merged["path"], base) if merged.get("path") else None,
    )


def _parse_source(check: _Checker, index: int, raw: Any, base: Path) -> SourceSpec | None:
    where = ("sources", index)
    table = check.want_table(raw, "a [[sources]] entry", *where)
    if table is None:
        return None
    before = len(check.problems)
    raw_type = table.get("type")
    try:
        kind = SourceType(raw_type)
    except ValueError:
        known = ", ".join(t.value for t in SourceType)
        check.problem(f"source type must be one of {known}, not {raw_type!r}", *where, "type")
        return None
    check.unknown_keys(table, _SOURCE_KEYS[kind], *where)
    env = check.want_str(table["env"], "env", *where, "env") if "env" in table else None
    if env is not None:
        check.want_name(env, "environment", *where, "env")
    location = check.where.at(*where)
    spec: SourceSpec | None = None
    if kind is SourceType.ANSIBLE:
        target = check.want_str(table.get("inventory"), "inventory", *where, "inventory")
        envs = check.want_str_list(table.get("envs", []), "envs", *where, "envs")
        role_groups = None
        if "role_groups" in table:
            role_groups = check.want_str_list(
                table["role_groups"], "role_groups", *where, "role_groups"
            )
        if target is not None and envs is not None:
            # "-i web1,web2," is a host list, not a path.
            target = target if "," in target else resolve_path(target, base)
            spec = SourceSpec(kind, location, target, env=env, envs=envs, role_groups=role_groups)
    elif kind is SourceType.VAGRANT:
        directory = check.want_str(table.get("dir", "."), "dir", *where, "dir")
        roles = check.want_roles_map(table.get("roles", {}), "roles", *where, "roles")
        if directory is not None and roles is not None:
            target = resolve_path(directory, base)
            spec = SourceSpec(kind, location, target, env=env or "vagrant", roles=roles)
    elif kind is SourceType.SSH_CONFIG:
        path = check.want_str(table.get("path", "~/.ssh/config"), "path", *where, "path")
        if "env" not in table:
            check.problem('an ssh_config source needs env = "..."', *where)
        if "hosts" not in table:
            check.problem('an ssh_config source needs hosts = { "pattern" = "role" }', *where)
        roles = check.want_roles_map(table.get("hosts", {}), "hosts", *where, "hosts")
        if path is not None and roles is not None and env is not None:
            spec = SourceSpec(kind, location, resolve_path(path, base), env=env, roles=roles)
    else:  # pragma: no cover - exhaustive over SourceType
        assert_never(kind)
    return spec if len(check.problems) == before else None


def load(path: str | Path) -> NativeInventory:
    """Read and parse the inventory file at ``path``."""
    file = Path(path)
    return parse(textfile.read(file, "inventory"), str(file), base_dir=file.resolve().parent)
