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
import json
import multiprocessing
import operator
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
    # "packages" / "ansible_packages" facts, turned into model values as each file is read:
    # a fleet's raw package facts (thousands of dicts per host) are never all alive at once.
    packages: dict[str, tuple[list[InstalledPackage], list[str]]] = field(default_factory=dict)


_Memo = dict[tuple[object, ...], "InstalledPackage | str | None"]
"""Packages already made, shared between hosts: by their fields, and by the raw fact entry
(``(_RAW, key, *entry.items())``) -> the package, None (skipped) or the ignored manager."""
_RAW = object()
_MISS = object()
_ORDER = operator.attrgetter("ecosystem", "name", "version", "arch", "state", "origin")


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


def read_json(path: Path) -> object:
    """A bounded JSON file; one ``IngestError`` line for anything unreadable."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise IngestError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return _parse(data, str(path))


def _parse(data: bytes | str, where: str) -> object:
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
    hosts = _read_in_workers(files, workers) if parallel else _read_files(files, documents or {})
    return [_result(h) for h in sorted(hosts.values(), key=lambda h: h.name)]


def _read_files(files: Sequence[Path], documents: dict[Path, object]) -> dict[str, _HostFacts]:
    """The files, in order, as hosts (facts of one host's several files combined)."""
    hosts: dict[str, _HostFacts] = {}
    memo: _Memo = {}  # equal packages of different hosts are one shared value
    for file in files:
        doc = documents.get(file)
        if doc is None:
            doc = read_json(file)
        _add(hosts, file, doc, memo)
    return hosts


_Packed = tuple[
    dict[str, _HostFacts],  # hosts, their package lists emptied
    list[tuple[Ecosystem, str, str, str]],  # the chunk's distinct packages, by fields
    dict[tuple[str, str], tuple[bytes, list[str]]],  # (host, key) -> indices, warnings
]


def _read_chunk(files: Sequence[Path]) -> _Packed:
    """A worker's slice, packed small: each distinct package once, hosts as index arrays
    (unpickling a fleet's millions of package references cost more than reading them)."""
    hosts = _read_files(files, {})
    index: dict[int, int] = {}
    table: list[tuple[Ecosystem, str, str, str]] = []
    lists: dict[tuple[str, str], tuple[bytes, list[str]]] = {}
    for name, entry in hosts.items():
        for key, (pkgs, warnings) in entry.packages.items():
            for pkg in pkgs:
                if id(pkg) not in index:
                    index[id(pkg)] = len(table)
                    table.append((pkg.ecosystem, pkg.name, pkg.version, pkg.arch))
            ids = array.array("I", map(index.__getitem__, map(id, pkgs)))
            lists[(name, key)] = (ids.tobytes(), warnings)
        entry.packages = {}
    return hosts, table, lists


def _read_in_workers(files: Sequence[Path], workers: int) -> dict[str, _HostFacts]:
    """``_read_files`` on consecutive slices in worker processes, merged in file order (the
    first bad file is still the one reported); equal packages are one value across slices
    (``check`` compares hosts' packages by identity)."""
    size = -(-len(files) // (workers * 4))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    hosts: dict[str, _HostFacts] = {}
    shared: dict[tuple[Ecosystem, str, str, str], InstalledPackage] = {}
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


def _add(hosts: dict[str, _HostFacts], file: Path, document: object, memo: _Memo) -> None:
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
            found = packages_of({"packages": kept.pop(key)}, here, memo)
            if found is not None:
                entry.packages[key] = found
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
    if isinstance(epoch, int) and not isinstance(epoch, bool):
        epoch = str(epoch)
    if isinstance(epoch, str) and epoch.isdigit() and int(epoch) > 0 and ":" not in version:
        version = f"{int(epoch)}:{version}"
    if len(version) > MAX_STRING:
        raise IngestError(f"{where}: version longer than {MAX_STRING} characters")
    return version


def packages_of(
    facts: dict[str, object], where: str, memo: _Memo | None = None
) -> tuple[list[InstalledPackage], list[str]] | None:
    """``package_facts`` packages (deb and rpm) and warnings for what was left out.

    ``memo``: packages already made, by their fields, to share between hosts.
    """
    if memo is None:
        memo = {}
    raw = facts.get("packages", facts.get("ansible_packages"))
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise IngestError(f"{where}: packages: expected an object of name -> list")
    out: list[InstalledPackage] = []
    ignored: dict[str, int] = {}
    for key, entries in raw.items():
        if not isinstance(entries, list):
            raise IngestError(f"{where}: packages[{printable(key)}]: expected a list")
        for entry in entries:
            # A fleet's hosts repeat the same entries: one equal to an entry seen before (any
            # host) gives the same answer, found by its raw fields; a new one is validated.
            raw_key: tuple[object, ...] | None = None
            if type(entry) is dict:
                raw_key = (_RAW, key, *entry.items())
                try:
                    known = memo.get(raw_key, _MISS)
                except TypeError:  # a list or an object among the values: validated below
                    raw_key, known = None, _MISS
                if known is not _MISS:
                    if isinstance(known, InstalledPackage):
                        out.append(known)
                    elif isinstance(known, str):
                        ignored[known] = ignored.get(known, 0) + 1
                    continue
            answer = _package(entry, key, where, memo)
            if raw_key is not None:
                memo[raw_key] = answer
            if isinstance(answer, InstalledPackage):
                out.append(answer)
            elif isinstance(answer, str):
                ignored[answer] = ignored.get(answer, 0) + 1
    warnings = [
        f"Ansible facts: {n} package(s) from {printable(m) or 'an unnamed manager'} ignored "
        "(pinmgr checks deb and rpm from package_facts)"
        for m, n in sorted(ignored.items())
    ]
    return sorted(out, key=_ORDER), warnings


def _package(entry: object, key: str, where: str, memo: _Memo) -> InstalledPackage | str | None:
    """One ``package_facts`` entry validated: the package, None (skipped: gpg-pubkey), or the
    name of a manager pinmgr does not check (counted in a warning)."""
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
    fields = (eco, name, _version(entry, here), _str(arch, here, "arch", empty=True))
    pkg = memo.get(fields)
    if not isinstance(pkg, InstalledPackage):
        pkg = InstalledPackage(*fields)
        memo[fields] = pkg
    return pkg


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
