"""Which kind of inventory ``-i PATH`` is, from its content: users pass the file they have.

A pinmgr TOML inventory, an Ansible inventory (INI, YAML, a directory, an executable script)
or an OpenSSH client config are all accepted as ``-i``. Anything that is not a native file is
turned into a native inventory with one ``[[sources]]`` entry, so the sources' own loaders do
the reading and every message they give names the detected kind (``InventoryKind.label``).
"""

from __future__ import annotations

import os
import re
from enum import Enum
from pathlib import Path

from pinmgr.errors import InventoryError
from pinmgr.inventory import native, textfile
from pinmgr.inventory.native import NativeInventory, SourceSpec, SourceType
from pinmgr.model import Location

ANSIBLE_DEFAULT_ENV = "ansible"
"""Environment of the hosts of an Ansible inventory given as ``-i`` that sit in no
environment group (``production``, ``staging``, ...; see ``ansible.KNOWN_ENVS``)."""
SSH_CONFIG_ENV = "ssh"
"""Environment of the hosts of an OpenSSH config given as ``-i``."""


class InventoryKind(str, Enum):
    NATIVE = "native"
    ANSIBLE_INI = "ansible-ini"
    ANSIBLE_YAML = "ansible-yaml"
    ANSIBLE_DIR = "ansible-dir"
    ANSIBLE_SCRIPT = "ansible-script"
    SSH_CONFIG = "ssh-config"

    @property
    def label(self) -> str:
        """How messages name the kind: ``Ansible inventory (INI)``."""
        return _LABELS[self]


_LABELS = {
    InventoryKind.NATIVE: "pinmgr TOML inventory",
    InventoryKind.ANSIBLE_INI: "Ansible inventory (INI)",
    InventoryKind.ANSIBLE_YAML: "Ansible inventory (YAML)",
    InventoryKind.ANSIBLE_DIR: "Ansible inventory (directory)",
    InventoryKind.ANSIBLE_SCRIPT: "Ansible inventory (script)",
    InventoryKind.SSH_CONFIG: "OpenSSH config",
}

# Keywords an OpenSSH client config starts with (ssh_config(5)); case-insensitive.
_SSH_FIRST = frozenset(
    (
        "host",
        "match",
        "include",
        "hostname",
        "user",
        "port",
        "identityfile",
        "proxyjump",
        "proxycommand",
        "stricthostkeychecking",
        "userknownhostsfile",
        "forwardagent",
        "serveraliveinterval",
        "controlmaster",
        "controlpath",
        "identitiesonly",
        "addkeystoagent",
    )
)
_SSH_LINE = re.compile(r"^([A-Za-z]+)(\s*=\s*|\s+)\S")
_NATIVE_LINE = re.compile(r"^(schema\s*=|\[\[?\s*(environments|sources)\b)")
_YAML_LINE = re.compile(r"^(---|[A-Za-z0-9_.-]+:(\s*#.*)?$|[A-Za-z0-9_.-]+:\s+\S)")
_TOML_KEY = re.compile(r"^(\S+\s*=|\[)")
_INI_HEADER = re.compile(r"^\[[^\]\s=]+\]\s*(;.*|#.*)?$")


def _significant_lines(text: str, limit: int = 20) -> list[str]:
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";")):
            out.append(line)
            if len(out) == limit:
                break
    return out


def kind_of_text(text: str) -> InventoryKind:
    """The inventory kind a file's text looks like (native when nothing else fits, so the
    TOML parser gives its own error)."""
    lines = _significant_lines(text)
    if not lines or _NATIVE_LINE.match(lines[0]):
        return InventoryKind.NATIVE
    first = lines[0]
    keyword = m.group(1).lower() if (m := _SSH_LINE.match(first)) is not None else ""
    if keyword in _SSH_FIRST and (
        keyword in ("host", "match") or all(_SSH_LINE.match(line) is not None for line in lines[:3])
    ):
        return InventoryKind.SSH_CONFIG
    if _YAML_LINE.match(first) and "=" not in first.split(":", 1)[0]:
        return InventoryKind.ANSIBLE_YAML
    if _INI_HEADER.match(first) and not _NATIVE_LINE.match(first):
        return InventoryKind.ANSIBLE_INI
    if not _TOML_KEY.match(first):
        # ``web1 ansible_host=10.0.0.5``: an INI host line before any group header.
        return InventoryKind.ANSIBLE_INI
    return InventoryKind.NATIVE


def kind_of(path: Path) -> tuple[InventoryKind, str | None]:
    """The kind of the inventory at ``path`` and, for a file, its text."""
    if path.is_dir():
        return InventoryKind.ANSIBLE_DIR, None
    if os.access(path, os.X_OK) and path.read_bytes()[:2] == b"#!":
        return InventoryKind.ANSIBLE_SCRIPT, None
    text = textfile.read(path, "inventory")
    kind = kind_of_text(text)
    if kind is not InventoryKind.NATIVE:
        try:  # valid TOML is the native kind, whatever its first line looks like
            native.read_toml(text, str(path))
        except InventoryError:
            return kind, text
    return InventoryKind.NATIVE, text


def load(path: str | Path) -> tuple[InventoryKind, NativeInventory]:
    """The inventory at ``path`` as a native one: itself, or one ``[[sources]]`` entry."""
    file = Path(path)
    kind, text = kind_of(file)
    if kind is InventoryKind.NATIVE:
        assert text is not None
        try:
            native.read_toml(text, str(file))
        except InventoryError as exc:
            raise InventoryError(
                f"read as a {kind.label}: {exc.message} (an Ansible inventory or an OpenSSH "
                "config is recognised by its first lines; this looks like neither)",
                exc.location,
            ) from exc
        return kind, native.parse(text, str(file), base_dir=file.resolve().parent)
    where = Location(str(file), 1)
    target = str(file.resolve())
    spec: SourceSpec
    if kind is InventoryKind.SSH_CONFIG:
        spec = SourceSpec(
            SourceType.SSH_CONFIG, where, target, env=SSH_CONFIG_ENV, roles=(("*", ()),)
        )
    else:
        spec = SourceSpec(SourceType.ANSIBLE, where, target, env=ANSIBLE_DEFAULT_ENV)
    return kind, NativeInventory(str(file), (), (spec,))
