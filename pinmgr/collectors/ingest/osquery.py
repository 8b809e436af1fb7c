"""osquery results saved by osquery itself: ``osqueryi --json`` output, osqueryd result logs.

Teams that run osquery (alone or under Fleet) already record every host's packages; checking
those records costs no SSH sweep. Tables read: ``deb_packages``, ``rpm_packages``,
``python_packages`` and ``os_version``. Layouts read (detected from content, docs/snapshot.md):

* result logs (``osqueryd.results.log``, ``osqueryd.snapshots.log``, a Fleet or log-shipper
  copy of them): JSON lines, each with ``hostIdentifier``, ``name`` (the scheduled query),
  ``unixTime`` and, after osquery's own serializer, one of: ``"snapshot": [rows]``
  (snapshot queries), ``"diffResults": {"removed": [...], "added": [...]}`` (batch form), or
  ``"columns": {row}`` with ``"action": "added"|"removed"`` (event form, the default).
* ``osqueryi --json "select ... from <table>"`` output: one JSON array of rows per file, named
  ``<host>.<table>.json`` (or ``<host>.json``): the file name is the host name.

Differential logs only say what changed: a host's state per query is rebuilt from its initial
results (``counter`` 0, or a snapshot) and every change after it, in time order. A host whose
package query has no initial results in the files (a rotated-away first run) is
``incomplete``, never a partial package list. Rows become the lines pinmgr's own probe prints
and go through the same parsers (``collectors.parsers``), so one row that does not fit makes
the host ``incomplete`` exactly as a live collection would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pinmgr.collectors.ingest.ansible_facts import IngestError, files_of, printable, read_bounded
from pinmgr.collectors.parsers import (
    _Warnings,
    parse_dpkg,
    parse_pip,
    parse_rpm,
)
from pinmgr.collectors.probe import SECTION_DPKG, SECTION_RPM
from pinmgr.model import (
    FailureKind,
    Host,
    HostFailure,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
    SavedResult,
)

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Cap on one file after decompression (a rotated ``.gz`` log cannot expand without bound)."""
MAX_STRING = 4096
MAX_ROWS = 1_000_000
SNIFF_BYTES = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"

DEB, RPM, PYTHON, OS = "deb_packages", "rpm_packages", "python_packages", "os_version"
TABLES = (DEB, RPM, PYTHON, OS)
_RESULT_KEYS = ("snapshot", "diffResults", "columns")
_KEY_SNIFF = re.compile(rb'"(hostIdentifier|hostname|diffResults)"\s*:')

# deb_packages.status is dpkg's "want eflag status" (osquery's dpkgquery.cpp); the probe reads
# the same three as db:Status-Abbrev letters.
_WANT = {"unknown": "u", "install": "i", "hold": "h", "deinstall": "r", "purge": "p"}
_STATUS = {
    "not-installed": "n",
    "config-files": "c",
    "half-installed": "H",
    "unpacked": "U",
    "half-configured": "F",
    "triggers-awaited": "W",
    "triggers-pending": "t",
    "installed": "i",
}
_EFLAG = {"ok": " ", "reinstreq": "R"}
_SITE_DIRS = ("lib/python", "lib64/python", "local/lib/python")
"""Where, under an environment's prefix, its site-packages live (Debian adds /usr/local)."""


# ---------------------------------------------------------------------------------------------
# Detection


def _head(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as fh:
            if fh.read(2) == GZIP_MAGIC:
                fh.seek(0)
                with gzip.GzipFile(fileobj=fh) as gz:
                    return gz.read(size)
            fh.seek(0)
            return fh.read(size)
    except (OSError, EOFError, zlib.error):
        return b""  # not ours to explain: the snapshot reader names the problem


def is_results_log(path: Path) -> bool:
    """Whether a file is an osquery result log (JSON lines), judged on its first line."""
    head = _head(path, SNIFF_BYTES).lstrip()
    if not head.startswith(b"{") or not _KEY_SNIFF.search(head):
        return False  # cheap: a pinmgr snapshot or a fact file is not parsed twice
    first, newline, _ = head.partition(b"\n")
    if not newline and len(head) >= SNIFF_BYTES:
        return True  # a first line longer than the sniffed part
    try:
        line = json.loads(first)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(line, dict)
        and isinstance(line.get("name"), str)
        and ("hostIdentifier" in line or "hostname" in line)
        and any(k in line for k in _RESULT_KEYS)
    )


def looks_like_rows(document: object) -> bool:
    """Whether a parsed document is ``osqueryi --json`` output of a table pinmgr reads."""
    if not isinstance(document, list) or not document:
        return False
    first = document[0]
    return isinstance(first, dict) and _table_of_row(first) is not None


def _table_of_name(name: str) -> str | None:
    return next((t for t in TABLES if t in name), None)


def _table_of_row(row: Mapping[str, object]) -> str | None:
    """The table a row came from, by its columns (when the query name does not say)."""
    if "release" in row and "version" in row:
        return RPM
    if "platform" in row or "major" in row:
        return OS
    if "path" in row and "version" in row:
        return PYTHON
    if "version" in row and any(k in row for k in ("status", "revision", "maintainer", "arch")):
        return DEB
    return None


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass
class _Query:
    """One scheduled query of one host: its rows as rebuilt so far."""

    table: str
    rows: dict[tuple[tuple[str, str], ...], dict[str, str]] = field(default_factory=dict)
    based: bool = False  # initial results (counter 0 / snapshot) seen
    updated: float = 0.0  # newest line applied (an osqueryi file: its mtime)
    source: str = ""  # the file of that line
    last: tuple[int, int, int] | None = None  # (epoch, counter, unixTime) being applied


@dataclass
class _HostData:
    name: str
    queries: dict[str, _Query] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    newest: float = 0.0


@dataclass(frozen=True)
class _Line:
    """One result line, in the order it is applied."""

    file: str
    host: str
    query: str
    table: str | None
    unix_time: int
    epoch: int
    counter: int | None
    seq: int
    snapshot: list[dict[str, str]] | None
    added: list[dict[str, str]]
    removed: list[dict[str, str]]


def read_bytes(path: Path) -> bytes:
    """A bounded file, gzip detected from its first bytes; one ``IngestError`` line if not."""
    try:
        with path.open("rb") as fh:
            if fh.read(2) == GZIP_MAGIC:
                fh.seek(0)
                with gzip.GzipFile(fileobj=fh) as gz:
                    data = gz.read(MAX_FILE_BYTES + 1)
            else:
                fh.seek(0)
                data = read_bounded(fh, MAX_FILE_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise IngestError(f"{path}: cannot read: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise IngestError(f"{path}: larger than {MAX_FILE_BYTES} bytes (uncompressed)")
    return data


def read(
    paths: Sequence[Path],
    documents: Mapping[Path, object] | None = None,
    pip_paths: Mapping[str, Sequence[str]] | None = None,
) -> list[SavedResult]:
    """Every host in ``paths`` (files or directories of them), combined per host.

    ``documents``: ``osqueryi`` files the caller already parsed (to sniff them), by path.
    ``pip_paths``: the inventory's pip interpreters / virtualenvs per host name: a
    ``python_packages`` row counts for the one whose tree holds its ``path``.
    """
    hosts: dict[str, _HostData] = {}
    lines: list[_Line] = []
    for path in paths:
        for file in files_of(path):
            doc = (documents or {}).get(file)
            if doc is not None:
                _add_rows(hosts, file, doc)
            elif is_results_log(file):
                lines += _log_lines(file, len(lines))
            else:
                doc = _parse_json(read_bytes(file), str(file))
                if not looks_like_rows(doc):
                    raise IngestError(f"{file}: not osquery results (in a directory of them)")
                _add_rows(hosts, file, doc)
    lines.sort(key=lambda ln: (ln.unix_time, ln.seq))
    for line in lines:
        _apply(hosts, line)
    pip = pip_paths or {}
    return [_result(h, pip.get(h.name, ())) for h in sorted(hosts.values(), key=lambda h: h.name)]


def _parse_json(data: bytes, where: str) -> object:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{where}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise IngestError(f"{where}: not usable JSON: {type(exc).__name__}") from None


def _text(value: object, where: str, what: str) -> str:
    """A column or field as text: osquery writes strings, or numbers with ``--logger_numerics``."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value) if abs(value) < 10**30 else ""
    elif isinstance(value, float):
        text = repr(value)
    elif value is None:
        text = ""
    else:
        raise IngestError(f"{where}: {what}: expected a string or a number")
    if len(text) > MAX_STRING:
        raise IngestError(f"{where}: {what}: longer than {MAX_STRING} characters")
    return text


def _int(value: object, where: str, what: str) -> int:
    text = _text(value, where, what).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise IngestError(f"{where}: {what}: expected a whole number, got {printable(text)!r}")
    return int(text)


def _rows(value: object, where: str, what: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise IngestError(f"{where}: {what}: expected a list of rows")
    if len(value) > MAX_ROWS:
        raise IngestError(f"{where}: {what}: more than {MAX_ROWS} rows")
    return [_row(r, where, f"{what}[{i}]") for i, r in enumerate(value)]


def _row(value: object, where: str, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise IngestError(f"{where}: {what}: expected an object (a row)")
    return {
        _text(k, where, what): _text(v, where, f"{what}.{printable(str(k), 40)}")
        for k, v in value.items()
    }


def _host_name(value: object, where: str) -> str:
    name = _text(value, where, "hostIdentifier")
    if not name.strip():
        raise IngestError(f"{where}: hostIdentifier is empty")
    return name


def _log_lines(file: Path, seq0: int) -> list[_Line]:
    """The result lines of one log file, checked; lines of other tables are kept only as a
    sign of life of their host (its newest time)."""
    data = read_bytes(file)
    out: list[_Line] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        where = f"{file}:{number}"
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise IngestError(f"{where}:{exc.colno}: not JSON: {exc.msg}") from None
        except (ValueError, RecursionError) as exc:
            raise IngestError(f"{where}: not usable JSON: {type(exc).__name__}") from None
        if not isinstance(doc, dict):
            raise IngestError(f"{where}: not an osquery result line (expected a JSON object)")
        host = _host_name(doc.get("hostIdentifier", doc.get("hostname")), where)
        query = _text(doc.get("name"), where, "name")
        table = _table_of_name(query)
        counter_raw = doc.get("counter")
        counter = None if counter_raw is None else _int(counter_raw, where, "counter")
        epoch = _int(doc.get("epoch", 0), where, "epoch")
        unix_time = _int(doc.get("unixTime"), where, "unixTime")
        snapshot: list[dict[str, str]] | None = None
        added: list[dict[str, str]] = []
        removed: list[dict[str, str]] = []
        if "snapshot" in doc:
            snapshot = _rows(doc["snapshot"], where, "snapshot")
        elif "diffResults" in doc:
            diff = doc["diffResults"]
            if not isinstance(diff, dict):
                raise IngestError(f"{where}: diffResults: expected an object")
            added = _rows(diff.get("added", []), where, "diffResults.added")
            removed = _rows(diff.get("removed", []), where, "diffResults.removed")
        elif "columns" in doc:
            row = _row(doc["columns"], where, "columns")
            action = _text(doc.get("action"), where, "action")
            if action == "added":
                added = [row]
            elif action == "removed":
                removed = [row]
            elif action == "snapshot":
                snapshot = [row]
            else:
                raise IngestError(f"{where}: action: {printable(action)!r} is not added/removed")
        else:
            raise IngestError(f"{where}: no snapshot, diffResults or columns: not a result line")
        if table is None:
            sample = (snapshot or added or removed or [{}])[0]
            table = _table_of_row(sample)
        out.append(
            _Line(str(file), host, query, table, unix_time, epoch, counter, seq0 + len(out),
                  snapshot, added, removed)
        )  # fmt: skip
    return out


def _key(row: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(row.items()))


def _apply(hosts: dict[str, _HostData], line: _Line) -> None:
    """One result line on its host's state: snapshots and initial runs replace it."""
    entry = hosts.setdefault(line.host, _HostData(line.host))
    entry.newest = max(entry.newest, float(line.unix_time))
    if line.file not in entry.files:
        entry.files.append(line.file)
    if line.table is None:
        return
    query = entry.queries.setdefault(line.query, _Query(line.table))
    run = (line.epoch, line.counter if line.counter is not None else -1, line.unix_time)
    new_run = run != query.last
    query.last = run
    query.updated, query.source = float(line.unix_time), line.file
    if line.snapshot is not None:
        if new_run:
            query.rows.clear()
        query.based = True
        query.rows.update((_key(r), r) for r in line.snapshot)
        return
    initial = line.counter == 0 or (line.counter is None and not query.based)
    if initial and new_run:
        query.rows.clear()
        query.based = True
    for row in line.removed:
        query.rows.pop(_key(row), None)
    for row in line.added:
        query.rows[_key(row)] = row


def _add_rows(hosts: dict[str, _HostData], file: Path, document: object) -> None:
    """An ``osqueryi --json`` file: the host is the file name, the table its suffix or rows."""
    where = str(file)
    rows = _rows(document, where, "rows")
    stem = file.name.removesuffix(".gz").removesuffix(".json")
    table = next((t for t in TABLES if stem.endswith(f".{t}")), None)
    name = stem[: -len(table) - 1] if table else stem
    if not name:
        raise IngestError(f"{where}: no host name in the file name (<host>.<table>.json)")
    table = table or (_table_of_row(rows[0]) if rows else None)
    if table is None:
        raise IngestError(f"{where}: rows of no table pinmgr reads ({', '.join(TABLES)})")
    entry = hosts.setdefault(name, _HostData(name))
    entry.files.append(where)
    mtime = 0.0
    with contextlib.suppress(OSError):
        mtime = file.stat().st_mtime
    entry.newest = max(entry.newest, mtime)
    query = entry.queries.setdefault(f"osqueryi {where}", _Query(table, based=True))
    query.rows.update((_key(r), r) for r in rows)
    query.updated, query.source = mtime, where


# ---------------------------------------------------------------------------------------------
# Rows -> model values


def os_release_of(row: Mapping[str, str]) -> OsRelease | None:
    """``os_version`` as os-release ``ID`` and ``VERSION_ID``.

    osquery splits ``VERSION_ID`` into ``major``/``minor``/``patch``; ``version`` is
    ``VERSION`` ("22.04.5 LTS (Jammy Jellyfish)"), whose leading digits keep Ubuntu's "04".
    """
    os_id = row.get("platform", "").strip()
    if not os_id:
        return None
    parts = [row.get(k, "").strip() for k in ("major", "minor", "patch")]
    while parts and parts[-1] in ("", "-1"):
        parts.pop()
    if not parts or any(not (p.isascii() and p.isdigit()) for p in parts):
        return None
    m = re.match(r"[0-9]+(?:\.[0-9]+)*", row.get("version", "").strip())
    shown = m.group(0).split(".") if m else []
    if len(shown) >= len(parts) and all(
        int(a) == int(b) for a, b in zip(shown, parts, strict=False)
    ):
        parts = shown[: len(parts)]
    else:
        # An older osquery fills minor/patch with 0: keep what VERSION shows, at least major.
        while len(parts) > max(len(shown), 1) and int(parts[-1]) == 0:
            parts.pop()
    return OsRelease(os_id, ".".join(parts))


def _deb_lines(rows: Sequence[dict[str, str]]) -> tuple[list[str], str]:
    """Rows as the probe's dpkg-query lines (``binary:Package``, Version, abbrev, arch)."""
    native = next((r.get("arch", "") for r in rows if r.get("name") == "dpkg"), "")
    if not native:  # dpkg not selected: the architecture most packages have
        counts = Counter(r.get("arch", "") for r in rows if r.get("arch") not in (None, "", "all"))
        native = counts.most_common(1)[0][0] if counts else ""
    lines = []
    for r in rows:
        name, arch = r.get("name", ""), r.get("arch", "")
        if arch and arch not in (native, "all") and ":" not in name:
            name = f"{name}:{arch}"  # how dpkg-query qualifies a foreign package
        lines.append(f"{name}\t{r.get('version', '')}\t{_abbrev(r.get('status'))}\t{arch}")
    return lines, native


def _abbrev(status: str | None) -> str:
    """dpkg's "install ok installed" as "ii " (no status column: an installed package)."""
    if status is None:
        return "ii "
    words = status.split()
    if len(words) != 3:
        return status  # does not parse: the dpkg parser rejects it with the row
    want, eflag, state = words
    return _WANT.get(want, "?") + _STATUS.get(state, "?") + _EFLAG.get(eflag, "?")


def _rpm_lines(rows: Sequence[dict[str, str]]) -> list[str]:
    """Rows as the probe's rpm lines (``%{EPOCHNUM}:%{VERSION}-%{RELEASE}``)."""
    lines = []
    for r in rows:
        epoch = r.get("epoch", "").strip() or "0"
        evr = f"{epoch}:{r.get('version', '')}-{r.get('release', '')}"
        lines.append(f"{r.get('name', '')}\t{evr}\t{r.get('arch', '')}")
    return lines


def pip_root(path: str) -> str:
    """The tree an inventory pip path's packages live in: a virtualenv dir as is, an
    interpreter (``/usr/bin/python3``, ``venv/bin/python``) its prefix."""
    p = path.rstrip("/")
    head, _, _ = p.rpartition("/")
    return head.rpartition("/")[0] if head.endswith("/bin") else p


def _pip_packages(
    rows: Sequence[dict[str, str]], pip: Sequence[str], warn: _Warnings
) -> tuple[list[InstalledPackage], tuple[str, ...]]:
    """python_packages rows by the inventory pip path whose tree holds their ``path``."""
    roots = sorted(((pip_root(p), p) for p in pip), key=lambda rp: -len(rp[0]))
    by_origin: dict[str, list[str]] = {}
    for r in rows:
        path = r.get("path", "") or r.get("directory", "")
        for root, origin in roots:
            rest = path[len(root) + 1 :] if path.startswith(root + "/") else None
            if rest is not None and rest.startswith(_SITE_DIRS):
                by_origin.setdefault(origin, []).append(
                    f"{r.get('name', '').strip()}\t{r.get('version', '').strip()}"
                )
                break
    packages: list[InstalledPackage] = []
    for origin, lines in by_origin.items():
        packages += parse_pip(sorted(lines), origin, warn)
    found = tuple(p for p in pip if p in by_origin)
    return packages, found


def _label(name: str, query: _Query) -> str:
    """A query as the report names it: its file (osqueryi), or its name in its log."""
    if name.startswith("osqueryi "):
        return printable(name, 200)
    return f"{printable(name, 80)} in {printable(query.source, 160)}"


def _utc(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _result(entry: _HostData, pip: Sequence[str]) -> SavedResult:
    when = dt.datetime.fromtimestamp(entry.newest, dt.timezone.utc)
    source = entry.files[0] if entry.files else "osquery results"
    here = f"osquery results for {printable(entry.name)}"
    warn = _Warnings()
    newest: dict[str, tuple[str, _Query]] = {}
    unbased: list[str] = []
    for name, query in sorted(entry.queries.items(), key=lambda nq: nq[1].updated):
        if not query.based:
            unbased.append(f"{printable(name, 80)} ({query.table})")
            continue
        older = newest.get(query.table)
        newest[query.table] = (name, query)
        if older is not None:  # two copies of one table (two exports, a log and an export)
            warn.add(
                f"osquery {query.table}: kept {_label(name, query)} ({_utc(query.updated)}), "
                f"ignored {_label(*older)} ({_utc(older[1].updated)})"
            )
    by_table = {table: list(q.rows.values()) for table, (_, q) in newest.items()}
    problems: list[str] = []
    os_release = None
    os_rows = by_table.get(OS, [])
    if os_rows:
        os_release = os_release_of(os_rows[-1])
        if os_release is None:
            problems.append("os_version: no platform and numeric major version")
    packages: list[InstalledPackage] = []
    if DEB in by_table:
        lines, native = _deb_lines(by_table[DEB])
        packages += parse_dpkg(lines, native, warn)
    if RPM in by_table:
        packages += parse_rpm(_rpm_lines(by_table[RPM]), warn)
    pip_found: tuple[str, ...] = ()
    if PYTHON in by_table and pip:
        pip_packages, pip_found = _pip_packages(by_table[PYTHON], pip, warn)
        packages += pip_packages
    for section, (count, first) in warn.unparsed.items():
        what = "1 row does" if count == 1 else f"{count} rows do"
        label = {SECTION_DPKG: DEB, SECTION_RPM: RPM}.get(section, section)
        problems.append(f"{label}: {what} not parse (first: {first})")
    if unbased:
        problems.append(
            "differential results without the initial run (counter 0) for "
            + ", ".join(unbased[:3])
            + ": the full state is not in these files"
        )
    if not os_rows and not problems:
        problems.append("no os_version results")
    if DEB not in by_table and RPM not in by_table and not problems:
        problems.append("no deb_packages or rpm_packages results")
    host = Host(name=entry.name, env="", roles=(), pip=pip_found)
    if problems:
        reason = f"{here}: " + "; ".join(problems)
        return SavedResult(
            HostFailure(host, FailureKind.INCOMPLETE, reason, warn.result()), when, source
        )
    snap = HostSnapshot(host, os_release, tuple(sorted(set(packages))), warn.result())
    return SavedResult(snap, when, source)
