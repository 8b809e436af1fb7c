"""What a team shares about how pinmgr runs: the ``[settings]`` table of the inventory.

Jobs, timeouts, the project known_hosts, ``--fail-on``, the default environments, report
files and the history store belong in the repository next to the pins, not in each CI job's
command line. One place, read before any command runs, in this order (first wins):

    command-line flag  >  PINMGR_* environment variable  >  [settings]  >  built-in default

The CLI gets this order from click itself: settings become the commands' ``default_map``,
which click consults after the command line and the option's environment variable. Every
key maps to the command options of the same meaning; a command without that option ignores
the key. Docs: docs/settings.md.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pinmgr.diff.exitcode import FailOn
from pinmgr.errors import InventoryError, PinmgrError
from pinmgr.model import Location

TABLE = "settings"
MAX_JOBS = 512


@dataclass(frozen=True)
class Key:
    """One setting: the variable of the options it sets, and what it holds.

    A setting reaches exactly the options that read its variable (``envvar=`` in the CLI):
    ``check --output`` (reports, PINMGR_OUTPUT) and ``collect --output`` (a snapshot, no
    variable) share a flag, not a meaning.
    """

    envvar: str
    what: str


KEYS: dict[str, Key] = {
    "jobs": Key("PINMGR_JOBS", f"hosts collected in parallel, 1-{MAX_JOBS}"),
    "timeout": Key("PINMGR_TIMEOUT", "seconds per host to run the probe, above 0"),
    "connect_timeout": Key("PINMGR_CONNECT_TIMEOUT", "seconds to connect to a host, above 0"),
    "known_hosts": Key("PINMGR_KNOWN_HOSTS", "project known_hosts file, relative to the inventory"),
    "fail_on": Key("PINMGR_FAIL_ON", "one of " + ", ".join(f.value for f in FailOn)),
    "envs": Key("PINMGR_ENV", 'a list of environment names, like ["staging"]'),
    "outputs": Key("PINMGR_OUTPUT", 'a list of FORMAT=PATH, like ["junit=pinmgr.xml"]'),
    "history": Key("PINMGR_HISTORY", "a URL (sqlite:///pinmgr-history.db, postgresql://...)"),
}
VARIABLES = frozenset(k.envvar for k in KEYS.values())


@dataclass(frozen=True)
class Settings:
    """The ``[settings]`` of one inventory file; ``values`` holds only the keys it sets."""

    path: str
    values: Mapping[str, Any]

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def history_url(self) -> str | None:
        """The shared history store, for ``--history`` / ``--no-history`` to override."""
        url = self.values.get("history")
        return url if isinstance(url, str) else None

    def defaults(self, variables: Mapping[str, str]) -> dict[str, Any]:
        """The defaults these settings give one command: ``{"jobs": 8}``.

        ``variables`` maps the command's parameter names to the variable each reads
        (``{"jobs": "PINMGR_JOBS"}``): a key reaches only the options of its variable.
        """
        by_variable = {KEYS[k].envvar: v for k, v in self.values.items()}
        return {name: by_variable[var] for name, var in variables.items() if var in by_variable}


EMPTY = Settings("", {})


def _positive(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _jobs(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_JOBS:
        return value
    return None


def _fail_on(value: Any) -> str | None:
    return value if isinstance(value, str) and value in {f.value for f in FailOn} else None


def _names(value: Any) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return list(value)
    return None


def _outputs(value: Any) -> list[str] | None:
    names = _names(value)
    if names is None or not all(re.fullmatch(r"[A-Za-z]+=.+", v) for v in names):
        return None
    return names


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and re.match(r"[a-z][a-z0-9+.-]*://", value) else None


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "jobs": _jobs,
    "timeout": _positive,
    "connect_timeout": _positive,
    "known_hosts": lambda v: v if isinstance(v, str) and v.strip() else None,
    "fail_on": _fail_on,
    "envs": _names,
    "outputs": _outputs,
    "history": _url,
}


def _line_of(text: str, key: str | None) -> int:
    """The line of ``key =`` inside ``[settings]`` (or of the header): for the error message."""
    lines = text.splitlines()
    header = next(
        (i for i, line in enumerate(lines) if re.match(rf"\s*\[\s*{TABLE}\s*\]", line)), None
    )
    if header is None:
        return 1
    if key is None:
        return header + 1
    for i in range(header + 1, len(lines)):
        if re.match(r"\s*\[", lines[i]):
            break
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return header + 1


def parse(text: str, path: str) -> tuple[Settings, list[PinmgrError]]:
    """The settings of inventory ``text`` and every problem in them (all, not the first)."""
    doc = _load_toml(text)
    raw = doc.get(TABLE) if doc is not None else None
    if raw is None:
        return Settings(path, {}), []
    problems: list[PinmgrError] = []

    def problem(key: str | None, message: str) -> None:
        problems.append(InventoryError(message, Location(path, _line_of(text, key))))

    if not isinstance(raw, dict):
        problem(None, f"[{TABLE}] must be a table")
        return Settings(path, {}), problems
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in KEYS:
            problem(key, f"unknown setting {key!r} (known: {', '.join(KEYS)})")
            continue
        parsed = _PARSERS[key](value)
        if parsed is None:
            problem(key, f"setting {key} = {value!r}: expected {KEYS[key].what}")
            continue
        if key == "known_hosts":
            base = Path(path).parent
            parsed = str(Path(parsed).expanduser() if parsed.startswith("~") else base / parsed)
        values[key] = parsed
    return Settings(path, values), problems


def read(path: str | Path) -> Settings:
    """The settings of the inventory at ``path``; none when the file is absent or unreadable
    (loading the inventory itself says why). Raises ``InventoryError`` for bad settings."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Settings(str(path), {})
    settings, problems = parse(text, str(path))
    if problems:
        first = problems[0]
        raise InventoryError(first.message, first.location, tuple(problems))
    return settings


def problems(path: str | Path) -> list[PinmgrError]:
    """Every problem of the ``[settings]`` table (for ``pinmgr validate``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    return parse(text, str(path))[1]


def _load_toml(text: str) -> dict[str, Any] | None:
    """The document, or None if it is not TOML (the inventory loader reports that)."""
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None
    import tomlkit

    try:
        doc: dict[str, Any] = tomlkit.parse(text).unwrap()
    except Exception:  # tomlkit raises several kinds: any means "not TOML"
        return None
    return doc
