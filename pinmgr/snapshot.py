"""The pinmgr snapshot file: what ``pinmgr collect`` saw, written once, checked many times.

A documented, versioned JSON document (``docs/snapshot.md``, ``docs/snapshot.schema.json``),
gzip-compressed when the file name ends in ``.gz``. Reading treats the file as untrusted: the
file and every string are bounded, every value's type is checked, and any problem is one
``SnapshotError`` line naming the file (and the host), never a traceback.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import operator
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pinmgr.errors import PinmgrError
from pinmgr.model import (
    Ecosystem,
    FailureKind,
    Host,
    HostFailure,
    HostSnapshot,
    HostWarning,
    InstalledPackage,
    OsRelease,
    PackageState,
    SavedResult,
)

FORMAT = "pinmgr-snapshot"
FORMAT_VERSION = 2
"""Bumped on any change an older reader would misread; readers refuse newer versions.

1: each host lists its packages as objects. 2: the document lists every distinct package once
(``package_table``, sorted) and each host the indices of its own: a fleet's hosts share most
packages, so the file is smaller and reading it builds each package once (both still read).
"""

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Cap on a file, after decompression (a small .gz cannot expand without bound)."""
MAX_STRING = 4096
"""Cap on any one string: names, versions, reasons, warnings."""
MAX_LIST = 1_000_000
"""Cap on any one list (hosts, one host's packages)."""

GZIP_MAGIC = b"\x1f\x8b"


class SnapshotError(PinmgrError):
    """A snapshot (or other saved data) cannot be read: the message names the file."""


@dataclass(frozen=True)
class Snapshot:
    """A whole snapshot file: every host's result and what the run was."""

    results: tuple[SavedResult, ...]
    started_at: dt.datetime
    finished_at: dt.datetime
    pinmgr_version: str
    envs: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    shard: str = ""


# ---------------------------------------------------------------------------------------------
# Writing


def utc_text(when: dt.datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, to the second: the one timestamp form in the file."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sources_of(host: Host) -> list[str]:
    """What the probe asks every host: dpkg, rpm, and each pip interpreter the inventory names."""
    return ["deb", "rpm", *(f"pip:{p}" for p in host.pip)]


def _host_document(saved: SavedResult, index: dict[InstalledPackage, int]) -> dict[str, Any]:
    result = saved.result
    host = result.host
    doc: dict[str, Any] = {
        "name": host.name,
        "env": host.env,
        "roles": list(host.roles),
        "collected_at": utc_text(saved.collected_at),
        "sources": sources_of(host),
    }
    if isinstance(result, HostFailure):
        doc["failure"] = {
            "kind": result.kind.value,
            "reason": result.reason,
            "warnings": list(result.warnings),
        }
        return doc
    doc["os_release"] = (
        {"id": result.os_release.id, "version_id": result.os_release.version_id}
        if result.os_release
        else None
    )
    doc["packages"] = sorted(index[pkg] for pkg in result.packages)
    doc["warnings"] = list(result.warnings)
    return doc


def _table_row(pkg: InstalledPackage) -> list[str]:
    return [pkg.ecosystem.value, pkg.name, pkg.version, pkg.arch, pkg.state.value, pkg.origin]


def to_document(snapshot: Snapshot) -> dict[str, Any]:
    """The JSON document of ``snapshot`` (the schema in docs/snapshot.schema.json)."""
    distinct = {
        pkg
        for saved in snapshot.results
        if isinstance(saved.result, HostSnapshot)
        for pkg in saved.result.packages
    }
    table = sorted(distinct, key=_ORDER)
    index = {pkg: i for i, pkg in enumerate(table)}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "pinmgr_version": snapshot.pinmgr_version,
        "started_at": utc_text(snapshot.started_at),
        "finished_at": utc_text(snapshot.finished_at),
        "selection": {
            "envs": list(snapshot.envs),
            "roles": list(snapshot.roles),
            "shard": snapshot.shard or None,
        },
        "package_table": [_table_row(pkg) for pkg in table],
        "hosts": [_host_document(r, index) for r in snapshot.results],
    }


def dumps(snapshot: Snapshot, *, compress: bool = False) -> bytes:
    """The file's bytes; gzip with a fixed mtime so one snapshot always gives one file."""
    text = json.dumps(to_document(snapshot), ensure_ascii=False, separators=(",", ":"))
    data = (text + "\n").encode("utf-8")
    return gzip.compress(data, mtime=0) if compress else data


def write(path: str | Path, snapshot: Snapshot) -> None:
    """Write atomically (readers see the old file or the new one); ``.gz``: compressed."""
    from pinmgr.atomic import write_atomic

    write_atomic(path, dumps(snapshot, compress=str(path).endswith(".gz")), None)


# ---------------------------------------------------------------------------------------------
# Reading


def load_document(path: str | Path) -> object:
    """A bounded JSON file (gzip detected from its first bytes, not its name), parsed."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == GZIP_MAGIC:
                with gzip.GzipFile(fileobj=fh) as gz:
                    data = gz.read(MAX_FILE_BYTES + 1)
            else:
                data = fh.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise SnapshotError(f"{p}: cannot read: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SnapshotError(f"{p}: larger than {MAX_FILE_BYTES} bytes (uncompressed)")
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_shared_leaves())
    except UnicodeDecodeError:
        raise SnapshotError(f"{p}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{p}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise SnapshotError(f"{p}: not usable JSON: {type(exc).__name__}") from None


def _shared_leaves() -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A ``json.loads`` hook giving equal small all-string objects as one shared dict.

    A fleet snapshot holds millions of package entries and few distinct ones: sharing them
    keeps the parsed document (the peak of a check) a fraction of its size. The document is
    only read, never changed. Only string values: ``1``, ``1.0`` and ``true`` are equal keys.
    """
    memo: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len(pairs) > 8:
            return dict(pairs)
        key = tuple(pairs)
        try:
            found = memo.get(key)
        except TypeError:  # a list or an object among the values
            return dict(pairs)
        if found is None:
            # Checked on a miss only: no string equals a number, a boolean or null, so a hit
            # is a key of strings.
            if not all(type(v) is str for _, v in pairs):
                return dict(pairs)
            found = memo[key] = dict(pairs)
        return found

    return hook


def is_snapshot(document: object) -> bool:
    """Whether a parsed document says it is a pinmgr snapshot (any version)."""
    return isinstance(document, dict) and document.get("format") == FORMAT


_INSTALLED = PackageState.INSTALLED.value


def astuple_of(pkg: InstalledPackage) -> tuple[object, ...]:
    """The key ``_Doc.packages`` files a package under (format 1's entry key, state as text)."""
    return (pkg.ecosystem, pkg.name, pkg.version, pkg.arch, pkg.state.value, pkg.origin)


_ORDER = operator.attrgetter("ecosystem", "name", "version", "arch", "state", "origin")
"""``InstalledPackage``'s own order (its fields in turn), compared in C rather than __lt__."""


class _Doc:
    """Typed access to untrusted JSON: each getter checks type and size or raises, with where.

    ``packages`` holds every package entry validated so far, by its fields: hosts of a fleet
    share most entries, and sharing one value each also shares its strings in memory;
    ``entries`` the same by the entry object's id (the document lives while it is read).
    """

    def __init__(
        self, source: str, packages: dict[tuple[object, ...], InstalledPackage] | None = None
    ) -> None:
        self.source = source
        self.where = ""
        self.packages: dict[tuple[object, ...], InstalledPackage] = (
            {} if packages is None else packages
        )
        self.entries: dict[tuple[Ecosystem, int], InstalledPackage] = {}
        self.table_sorted = True

    def fail(self, message: str) -> SnapshotError:
        return SnapshotError(f"{self.source}: {printable(self.where + message)}")

    def obj(self, value: object, what: str) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.fail(f"{what}: expected an object, got {_type(value)}")
        return value

    def items(self, value: object, what: str) -> list[object]:
        if not isinstance(value, list):
            raise self.fail(f"{what}: expected a list, got {_type(value)}")
        if len(value) > MAX_LIST:
            raise self.fail(f"{what}: more than {MAX_LIST} entries")
        return value

    def text(self, value: object, what: str, *, empty: bool = True) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{what}: expected a string, got {_type(value)}")
        if len(value) > MAX_STRING:
            raise self.fail(f"{what}: longer than {MAX_STRING} characters")
        if not empty and not value:
            raise self.fail(f"{what}: must not be empty")
        return value

    def texts(self, value: object, what: str) -> tuple[str, ...]:
        return tuple(self.text(v, f"{what}[{i}]") for i, v in enumerate(self.items(value, what)))

    def time(self, value: object, what: str) -> dt.datetime:
        text = self.text(value, what)
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(f"{what}: not an RFC 3339 timestamp: {text!r}") from None
        if when.tzinfo is None:
            raise self.fail(f"{what}: timestamp without a time zone: {text!r}")
        return when


def printable(text: str, limit: int = 300) -> str:
    """One line of text from untrusted data: control characters escaped, truncated."""
    out = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[:limit])
    return out + ("…" if len(text) > limit else "")


def _type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def from_document(
    document: object,
    source: str,
    packages: dict[tuple[object, ...], InstalledPackage] | None = None,
) -> Snapshot:
    """Validate a parsed snapshot document and turn it into model values.

    ``packages``: validated packages by their fields, shared between the files of one run, so
    equal packages of different shards are one value (``check`` compares them by identity).
    """
    doc = _Doc(source, packages)
    top = doc.obj(document, "top level")
    if top.get("format") != FORMAT:
        raise doc.fail(f'not a pinmgr snapshot (no "format": "{FORMAT}")')
    version = top.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise doc.fail("format_version: expected a positive integer")
    if version > FORMAT_VERSION:
        raise doc.fail(
            f"format_version {version} is newer than this pinmgr reads ({FORMAT_VERSION}): "
            "upgrade pinmgr"
        )
    selection = doc.obj(top.get("selection", {}), "selection")
    shard = selection.get("shard")
    table = _package_table(doc, top.get("package_table")) if version >= 2 else None
    results: list[SavedResult] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(doc.items(top.get("hosts"), "hosts")):
        doc.where = f"hosts[{i}]: "
        saved = _host(doc, doc.obj(item, "host"), source, table)
        host = saved.result.host
        key = (host.env, host.name)
        if key in seen:
            raise doc.fail(f"host {host.name} ({host.env}) appears twice")
        seen.add(key)
        results.append(saved)
    doc.where = ""
    return Snapshot(
        results=tuple(results),
        started_at=doc.time(top.get("started_at"), "started_at"),
        finished_at=doc.time(top.get("finished_at"), "finished_at"),
        pinmgr_version=doc.text(top.get("pinmgr_version"), "pinmgr_version"),
        envs=doc.texts(selection.get("envs", []), "selection.envs"),
        roles=doc.texts(selection.get("roles", []), "selection.roles"),
        shard="" if shard is None else doc.text(shard, "selection.shard"),
    )


def _package_table(doc: _Doc, value: object) -> list[InstalledPackage]:
    """Format 2's distinct packages, each validated once: ``[eco, name, version, arch, state,
    origin]``."""
    table: list[InstalledPackage] = []
    for j, row in enumerate(doc.items(value, "package_table")):
        where = f"package_table[{j}]"
        fields = doc.items(row, where)
        if len(fields) != 6:
            raise doc.fail(f"{where}: expected [ecosystem, name, version, arch, state, origin]")
        eco_name = doc.text(fields[0], f"{where}[0]")
        try:
            eco = Ecosystem(eco_name)
        except ValueError:
            raise doc.fail(f"{where}: unknown ecosystem {eco_name!r}") from None
        entry = dict(zip(("name", "version", "arch", "state", "origin"), fields[1:], strict=True))
        pkg = _installed(doc, eco, entry, j, where)
        table.append(doc.packages.setdefault(astuple_of(pkg), pkg))
    keys = list(map(_ORDER, table))
    doc.table_sorted = keys == sorted(keys)  # pinmgr writes it sorted; a hand-made file may not be
    return table


def _table_packages(
    doc: _Doc, value: object, table: list[InstalledPackage]
) -> tuple[InstalledPackage, ...]:
    """A format-2 host's packages: indices into the table, in C (a fleet has millions)."""
    listed = doc.items(value, "packages")
    if not set(map(type, listed)) <= {int}:  # bool, float, str, ...: not an index
        raise doc.fail("packages: expected indices into package_table")
    ids = sorted(cast("list[int]", listed))
    if ids and (ids[0] < 0 or ids[-1] >= len(table)):
        raise doc.fail(f"packages: expected indices into package_table (0-{len(table) - 1})")
    if not doc.table_sorted:
        return tuple(sorted(map(table.__getitem__, ids), key=_ORDER))
    return tuple(map(table.__getitem__, ids))


def _host(
    doc: _Doc, item: dict[str, object], source: str, table: list[InstalledPackage] | None
) -> SavedResult:
    name = doc.text(item.get("name"), "name", empty=False)
    doc.where = f"host {name}: "
    sources = doc.texts(item.get("sources", []), "sources")
    host = Host(
        name=name,
        env=doc.text(item.get("env"), "env"),
        roles=doc.texts(item.get("roles"), "roles"),
        pip=tuple(s[len("pip:") :] for s in sources if s.startswith("pip:")),
    )
    collected_at = doc.time(item.get("collected_at"), "collected_at")
    failure = item.get("failure")
    if failure is not None:
        f = doc.obj(failure, "failure")
        kind_text = doc.text(f.get("kind"), "failure.kind")
        try:
            kind = FailureKind(kind_text)
        except ValueError:
            known = ", ".join(k.value for k in FailureKind)
            raise doc.fail(f"failure.kind: {kind_text!r} is not one of {known}") from None
        result: HostSnapshot | HostFailure = HostFailure(
            host,
            kind,
            doc.text(f.get("reason"), "failure.reason"),
            doc.texts(f.get("warnings", []), "failure.warnings"),
        )
        return SavedResult(result, collected_at, source)
    os_doc = item.get("os_release")
    os_release = None
    if os_doc is not None:
        o = doc.obj(os_doc, "os_release")
        os_release = OsRelease(
            doc.text(o.get("id"), "os_release.id", empty=False),
            doc.text(o.get("version_id"), "os_release.version_id"),
        )
    if table is not None:
        result = HostSnapshot(
            host,
            os_release,
            _table_packages(doc, item.get("packages"), table),
            warnings=doc.texts(item.get("warnings", []), "warnings"),
        )
        return SavedResult(result, collected_at, source)
    packages: list[InstalledPackage] = []
    by_eco = doc.obj(item.get("packages"), "packages")
    for eco_name, entries in by_eco.items():
        try:
            eco = Ecosystem(eco_name)
        except ValueError:
            raise doc.fail(f"packages: unknown ecosystem {eco_name!r}") from None
        listed = doc.items(entries, f"packages.{eco_name}")
        if len(packages) + len(listed) > MAX_LIST:
            raise doc.fail(f"packages: more than {MAX_LIST}")
        seen, by_id = doc.packages, doc.entries
        for j, entry in enumerate(listed):
            # Fast path: an entry equal to one already validated (most of a fleet's are) is
            # the same value; only a new combination of fields is checked (and kept).
            # Equal entries are one shared object (``_shared_leaves``), alive as long as the
            # document, so its id names it while this file is read.
            pkg = by_id.get((eco, id(entry)))
            if pkg is not None:
                packages.append(pkg)
                continue
            key: tuple[object, ...] | None = None
            pkg = None
            if isinstance(entry, dict):
                key = (
                    eco,
                    entry.get("name"),
                    entry.get("version"),
                    entry.get("arch", ""),
                    entry.get("state", _INSTALLED),
                    entry.get("origin", ""),
                )
                try:
                    pkg = seen.get(key)
                except TypeError:  # a field that is a list or an object: checked below
                    key = None
            if pkg is None:
                where = f"packages.{eco_name}[{j}]"
                pkg = _installed(doc, eco, doc.obj(entry, where), j)
                if key is not None:
                    seen[key] = pkg
            by_id[(eco, id(entry))] = pkg
            packages.append(pkg)
    packages.sort(key=_ORDER)
    result = HostSnapshot(
        host,
        os_release,
        tuple(packages),
        warnings=doc.texts(item.get("warnings", []), "warnings"),
    )
    return SavedResult(result, collected_at, source)


def _installed(
    doc: _Doc, eco: Ecosystem, entry: dict[str, object], j: int, where: str = ""
) -> InstalledPackage:
    where = where or f"packages.{eco.value}[{j}]"
    state_text = doc.text(entry.get("state", PackageState.INSTALLED.value), f"{where}.state")
    try:
        state = PackageState(state_text)
    except ValueError:
        raise doc.fail(f"{where}.state: unknown state {state_text!r}") from None
    return InstalledPackage(
        eco,
        doc.text(entry.get("name"), f"{where}.name", empty=False),
        doc.text(entry.get("version"), f"{where}.version", empty=False),
        doc.text(entry.get("arch", ""), f"{where}.arch"),
        state,
        doc.text(entry.get("origin", ""), f"{where}.origin"),
    )


def read(path: str | Path) -> Snapshot:
    """Read and validate one snapshot file."""
    return from_document(load_document(path), str(path))


# ---------------------------------------------------------------------------------------------
# Merging


def merge(results: Iterable[SavedResult]) -> tuple[list[SavedResult], list[HostWarning]]:
    """One result per host (environment and name): the newest wins, and the others are named.

    Shards of one run never overlap; an overlap means two runs (or a snapshot and a fact
    cache) saw the host, and the reader should know which one was used.
    """
    chosen: dict[tuple[str, str], SavedResult] = {}
    dropped: dict[tuple[str, str], list[SavedResult]] = {}
    for saved in results:
        host = saved.result.host
        key = (host.env, host.name)
        current = chosen.get(key)
        if current is None:
            chosen[key] = saved
            continue
        older = saved
        if saved.collected_at > current.collected_at:
            chosen[key], older = saved, current
        dropped.setdefault(key, []).append(older)
    warnings = []
    for key, ignored in dropped.items():
        kept = chosen[key]
        for old in ignored:
            warnings.append(
                HostWarning(
                    host=key[1],
                    env=key[0],
                    message=(
                        f"in several saved sources: kept {kept.source} (collected "
                        f"{utc_text(kept.collected_at)}), ignored {old.source} (collected "
                        f"{utc_text(old.collected_at)})"
                    ),
                )
            )
    return list(chosen.values()), warnings
