"""Where an Ansible host (or one of its variables) was written, for ``file:line`` in problems.

``ansible-inventory --list`` says which hosts exist but not where they came from, so this
scans the static files again, only for the few hosts that have a problem: the INI line or YAML
key declaring the host (``www[01:50]`` patterns expanded as Ansible does), and the line of a
variable in ``host_vars/HOST[.yml|.yaml|.json]`` beside the inventory. Best effort by design:
a dynamic inventory has no such line, and the caller then points at the ``[[sources]]`` entry.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterator, Sequence
from pathlib import Path

from pinmgr.model import Location

_RANGE_RE = re.compile(r"\[([^\]:]+):([^\]:]+)(?::(\d+))?\]")
_MAX_NAMES = 100_000
_MAX_BYTES = 4_000_000
_SKIPPED_DIRS = frozenset(("group_vars", "host_vars"))
_SKIPPED_SUFFIXES = frozenset((".orig", ".ini~", ".cfg", ".retry", ".pyc", ".pyo", ".md"))
_YAML_KEY_RE = re.compile(r"^(?P<indent>\s*)(?P<key>[^\s#:][^#]*?)\s*:(?:\s|$)")
_QUOTED_YAML_KEY_RE = re.compile(r"^(?P<indent>\s*)(?P<q>['\"])(?P<key>.*?)(?P=q)\s*:(?:\s|$)")


def _one_range(beg: str, end: str, stride: str | None) -> list[str] | None:
    """The names of one ``[beg:end:stride]`` range, as ``ansible.inventory.helpers`` makes them."""
    step = int(stride) if stride else 1
    if beg.isdigit() and end.isdigit():
        width = len(beg) if beg.startswith("0") and len(beg) > 1 else 0
        return [str(n).zfill(width) for n in range(int(beg), int(end) + 1, step)]
    letters = string.ascii_letters
    if len(beg) == 1 and len(end) == 1 and beg in letters and end in letters:
        span = letters[letters.index(beg) : letters.index(end) + 1]
        return list(span[::step])
    return None


def expand(pattern: str) -> set[str]:
    """Every host name a pattern stands for (``db-[a:c]`` -> db-a, db-b, db-c); capped."""
    parts: list[list[str]] = []
    pos = 0
    total = 1
    for match in _RANGE_RE.finditer(pattern):
        names = _one_range(*match.groups())
        if names is None:
            return {pattern}
        parts.append([pattern[pos : match.start()]])
        parts.append(names)
        total *= max(len(names), 1)
        if total > _MAX_NAMES:
            return set()
        pos = match.end()
    parts.append([pattern[pos:]])
    return {"".join(p) for p in itertools.product(*parts)}


def _strip_port(token: str) -> str:
    """``host:2222`` -> ``host``; IPv6 addresses (several colons) are left alone."""
    if token.count(":") == 1:
        name, _, port = token.partition(":")
        if port.isdigit():
            return name
    return token


def _files(inventory: Path) -> list[Path]:
    if inventory.is_file():
        return [inventory]
    if not inventory.is_dir():
        return []
    return [
        p
        for p in sorted(inventory.iterdir())
        if p.is_file()
        and not p.name.startswith(".")
        and p.suffix not in _SKIPPED_SUFFIXES
        and p.parent.name not in _SKIPPED_DIRS
    ]


def _read(path: Path) -> list[str] | None:
    try:
        if path.stat().st_size > _MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:1024] or data.startswith(b"#!"):
        return None  # a binary or an executable inventory script: no host lines in it
    return data.decode("utf-8", "replace").splitlines()


def _ini_hosts(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    """(line, col, host pattern) of every host line outside ``:vars`` / ``:children``."""
    hosts_section = True
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            hosts_section = ":" not in line or line.endswith(":hosts]")
            continue
        if hosts_section:
            token = line.split()[0]
            yield number, len(raw) - len(raw.lstrip()) + 1, _strip_port(token)


def _yaml_key(raw: str) -> tuple[int, str] | None:
    match = _QUOTED_YAML_KEY_RE.match(raw) or _YAML_KEY_RE.match(raw)
    return (len(match.group("indent")), match.group("key")) if match else None


def _yaml_hosts(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    """(line, col, host pattern) of every key directly under a ``hosts:`` key."""
    hosts_indent: int | None = None
    child_indent: int | None = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        found = _yaml_key(raw)
        indent = len(raw) - len(raw.lstrip())
        if hosts_indent is not None and indent <= hosts_indent:
            hosts_indent = child_indent = None
        if found is None:
            continue
        key_indent, key = found
        if hosts_indent is not None:
            if child_indent is None:
                child_indent = key_indent
            if key_indent == child_indent:
                yield number, key_indent + 1, _strip_port(key)
                continue
        if key == "hosts":
            hosts_indent, child_indent = key_indent, None


def host_index(inventory: str) -> dict[str, Location]:
    """Every host name the static files of ``inventory`` declare -> its first declaring line.

    Built once per source (ranges expanded once), so locating many hosts stays linear.
    """
    index: dict[str, Location] = {}
    if "," in inventory:
        return index
    for path in _files(Path(inventory)):
        lines = _read(path)
        if lines is None:
            continue
        is_yaml = path.suffix in (".yml", ".yaml") or (lines and lines[0].startswith("---"))
        found = _yaml_hosts(lines) if is_yaml else _ini_hosts(lines)
        for number, col, pattern in found:
            for name in expand(pattern) if "[" in pattern else (pattern,):
                index.setdefault(name, Location(str(path), number, col))
    return index


def host_location(inventory: str, host: str) -> Location | None:
    """The first line of ``inventory`` (a file or directory) that declares ``host``."""
    return host_index(inventory).get(host)


def _vars_files(directory: Path, name: str) -> list[Path]:
    """``host_vars/NAME`` / ``group_vars/NAME`` as Ansible finds them: a file or a directory."""
    if (directory / name).is_dir():
        return sorted(p for p in (directory / name).iterdir() if p.is_file())
    return [directory / f"{name}{ext}" for ext in ("", ".yml", ".yaml", ".json")]


def _key_re(var: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*['\"]?{re.escape(var)}['\"]?\s*[:=]")


def _line_setting(paths: list[Path], var: str) -> Location | None:
    key_re = _key_re(var)
    for path in paths:
        if not path.is_file():
            continue
        for number, line in enumerate(_read(path) or [], start=1):
            if key_re.match(line):
                return Location(str(path), number, len(line) - len(line.lstrip()) + 1)
    return None


def _base(inventory: str) -> Path:
    path = Path(inventory)
    return path if path.is_dir() else path.parent


def hosts_with_vars(inventory: str) -> frozenset[str]:
    """Hosts that have a ``host_vars/`` entry beside the inventory (one directory listing)."""
    if "," in inventory:
        return frozenset()
    try:
        names = [p.name for p in (_base(inventory) / "host_vars").iterdir()]
    except OSError:
        return frozenset()
    out = set(names)
    for name in names:
        for ext in (".yml", ".yaml", ".json"):
            if name.endswith(ext):
                out.add(name[: -len(ext)])
    return frozenset(out)


def var_location(inventory: str, host: str, var: str) -> Location | None:
    """The line setting ``var`` in ``host_vars/HOST`` beside the inventory (file or dir)."""
    if "," in inventory:
        return None
    return _line_setting(_vars_files(_base(inventory) / "host_vars", host), var)


def read_lines(path: str) -> list[str]:
    """The lines of a static inventory file; [] for a script, a binary or an unreadable file."""
    return _read(Path(path)) or []


def sets_inline(line: str, var: str) -> bool:
    """Whether an INI host line sets ``var`` itself (``host var=value``)."""
    return any(word.startswith(f"{var}=") for word in line.split()[1:])


def group_var_location(inventory: str, groups: Sequence[str], var: str) -> Location | None:
    """Where the nearest of ``groups`` sets ``var``: group_vars/GROUP, else ``[GROUP:vars]``."""
    if "," in inventory:
        return None
    files = [(path, _read(path)) for path in _files(Path(inventory))]
    key_re = _key_re(var)
    for group in groups:
        found = _line_setting(_vars_files(_base(inventory) / "group_vars", group), var)
        if found is not None:
            return found
        for path, lines in files:
            in_section = False
            for number, raw in enumerate(lines or [], start=1):
                line = raw.strip()
                if line.startswith("[") and line.endswith("]"):
                    in_section = line == f"[{group}:vars]"
                elif in_section and key_re.match(raw):
                    return Location(str(path), number, len(raw) - len(raw.lstrip()) + 1)
    return None
