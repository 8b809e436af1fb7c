"""Read a schema-1 lockfile into ``model.Lockfile``, reporting every problem at once.

A lockfile is edited by hand and reviewed in pull requests, so ``pinmgr validate`` must list all
mistakes with ``file:line:col`` in one run instead of making the user fix them one at a time.
A valid file is parsed by the standard library's ``tomllib`` (Python 3.11+; read-only checks
need no round-trip parser, and it is ~10x faster than tomlkit); a file it rejects is parsed again
by tomlkit (the parser the format-preserving editor uses), whose errors are the ones reported, so
the messages do not depend on the Python version. Positions come from ``positions.scan``,
versions are checked by ``pinmgr.versions.policy``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from pinmgr import versions
from pinmgr.errors import LockfileError, VersionError
from pinmgr.lockfile.positions import KeyPath, Positions, scan
from pinmgr.model import SHARED_ROLE, AppPin, AppSource, Ecosystem, Location, Lockfile, Pin, Waiver
from pinmgr.versions.names import name_problem
from pinmgr.versions.policy import parse_policy
from pinmgr.versions.text import MAX_NAME_CHARS, problem, shown

if TYPE_CHECKING:
    from tomlkit.exceptions import ParseError

SCHEMA_VERSION = 1
TOP_LEVEL_KEYS = ("schema", "shared", "roles", "waivers")
WAIVER_KEYS = ("package", "ecosystem", "role", "env", "host", "reason", "expires")
ECOSYSTEMS = tuple(e.value for e in Ecosystem if e is not Ecosystem.APP)  # apps: own table
APP_KEYS = ("path", "source", "revision", "same", "file", "package")

# ID-VERSION_ID from /etc/os-release: both lowercase; VERSION_ID starts with a digit.
OS_RELEASE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*-[0-9][a-z0-9._]*$")
ROLE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_WAIVER_REASON_CHARS = 2000
_PARSE_POS_RE = re.compile(r" at line \d+ col \d+$")


def load(path: str | Path) -> Lockfile:
    """Read and validate the lockfile at ``path``; raise ``LockfileError`` listing all problems."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise LockfileError(f"cannot read lockfile {file}: {exc.strerror or exc}") from exc
    return loads(decode(raw, file), file)


def loads(text: str, path: str = "<lockfile>") -> Lockfile:
    """Like ``load`` for text already in memory; ``path`` is only used in locations."""
    lockfile, problems = _read(text, path)
    if problems or lockfile is None:
        raise combine(problems, path)
    return lockfile


def check_text(text: str, path: str = "<lockfile>") -> list[LockfileError]:
    """Every problem in ``text`` (empty when valid), sorted by position. Pure: no I/O."""
    return _read(text, path)[1]


def decode(raw: bytes, file: str) -> str:
    """Lockfiles are UTF-8 (TOML requires it); say so with a location instead of a traceback.

    A leading byte order mark (some Windows editors add one) is dropped, not an error.
    """
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LockfileError(
            "lockfile is not valid UTF-8 (TOML files must be UTF-8)", Location(file, line, col)
        ) from exc


def combine(problems: list[LockfileError], file: str) -> LockfileError:
    """One exception carrying every problem; its message lists them all, one per line."""
    if len(problems) == 1:
        return problems[0]
    lines = [f"{len(problems)} problems in {file}:"] + [f"  {p}" for p in problems]
    return LockfileError("\n".join(lines), problems=tuple(problems))


def _read(text: str, file: str) -> tuple[Lockfile | None, list[LockfileError]]:
    data = _fast_parse(text)
    if data is None:
        data, problem = _tomlkit_parse(text, file)
        if data is None:
            return None, [problem] if problem is not None else []
    checker = _Checker(file, scan(text))
    lockfile = checker.check(data)
    problems = sorted(checker.problems, key=lambda p: (p.location or Location(file, 0), str(p)))
    return (None if problems else lockfile), problems


if sys.version_info >= (3, 11):
    import tomllib

    def _fast_parse(text: str) -> dict[str, Any] | None:
        """The document as plain values, or None to let tomlkit parse (and word the error)."""
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None

else:  # Python 3.10: no tomllib

    def _fast_parse(text: str) -> dict[str, Any] | None:
        return None


def _tomlkit_parse(text: str, file: str) -> tuple[dict[str, Any] | None, LockfileError | None]:
    """tomlkit's parse: the values, or None and the error worded for the user."""
    import tomlkit
    from tomlkit.exceptions import ParseError, TOMLKitError

    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        # A key repeated in one table: tomlkit < 0.15 gives no position and 0.15 words it
        # "Key ... already exists" at the table; name the dotted key and its second line.
        duplicates = scan(text).duplicates
        if duplicates:
            path, (line, col) = duplicates[0]
            where = Location(file, line, col)
            return None, LockfileError(f"invalid TOML: {dotted(path)} is set twice", where)
        if isinstance(exc, ParseError):
            return None, _syntax_error(exc, text, file)
        return None, LockfileError(f"invalid TOML: {exc}", Location(file, 1, 1))
    unwrapped: dict[str, Any] = doc.unwrap()
    return unwrapped, None


def _syntax_error(exc: ParseError, text: str, file: str) -> LockfileError:
    """tomlkit's ParseError as ``file:line:col: message``, with its two cryptic cases reworded."""
    message = _PARSE_POS_RE.sub("", str(exc))
    # tomlkit counts columns from 0.
    line, col = max(exc.line, 1), max(exc.col + 1, 1)
    lines = text.split("\n")
    if "'\\x00'" in message:  # tomlkit's end-of-input marker
        line, col = len(lines), len(lines[-1]) + 1
        message = "unexpected end of file (an array, table or string is not closed)"
    elif message.startswith("Control characters") and col > len(lines[min(line, len(lines)) - 1]):
        message = "string not closed before the end of the line (missing quote?)"
    return LockfileError(f"invalid TOML: {message}", Location(file, line, col))


def _kind(value: object) -> str:
    """TOML's name for the type of an unwrapped value, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "date-time"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, list):
        return "array"
    return "table"


def dotted(path: KeyPath) -> str:
    """A key path written the way the docs write it (``roles.app."debian-12".deb``).

    OS release keys are always quoted (``"ubuntu-22.04"`` must be, so all of them are).
    """
    release_at = {"shared": 1, "roles": 2}.get(str(path[0])) if path else None
    parts: list[str] = []
    for depth, part in enumerate(path):
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
        elif depth != release_at and BARE_KEY_RE.fullmatch(part):
            parts.append(part)
        else:
            import tomlkit  # only for a message: check needs no tomlkit otherwise

            parts.append(tomlkit.string(part).as_string())
    return ".".join(parts)


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Checker:
    """Walks the unwrapped document once, building the model and collecting problems."""

    def __init__(self, file: str, positions: Positions) -> None:
        self.file = file
        self.positions = positions
        self.problems: list[LockfileError] = []
        self.roles: list[str] = []
        self.pins: list[Pin] = []
        self.waivers: list[Waiver] = []
        self.waiver_indices: list[int] = []
        self.releases: list[tuple[str, str]] = []
        self.apps: list[AppPin] = []

    def at_key(self, path: KeyPath) -> Location:
        line, col = self.positions.key(path)
        return Location(self.file, line, col)

    def at_value(self, path: KeyPath) -> Location:
        line, col = self.positions.value(path)
        return Location(self.file, line, col)

    def problem(self, message: str, where: Location) -> None:
        self.problems.append(LockfileError(message, where))

    def table(self, value: object, path: KeyPath, what: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.problem(
            f"{dotted(path)} must be a table ({what}), got {_kind(value)}", self.at_value(path)
        )
        return None

    def check(self, data: dict[str, Any]) -> Lockfile:
        schema = data.get("schema")
        if "schema" not in data:
            self.problem(
                f"missing 'schema = {SCHEMA_VERSION}' at the top of the lockfile",
                Location(self.file, 1, 1),
            )
        elif isinstance(schema, bool) or schema != SCHEMA_VERSION:
            shown = schema if isinstance(schema, int) and not isinstance(schema, bool) else None
            self.problem(
                f"unsupported schema {shown if shown is not None else repr(schema)}: "
                f"this pinmgr reads schema {SCHEMA_VERSION}",
                self.at_value(("schema",)),
            )
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                self.problem(
                    f"unknown top-level key {key!r} (expected one of "
                    f"{', '.join(TOP_LEVEL_KEYS)}){_suggest(key, TOP_LEVEL_KEYS)}",
                    self.at_key((key,)),
                )
        if "shared" in data:
            shared = self.table(data["shared"], ("shared",), "OS release -> ecosystem -> pins")
            for release, pins in (shared or {}).items():
                self.release(SHARED_ROLE, release, pins, ("shared", release))
        if "roles" in data:
            roles = self.table(data["roles"], ("roles",), "role -> OS release -> ecosystem")
            for role, releases in (roles or {}).items():
                self.role(role, releases)
        if "waivers" in data:
            self.waiver_list(data["waivers"])
        for index, waiver in zip(self.waiver_indices, self.waivers, strict=True):
            if waiver.role is not None and waiver.role not in self.roles:
                self.problem(
                    f"waiver for {waiver.package}: role {waiver.role!r} is not a role of this "
                    f"lockfile{_suggest(waiver.role, tuple(self.roles))}",
                    self.at_value(("waivers", index, "role")),
                )
        return Lockfile(
            path=self.file,
            schema=SCHEMA_VERSION,
            roles=tuple(self.roles),
            pins=tuple(self.pins),
            waivers=tuple(self.waivers),
            releases=tuple(self.releases),
            apps=tuple(self.apps),
        )

    def role(self, role: str, releases: object) -> None:
        path: KeyPath = ("roles", role)
        if not ROLE_RE.fullmatch(role):
            self.problem(
                f"role name {role!r} must be letters, digits, '-', '_' or '.', "
                "starting with a letter or digit",
                self.at_key(path),
            )
            return
        self.roles.append(role)
        table = self.table(releases, path, "OS release -> ecosystem -> pins")
        for release, pins in (table or {}).items():
            if release == "apps":
                self.app_table(role, pins, (*path, "apps"))
            else:
                self.release(role, release, pins, (*path, release))

    def app_table(self, role: str, apps: object, path: KeyPath) -> None:
        table = self.table(apps, path, "application name -> path, source, revision")
        for name, spec in (table or {}).items():
            app = self.app(role, name, spec, (*path, name))
            if app is not None:
                self.apps.append(app)

    def app(self, role: str, name: str, spec: object, path: KeyPath) -> AppPin | None:
        bad_name = name_problem(Ecosystem.APP, name)
        if bad_name is not None:
            self.problem(bad_name.replace("app package", "application"), self.at_key(path))
            return None
        table = self.table(spec, path, "path, source, revision or same")
        if table is None:
            return None
        before = len(self.problems)
        for key in table:
            if key not in APP_KEYS:
                self.problem(
                    f"unknown key {key!r} for application {name} (expected one of "
                    f"{', '.join(APP_KEYS)}){_suggest(key, APP_KEYS)}",
                    self.at_key((*path, key)),
                )
        text = {k: v for k, v in table.items() if isinstance(v, str)}
        for key in ("path", "source", "revision", "file", "package"):
            if key in table and key not in text:
                where = self.at_value((*path, key))
                self.problem(f"{name}: {key} must be a string, got {_kind(table[key])}", where)
        raw_source = text.get("source", "git")
        try:
            source = AppSource(raw_source)
        except ValueError:
            choices = ", ".join(s.value for s in AppSource)
            self.problem(
                f"{name}: source must be one of {choices}, not {raw_source!r}",
                self.at_value((*path, "source")),
            )
            return None
        same = table.get("same", False)
        if not isinstance(same, bool):
            self.problem(f"{name}: same must be true or false", self.at_value((*path, "same")))
            same = False
        revision = text.get("revision", "")
        if bool(revision) == bool(same):
            self.problem(
                f'{name}: give either revision = "<commit or label>" or same = true '
                "(the same revision in every environment)",
                self.at_key(path),
            )
        if revision:
            try:
                versions.validate(Ecosystem.APP, revision)
            except VersionError as exc:
                self.problem(f"{name}: {exc.message}", self.at_value((*path, "revision")))
        app_path = text.get("path", "")
        if source is not AppSource.PACKAGE and not app_path.startswith("/"):
            self.problem(
                f"{name}: path must be the absolute deploy directory on the host",
                self.at_value((*path, "path")) if "path" in table else self.at_key(path),
            )
        file = text.get("file", "REVISION" if source is AppSource.FILE else "")
        if source is not AppSource.FILE and "file" in table:
            self.problem(f'{name}: file is only for source = "file"', self.at_key((*path, "file")))
        if file and (file.startswith("/") or ".." in file.split("/") or "\n" in file):
            self.problem(
                f"{name}: file must be a path inside the deploy directory",
                self.at_value((*path, "file")),
            )
        package = text.get("package", name if source is AppSource.PACKAGE else "")
        if source is not AppSource.PACKAGE and "package" in table:
            where = self.at_key((*path, "package"))
            self.problem(f'{name}: package is only for source = "package"', where)
        if len(self.problems) > before:
            return None
        return AppPin(
            role, name, app_path, source, revision, same, file, package, self.at_key(path)
        )

    def release(self, role: str, release: str, ecosystems: object, path: KeyPath) -> None:
        if not OS_RELEASE_RE.fullmatch(release):
            hint = "lowercase " if release.lower() != release else ""
            self.problem(
                f"{release!r} is not an OS release key: expected {hint}ID-VERSION_ID from "
                "/etc/os-release, like debian-12, ubuntu-22.04 or rocky-9",
                self.at_key(path),
            )
            return
        table = self.table(ecosystems, path, "ecosystem -> pins")
        if table is None:
            return
        self.releases.append((role, release))
        for eco_name, pins in table.items():
            eco_path = (*path, eco_name)
            if eco_name not in ECOSYSTEMS:
                if isinstance(pins, dict):
                    message = (
                        f"unknown ecosystem {eco_name!r} (expected one of "
                        f"{', '.join(ECOSYSTEMS)}){_suggest(eco_name, ECOSYSTEMS)}"
                    )
                else:
                    message = (
                        f"{eco_name!r} is directly under [{dotted(path)}]: pins go in an "
                        f"ecosystem table such as [{dotted((*path, 'deb'))}]"
                    )
                self.problem(message, self.at_key(eco_path))
                continue
            table_pins = self.table(pins, eco_path, "package = version")
            if table_pins is not None:
                self.ecosystem_pins(role, release, Ecosystem(eco_name), table_pins, eco_path)

    def ecosystem_pins(
        self,
        role: str,
        release: str,
        ecosystem: Ecosystem,
        pins: dict[str, Any],
        path: KeyPath,
    ) -> None:
        seen: dict[str, str] = {}
        for package, version in pins.items():
            pin_path = (*path, package)
            bad_name = name_problem(ecosystem, package)
            if bad_name is not None:
                self.problem(bad_name, self.at_key(pin_path))
                continue
            if ecosystem is Ecosystem.PIP:
                canonical = canonicalize_name(package)
                if canonical in seen:
                    self.problem(
                        f"duplicate pin: {package!r} and {seen[canonical]!r} are the same "
                        "pip project",
                        self.at_key(pin_path),
                    )
                    continue
                seen[canonical] = package
            if not isinstance(version, str):
                self.problem(
                    f"version of {package} must be a string (quoted), got {_kind(version)}",
                    self.at_value(pin_path),
                )
                continue
            try:
                policy = parse_policy(ecosystem, version)
            except VersionError as exc:
                self.problem(f"{package}: {exc.message}", self.at_value(pin_path))
                continue
            self.pins.append(
                Pin(role, release, ecosystem, package, policy, self.at_value(pin_path))
            )

    def waiver_list(self, waivers: object) -> None:
        if not isinstance(waivers, list):
            self.problem(
                f"waivers must be an array of tables ([[waivers]]), got {_kind(waivers)}",
                self.at_value(("waivers",)),
            )
            return
        seen: dict[tuple[str, str | None, str | None, str | None, str | None], int] = {}
        for index, entry in enumerate(waivers):
            waiver = self.waiver(index, entry)
            if waiver is None:
                continue
            ident = (waiver.package, _opt(waiver.ecosystem), waiver.role, waiver.env, waiver.host)
            if ident in seen:
                self.problem(
                    f"duplicate waiver for {waiver.package}: same package and selectors as "
                    f"waiver #{seen[ident] + 1}",
                    waiver.location or self.at_key(("waivers", index)),
                )
                continue
            seen[ident] = index
            self.waivers.append(waiver)
            self.waiver_indices.append(index)

    def waiver(self, index: int, entry: object) -> Waiver | None:
        path: KeyPath = ("waivers", index)
        where = self.at_value(path)
        label = f"waiver #{index + 1}"
        if not isinstance(entry, dict):
            self.problem(f"{label} must be a table, got {_kind(entry)}", where)
            return None
        before = len(self.problems)
        for key in entry:
            if key not in WAIVER_KEYS:
                self.problem(
                    f"{label}: unknown key {key!r} (expected one of "
                    f"{', '.join(WAIVER_KEYS)}){_suggest(key, WAIVER_KEYS)}",
                    self.at_key((*path, key)),
                )
        texts: dict[str, str | None] = {}
        for key in ("package", "reason", "ecosystem", "role", "env", "host"):
            required = key in ("package", "reason")
            if key not in entry:
                if required:
                    self.problem(f"{label}: missing {key!r}", where)
                texts[key] = None
                continue
            value = entry[key]
            if not isinstance(value, str) or not value.strip():
                got = _kind(value) if not isinstance(value, str) else "an empty string"
                self.problem(
                    f"{label}: {key} must be a non-empty string, got {got}",
                    self.at_value((*path, key)),
                )
                texts[key] = None
                continue
            # Waiver text is printed in every report: no control characters, bounded names.
            bad = problem(value, _WAIVER_REASON_CHARS if key == "reason" else MAX_NAME_CHARS)
            if bad is not None:
                self.problem(f"{label}: {key} {shown(value)}: {bad}", self.at_value((*path, key)))
                texts[key] = None
                continue
            texts[key] = value
        ecosystem: Ecosystem | None = None
        if texts["ecosystem"] is not None:
            if texts["ecosystem"] in ECOSYSTEMS:
                ecosystem = Ecosystem(texts["ecosystem"])
            else:
                self.problem(
                    f"{label}: unknown ecosystem {texts['ecosystem']!r} (expected one of "
                    f"{', '.join(ECOSYSTEMS)})",
                    self.at_value((*path, "ecosystem")),
                )
        expires = entry.get("expires")
        if "expires" not in entry:
            self.problem(f"{label}: missing 'expires' (a TOML date like 2026-12-31)", where)
        elif isinstance(expires, dt.datetime) or not isinstance(expires, dt.date):
            self.problem(
                f"{label}: expires must be a TOML date like 2026-12-31 (unquoted, no time), "
                f"got {_kind(expires)}",
                self.at_value((*path, "expires")),
            )
        if len(self.problems) > before:
            return None
        assert texts["package"] is not None and texts["reason"] is not None
        assert isinstance(expires, dt.date)
        return Waiver(
            package=texts["package"],
            reason=texts["reason"],
            expires=expires,
            ecosystem=ecosystem,
            host=texts["host"],
            role=texts["role"],
            env=texts["env"],
            location=where,
        )


def _opt(ecosystem: Ecosystem | None) -> str | None:
    return ecosystem.value if ecosystem is not None else None
