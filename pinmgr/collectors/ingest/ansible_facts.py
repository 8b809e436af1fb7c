"""Ansible facts saved by Ansible itself: a ``jsonfile`` fact cache, or ``--tree`` output.

Teams that already sweep the fleet with Ansible check that data instead of a second SSH sweep.
Needed facts: ``setup`` (the OS release) and ``package_facts`` (the packages). Layouts read:

* ``jsonfile`` fact cache (``ANSIBLE_CACHE_PLUGIN=jsonfile``): one file per host with every
  cached fact at the top level; ansible-core 2.19 names it ``s1_<host>`` and wraps the facts in
  ``{"__payload__": "<JSON string>"}``, older releases write the plain object named ``<host>``.
* ``ansible HOSTS -m setup|package_facts --tree DIR``: one file per host named ``<host>``,
  ``{"ansible_facts": {...}, "changed": false}``, or ``{"unreachable": true, "msg": ...}``.

Several directories or files are combined per host first (a ``setup`` tree plus a
``package_facts`` tree give one host). Everything read is untrusted: files and strings are
bounded, types checked, and a bad file is one ``IngestError`` line naming it.
"""

from __future__ import annotations

import array
import concurrent.futures
import contextlib
import datetime as dt
import gc
import itertools
import json
import multiprocessing
import operator
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from pinmgr.errors import PinmgrError
from pinmgr.model import (
    Ecosystem,
    FailureKind,
    Host,
    HostFailure,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
    SavedResult,
)

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_STRING = 4096
MAX_FILES = 1_000_000
PAYLOAD_KEY = "__payload__"
_SCHEMA_PREFIX = re.compile(r"s[0-9]+_(.+)", re.DOTALL)

# ansible_distribution -> (os-release ID, whether VERSION_ID is the major version only).
# Debian's VERSION_ID is "12" (ansible_distribution_version says "12.11"); Ubuntu's is "22.04",
# RHEL and its rebuilds carry the minor ("9.3"; the lockfile's rocky-9 still matches it).
DISTRIBUTIONS: dict[str, tuple[str, bool]] = {
    "Debian": ("debian", True),
    "Ubuntu": ("ubuntu", False),
    "RedHat": ("rhel", False),
    "Rocky": ("rocky", False),
    "AlmaLinux": ("almalinux", False),
    "CentOS": ("centos", True),
    "Fedora": ("fedora", True),
    "OracleLinux": ("ol", False),
    "Amazon": ("amzn", True),
    "SLES": ("sles", False),
    "openSUSE Leap": ("opensuse-leap", False),
    "Linux Mint": ("linuxmint", False),
}

KEPT_FACTS = frozenset(
    {
        "ansible_distribution",
        "ansible_distribution_version",
        "ansible_distribution_major_version",
        "ansible_date_time",
        "packages",
        "ansible_packages",
    }
)

# package_facts "source" (the package manager it asked) -> ecosystem.
MANAGERS = {"apt": Ecosystem.DEB, "rpm": Ecosystem.RPM}


class IngestError(PinmgrError):
    """Saved facts cannot be read: the message names the file (and host)."""


def printable(text: str, limit: int = 200) -> str:
    out = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[:limit])
    return out + ("…" if len(text) > limit else "")


@dataclass
class _HostFacts:
    """Facts of one host gathered from one or more files, before they become model values."""

    name: str
    facts: dict[str, object] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    mtime: float = 0.0
    failures: list[tuple[FailureKind, str]] = field(default_factory=list)
    # "packages" / "ansible_packages" facts, made rows of the reader's table as each file is
    # read (a fleet's raw package facts, thousands of dicts per host, are never all alive at
    # once): sorted row indices and warnings, then the packages themselves.
    ids: dict[str, tuple[array.array[int], list[str]]] = field(default_factory=dict)
    packages: dict[str, tuple[list[InstalledPackage], list[str]]] = field(default_factory=dict)


_ORDER = operator.attrgetter("ecosystem", "name", "version", "arch", "state", "origin")
_Fields = tuple[Ecosystem, str, str, str]
_Types = tuple[tuple[type, ...], ...]
_SCALARS = frozenset({str, type(None), int, float, bool})
_PLAIN = frozenset({str, type(None)})
_ABSENT = object()  # equal to nothing a JSON document holds (a package fact may be null)


@dataclass(slots=True)
class _Answer:
    """What a list of package entries gave, kept to answer an equal list again."""

    entries: list[object]
    rows: tuple[int, ...]
    ignored: tuple[str, ...]  # the manager of each entry left out (counted in a warning)
    types: _Types | None  # value types per entry; None when all are strings or null


class _Reader:
    """Package facts made model values, once per reader (this process, or a worker).

    Each distinct package is one row of ``table``; hosts hold sorted row indices. A fleet's
    hosts repeat the same entries: a host's list under one name equal to a list seen before
    (any host) is answered whole instead of validated entry by entry. Equal is not enough
    where JSON's types differ but compare equal (``1``, ``1.0``, ``true``): such lists are
    answered only when their value types are the same too. Lists of strings only (apt's) are
    also kept per release (``common``): a host's lists are compared with those all at once,
    in C, and only the ones that differ are looked at one by one.
    """

    def __init__(self) -> None:
        self.table: list[InstalledPackage] = []
        self.order: list[tuple[object, ...]] = []  # each row's sort key
        self.rows: dict[_Fields, int] = {}
        self.answers: dict[tuple[str, str | None], _Answer] = {}
        # release -> (name -> entries, name -> their rows): the first list of strings only
        # seen under each name, for hosts of that release.
        self.common: dict[object, tuple[dict[str, object], dict[str, tuple[int, ...]]]] = {}

    def row(self, fields: _Fields) -> int:
        row = self.rows.get(fields)
        if row is None:
            row = self.rows[fields] = len(self.table)
            package = InstalledPackage(*fields)
            self.table.append(package)
            self.order.append(_ORDER(package))
        return row


def looks_like_facts(document: object) -> bool:
    """Whether a parsed JSON document is one of the layouts above (sniffed by content)."""
    if not isinstance(document, dict):
        return False
    if PAYLOAD_KEY in document or "ansible_facts" in document:
        return True
    if document.get("unreachable") is True or document.get("failed") is True:
        return True
    return "packages" in document or any(
        isinstance(k, str) and k.startswith("ansible_") for k in document
    )


def read_bounded(fh: BinaryIO, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of an open file (more means too big).

    Asking ``read`` for ``limit + 1`` bytes allocates that much first: 256 MB for each of a
    fleet's fact files (0.2-0.6 ms a file, against 0.1 ms sized by ``fstat``). A file that
    grew since, or that has no size (a pipe), is read on up to the bound.
    """
    size = os.fstat(fh.fileno()).st_size
    data = fh.read(min(size, limit) + 1)
    if size < len(data) <= limit:
        data += fh.read(limit + 1 - len(data))
    return data


def read_json(path: Path) -> object:
    """A bounded JSON file; one ``IngestError`` line for anything unreadable."""
    try:
        with path.open("rb") as fh:
            data = read_bounded(fh, MAX_FILE_BYTES)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise IngestError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return _parse(data, str(path))


def _parse(data: bytes | str, where: str) -> object:
    try:
        return orjson.loads(data)  # half the time of json's, for the two parses per host
    except orjson.JSONDecodeError:
        pass  # the standard parser decides (it also reads NaN, lone surrogates) and says where
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{where}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise IngestError(f"{where}: not usable JSON: {type(exc).__name__}") from None


def files_of(path: Path) -> list[Path]:
    """A directory's files (dot files skipped, as Ansible's cache does), or the file itself."""
    if not path.is_dir():
        return [path]
    try:
        entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise IngestError(f"{path}: cannot list: {exc.strerror or exc}") from None
    if len(entries) > MAX_FILES:
        raise IngestError(f"{path}: more than {MAX_FILES} files")
    files = [p for p in entries if p.is_file()]
    if not files:
        raise IngestError(f"{path}: no fact files in this directory")
    return files


PARALLEL_FILES = 256
"""From this many fact files on, they are read in worker processes (one per CPU, at most 4):
parsing two JSON documents per file is most of a fact-cache check. Fewer are read here."""


def read(paths: Sequence[Path], documents: dict[Path, object] | None = None) -> list[SavedResult]:
    """Every host in ``paths`` (directories or single files), facts combined per host.

    ``documents``: files the caller has already parsed (to sniff their format), by path.
    """
    files = [file for path in paths for file in files_of(path)]
    workers = min(os.cpu_count() or 1, 4) if len(files) >= PARALLEL_FILES else 1
    parallel = workers > 1
    hosts = _read_in_workers(files, workers) if parallel else _read_here(files, documents or {})
    return [_result(h) for h in sorted(hosts.values(), key=lambda h: h.name)]


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Parsed facts are millions of short-lived containers in no cycle: the collector's
    passes over them were a fifth of reading a fleet's cache, and found nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_here(files: Sequence[Path], documents: dict[Path, object]) -> dict[str, _HostFacts]:
    """``_read_files`` in this process, the hosts' packages made from the table."""
    reader = _Reader()
    with _no_cycle_collection():
        hosts = _read_files(files, documents, reader)
    for entry in hosts.values():
        entry.packages = {
            key: (list(map(reader.table.__getitem__, rows)), warnings)
            for key, (rows, warnings) in entry.ids.items()
        }
        entry.ids = {}
    return hosts


def _read_files(
    files: Sequence[Path], documents: dict[Path, object], reader: _Reader
) -> dict[str, _HostFacts]:
    """The files, in order, as hosts (facts of one host's several files combined)."""
    hosts: dict[str, _HostFacts] = {}
    for file in files:
        doc = documents.get(file)
        if doc is None:
            doc = read_json(file)
        _add(hosts, file, doc, reader)
    return hosts


_Packed = tuple[
    dict[str, _HostFacts],  # hosts, their package rows emptied
    list[_Fields],  # the chunk's distinct packages, by fields
    dict[tuple[str, str], tuple[bytes, list[str]]],  # (host, key) -> rows, warnings
]


def _read_chunk(files: Sequence[Path]) -> _Packed:
    """A worker's slice, packed small: each distinct package once, hosts as row arrays
    (unpickling a fleet's millions of package references cost more than reading them)."""
    reader = _Reader()
    with _no_cycle_collection():
        hosts = _read_files(files, {}, reader)
    table = [(p.ecosystem, p.name, p.version, p.arch) for p in reader.table]
    lists: dict[tuple[str, str], tuple[bytes, list[str]]] = {}
    for name, entry in hosts.items():
        for key, (rows, warnings) in entry.ids.items():
            lists[(name, key)] = (rows.tobytes(), warnings)
        entry.ids = {}
    return hosts, table, lists


def _read_in_workers(files: Sequence[Path], workers: int) -> dict[str, _HostFacts]:
    """``_read_files`` on consecutive slices in worker processes, merged in file order (the
    first bad file is still the one reported); equal packages are one value across slices
    (``check`` compares hosts' packages by identity)."""
    size = -(-len(files) // (workers * 4))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    hosts: dict[str, _HostFacts] = {}
    shared: dict[_Fields, InstalledPackage] = {}
    # fork: the workers need nothing but this module, already imported; no thread runs yet.
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        for part, rows, lists in pool.map(_read_chunk, chunks):
            table = [shared.setdefault(fields, InstalledPackage(*fields)) for fields in rows]
            for (name, key), (raw, warnings) in lists.items():
                ids = array.array("I")
                ids.frombytes(raw)
                part[name].packages[key] = (list(map(table.__getitem__, ids)), warnings)
            for name, entry in part.items():
                mine = hosts.get(name)
                if mine is None:
                    hosts[name] = entry
                    continue
                mine.files.extend(entry.files)
                mine.mtime = max(mine.mtime, entry.mtime)
                mine.failures.extend(entry.failures)
                mine.packages.update(entry.packages)
                mine.facts.update(entry.facts)
    return hosts


def _where(entry: _HostFacts) -> str:
    return ", ".join(entry.files[:3]) + (" …" if len(entry.files) > 3 else "")


def _add(hosts: dict[str, _HostFacts], file: Path, document: object, reader: _Reader) -> None:
    where = str(file)
    if not isinstance(document, dict):
        raise IngestError(f"{where}: not Ansible facts (expected a JSON object)")
    name = file.name
    if PAYLOAD_KEY in document:
        payload = document[PAYLOAD_KEY]
        if not isinstance(payload, str):
            raise IngestError(f"{where}: {PAYLOAD_KEY} is not a string")
        document = _parse(payload, f"{where} ({PAYLOAD_KEY})")
        if not isinstance(document, dict):
            raise IngestError(f"{where}: {PAYLOAD_KEY} does not hold a JSON object")
        m = _SCHEMA_PREFIX.fullmatch(name)
        name = m.group(1) if m else name
    if len(name) > MAX_STRING:
        raise IngestError(f"{where}: host name longer than {MAX_STRING} characters")
    entry = hosts.setdefault(name, _HostFacts(name))
    entry.files.append(where)
    with contextlib.suppress(OSError):
        entry.mtime = max(entry.mtime, file.stat().st_mtime)
    if document.get("unreachable") is True or document.get("failed") is True:
        kind = FailureKind.UNREACHABLE if document.get("unreachable") else FailureKind.COLLECT_ERROR
        msg = document.get("msg")
        reason = printable(msg) if isinstance(msg, str) else "Ansible reported a failure"
        entry.failures.append((kind, f"Ansible: {reason}"))
        return
    facts = document.get("ansible_facts", document)
    if not isinstance(facts, dict):
        raise IngestError(f"{where}: host {printable(name)}: ansible_facts is not an object")
    # Only what pinmgr reads is kept: a fleet's cache holds ~130 other facts per host.
    kept = {k: v for k, v in facts.items() if k in KEPT_FACTS}
    for key in ("packages", "ansible_packages"):
        if key in kept:
            here = f"{_where(entry)}: host {printable(entry.name)}"
            raw = kept.pop(key)
            if raw is not None:
                rows, warnings = _package_rows(raw, here, reader, _release_of(kept))
                entry.ids[key] = (array.array("I", rows), warnings)
    entry.facts.update(kept)


def _str(value: object, where: str, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise IngestError(f"{where}: {what}: expected a string")
    if len(value) > MAX_STRING:
        raise IngestError(f"{where}: {what}: longer than {MAX_STRING} characters")
    if not value and not empty:
        raise IngestError(f"{where}: {what}: empty")
    return value


def os_release_of(facts: dict[str, object], where: str) -> OsRelease | None:
    """``ansible_distribution*`` facts as the os-release ``ID`` and ``VERSION_ID``."""
    distribution = facts.get("ansible_distribution")
    if distribution is None:
        return None
    dist = _str(distribution, where, "ansible_distribution")
    version = _str(facts.get("ansible_distribution_version", ""), where, "version", empty=True)
    major = facts.get("ansible_distribution_major_version", version.split(".")[0])
    major = _str(major, where, "ansible_distribution_major_version", empty=True)
    os_id, major_only = DISTRIBUTIONS.get(dist, (dist.lower().replace(" ", "-"), False))
    return OsRelease(os_id, major if major_only else version)


def _version(entry: dict[str, object], where: str) -> str:
    """The version as pinmgr's own probe prints it (dpkg ``${Version}``, rpm ``[E:]V-R``)."""
    version = _str(entry.get("version"), where, "version")
    release = entry.get("release")
    epoch = entry.get("epoch")
    if isinstance(release, str) and release and not version.endswith(f"-{release}"):
        version = f"{version}-{_str(release, where, 'release')}"
    if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch < 2**64:
        # (orjson reads a bigger integer as a float, ignored: both parsers give one answer)
        epoch = str(epoch)
    if isinstance(epoch, str) and epoch.isdigit() and int(epoch) > 0 and ":" not in version:
        version = f"{int(epoch)}:{version}"
    if len(version) > MAX_STRING:
        raise IngestError(f"{where}: version longer than {MAX_STRING} characters")
    return version


def packages_of(
    facts: dict[str, object], where: str
) -> tuple[list[InstalledPackage], list[str]] | None:
    """``package_facts`` packages (deb and rpm), sorted, and warnings for what was left out."""
    raw = facts.get("packages", facts.get("ansible_packages"))
    if raw is None:
        return None
    reader = _Reader()
    rows, warnings = _package_rows(raw, where, reader)
    return list(map(reader.table.__getitem__, rows)), warnings


def _package_rows(
    raw: object, where: str, reader: _Reader, release: object = None
) -> tuple[list[int], list[str]]:
    """One host's ``packages`` fact as sorted rows of ``reader``'s table, and warnings.

    ``release``: what the host's lists are compared with first (its release, say).
    """
    if not isinstance(raw, dict):
        raise IngestError(f"{where}: packages: expected an object of name -> list")
    common_entries, common_rows = reader.common.setdefault(release, ({}, {}))
    # Names in order: the rows then come nearly sorted, which their sort below is quick on.
    keys = sorted(raw)
    same = list(
        map(
            operator.eq,
            map(raw.__getitem__, keys),
            map(common_entries.get, keys, itertools.repeat(_ABSENT)),
        )
    )
    rows = list(
        itertools.chain.from_iterable(map(common_rows.__getitem__, itertools.compress(keys, same)))
    )
    ignored: dict[str, int] = {}
    answers = reader.answers
    for key in itertools.compress(keys, map(operator.not_, same)):
        entries = raw[key]
        if not isinstance(entries, list):
            raise IngestError(f"{where}: packages[{printable(key)}]: expected a list")
        # (inline, not a method: this runs for every package of every host)
        first = entries[0] if entries else None
        version = first.get("version") if type(first) is dict else None
        kept_at = (key, version if type(version) is str else None)
        answer = answers.get(kept_at)
        if (
            answer is None
            or answer.entries != entries
            or (answer.types is not None and _types_of(entries) != answer.types)
        ):
            answer = _answer(entries, key, where, reader)
            # Nested values are not kept: equal is not the same there.
            if answer.types is None or all(map(_SCALARS.issuperset, answer.types)):
                answers[kept_at] = answer
        if answer.types is None and not answer.ignored and key not in common_entries:
            common_entries[key] = answer.entries
            common_rows[key] = answer.rows
        rows.extend(answer.rows)
        for manager in answer.ignored:
            ignored[manager] = ignored.get(manager, 0) + 1
    warnings = [
        f"Ansible facts: {n} package(s) from {printable(m) or 'an unnamed manager'} ignored "
        "(pinmgr checks deb and rpm from package_facts)"
        for m, n in sorted(ignored.items())
    ]
    rows.sort(key=reader.order.__getitem__)
    return rows, warnings


def _release_of(facts: dict[str, object]) -> object:
    """Which hosts' package lists this host's are compared with first (same release)."""
    release = (facts.get("ansible_distribution"), facts.get("ansible_distribution_version"))
    return release if all(type(v) is str for v in release) else None


def _types_of(entries: list[object]) -> _Types:
    return tuple(tuple(map(type, e.values())) if type(e) is dict else (type(e),) for e in entries)


def _answer(entries: list[object], key: str, where: str, reader: _Reader) -> _Answer:
    """Each entry of one name validated: table rows, and the managers left out."""
    rows: list[int] = []
    ignored: list[str] = []
    for entry in entries:
        found = _package(entry, key, where, reader)
        if isinstance(found, int):
            rows.append(found)
        elif found is not None:
            ignored.append(found)
    types = _types_of(entries)
    plain = all(map(_PLAIN.issuperset, types))
    return _Answer(list(entries), tuple(rows), tuple(ignored), None if plain else types)


def _package(entry: object, key: str, where: str, reader: _Reader) -> int | str | None:
    """One ``package_facts`` entry validated: its table row, None (skipped: gpg-pubkey), or
    the name of a manager pinmgr does not check (counted in a warning)."""
    here = f"{where}: packages[{printable(key)}]"
    if not isinstance(entry, dict):
        raise IngestError(f"{here}: expected objects")
    manager = _str(entry.get("source", ""), here, "source", empty=True)
    eco = MANAGERS.get(manager)
    if eco is None:
        return manager
    name = _str(entry.get("name", key), here, "name")
    if eco is Ecosystem.RPM and name == "gpg-pubkey":
        return None
    arch = entry.get("arch") or ""
    return reader.row((eco, name, _version(entry, here), _str(arch, here, "arch", empty=True)))


def _collected_at(entry: _HostFacts) -> dt.datetime:
    """When setup ran (``ansible_date_time.epoch``), else the newest file's mtime."""
    date_time = entry.facts.get("ansible_date_time")
    if isinstance(date_time, dict):
        epoch = date_time.get("epoch")
        if isinstance(epoch, str) and epoch.isdigit() and len(epoch) <= 12:
            return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
    return dt.datetime.fromtimestamp(entry.mtime, dt.timezone.utc)


def _result(entry: _HostFacts) -> SavedResult:
    host = Host(name=entry.name, env="", roles=())
    where = _where(entry)
    here = f"{where}: host {printable(entry.name)}"
    source = entry.files[0]
    os_release = os_release_of(entry.facts, here)
    packages = entry.packages.get("packages", entry.packages.get("ansible_packages"))
    failure_notes = tuple(reason for _, reason in entry.failures)
    if os_release is not None and packages is not None:
        snap = HostSnapshot(host, os_release, tuple(packages[0]), (*packages[1], *failure_notes))
        return SavedResult(snap, _collected_at(entry), source)
    if entry.failures and not entry.facts and not entry.packages:
        kind, reason = entry.failures[0]
        return SavedResult(
            HostFailure(host, kind, reason, failure_notes[1:]), _collected_at(entry), source
        )
    lacking = []
    if os_release is None:
        lacking.append("no OS facts (ansible_distribution: gather setup)")
    if packages is None:
        lacking.append("no package facts (run package_facts)")
    reason = f"Ansible facts in {where}: {' and '.join(lacking)}"
    return SavedResult(
        HostFailure(host, FailureKind.INCOMPLETE, reason, failure_notes),
        _collected_at(entry),
        source,
    )
