"""A host read from a file tree (an image, an unpacked root filesystem), nothing executed in it.

The tree's files become the very sections the probe prints on a live host (os-release, dpkg,
rpm, pip) and go through the same parser (``parsers.parse_probe``), so an image is judged
exactly like a server. Paths are resolved the way a ``chroot`` would: an absolute symlink
starts again at the tree's root and ``..`` stops there, so no lookup can leave the tree.

Trees implement the small ``Tree`` protocol (``collectors.rootfs`` for directories on disk,
``collectors.image`` for layered images held in memory and spooled blobs).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from pinmgr.collectors.dpkg_status import dpkg_lines
from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.parsers import ProbeIncomplete, parse_probe
from pinmgr.collectors.probe import (
    APP_PREFIX,
    MARKER,
    PIP_PREFIX,
    RPM_FORMAT,
    SECTION_DPKG,
    SECTION_OS_RELEASE,
    SECTION_RPM,
    new_nonce,
)
from pinmgr.model import AppSource, FailureKind, Host, HostSnapshot

MAX_LINKS = 40
"""Symlinks followed for one path before giving up (Linux's own limit)."""

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Largest single file read from a tree (a dpkg status of 10,000 packages is ~10 MB)."""

RPM_DB_DIRS = ("/usr/lib/sysimage/rpm", "/var/lib/rpm")
RPM_DB_FILES = ("rpmdb.sqlite", "Packages", "Packages.db")
OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")

Node = tuple[str, str]
"""(kind, symlink target): kind is "file", "dir", "link" or "other"."""


class Tree(Protocol):
    """Read-only access to a root filesystem; every path is absolute within the tree."""

    label: str
    """How failures name the tree (its path)."""

    def node(self, key: str) -> Node | None:
        """What is at ``key`` (no leading slash, no symlink among its parents), or None."""
        ...

    def read(self, key: str, limit: int) -> bytes:
        """Contents of the regular file at a resolved ``key``; over ``limit`` is a failure."""
        ...

    def children(self, key: str) -> list[str]:
        """Names in the directory at a resolved ``key``, sorted."""
        ...


def resolve(tree: Tree, path: str) -> str | None:
    """The symlink-free key ``path`` leads to inside ``tree``, or None when nothing is there."""
    parts = [p for p in path.split("/") if p and p != "."]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        node = tree.node("/".join([*done, part]))
        if node is None:
            return None
        kind, target = node
        if kind == "link":
            hops += 1
            if hops > MAX_LINKS:
                return None
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        if parts and kind != "dir":
            return None
        done.append(part)
    return "/".join(done)


def read_file(tree: Tree, path: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """Contents of the regular file ``path`` leads to, or None when it is not one."""
    key = resolve(tree, path)
    if key is None or (node := tree.node(key)) is None or node[0] != "file":
        return None
    return tree.read(key, limit)


def list_dir(tree: Tree, path: str) -> tuple[str, list[str]] | None:
    """(resolved key, sorted names) of the directory ``path`` leads to, or None."""
    key = resolve(tree, path)
    if key is None:
        return None
    node = tree.node(key) if key else ("dir", "")
    if node is None or node[0] != "dir":
        return None
    return key, tree.children(key)


def snapshot_of(tree: Tree, host: Host) -> HostSnapshot:
    """The host snapshot ``tree`` holds, through the probe's own parser.

    Raises ``CollectFailed``: INCOMPLETE for data that does not parse (as for a live host),
    COLLECT_ERROR when the rpm database cannot be read here.
    """
    nonce = new_nonce()
    out: list[str] = []

    def section(name: str, lines: list[str]) -> None:
        out.append(f"{MARKER} {nonce} begin {name}")
        out.extend(lines)
        out.append("")
        out.append(f"{MARKER} {nonce} end {name} 0")

    os_text = next(
        (text for p in OS_RELEASE_FILES if (text := read_file(tree, p)) is not None), b""
    )
    section(SECTION_OS_RELEASE, _text(os_text).splitlines())
    status = dpkg_lines(tree)
    if status is not None:
        section(SECTION_DPKG, status)
    rpm = _rpm_lines(tree)
    if rpm is not None:
        section(SECTION_RPM, rpm)
    for index, entry in enumerate(host.pip):
        section(f"{PIP_PREFIX}{index}", list(_pip_lines(tree, entry)))
    for index, app in enumerate(host.apps):
        if app.source is AppSource.GIT:
            section(f"{APP_PREFIX}{index}", _git_head(tree, app.path))
        elif app.source is AppSource.FILE:
            line = _first_line(tree, f"{app.path.rstrip('/')}/{app.file}")
            section(f"{APP_PREFIX}{index}", ["absent"] if line is None else [f"file\t{line}"])
    out.append(f"{MARKER} {nonce} done")
    try:
        return parse_probe(host, ("\n".join(out) + "\n").encode(), nonce)
    except ProbeIncomplete as exc:
        raise CollectFailed(FailureKind.INCOMPLETE, exc.reason, warnings=exc.warnings) from exc


def _first_line(tree: Tree, path: str) -> str | None:
    data = read_file(tree, path, 1024 * 1024)
    if data is None:
        return None
    lines = _text(data).splitlines()
    return lines[0] if lines else ""


def _git_head(tree: Tree, path: str) -> list[str]:
    """The lines ``probe.GIT_HEAD`` prints for the checkout at ``path``, read from the tree."""
    git = f"{path.rstrip('/')}/.git"
    pointer = _first_line(tree, git)
    if pointer is not None:  # a worktree: .git is a file naming the git dir
        target = pointer.removeprefix("gitdir: ")
        git = target if target.startswith("/") else f"{path.rstrip('/')}/{target}"
    head = _first_line(tree, f"{git}/HEAD")
    if head is None:
        return ["absent"]
    out = [f"head\t{head}"]
    common = git
    if (shared := _first_line(tree, f"{git}/commondir")) is not None:
        common = shared if shared.startswith("/") else f"{git}/{shared}"
    if not head.startswith("ref: "):
        return out
    ref = head[5:]
    for base in (git, common):
        if (value := _first_line(tree, f"{base}/{ref}")) is not None:
            return [*out, f"ref\t{value}"]
    packed = read_file(tree, f"{common}/packed-refs", 64 * 1024 * 1024)
    for line in _text(packed or b"").splitlines():
        if line.endswith(f" {ref}"):
            return [*out, f"packed\t{line.split(' ', 1)[0]}"]
    return out


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def _rpm_lines(tree: Tree) -> list[str] | None:
    """``rpm -qa`` lines from the tree's database, read by the real librpm from a copy.

    The database files are copied out (resolved inside the tree) and opened with
    ``--dbpath``: rpm never sees the tree itself, so a symlink in it cannot point rpm at this
    machine's files.
    """
    for db_dir in RPM_DB_DIRS:
        found = list_dir(tree, db_dir)
        if found is None or not any(name in found[1] for name in RPM_DB_FILES):
            continue
        key, names = found
        rpm = shutil.which("rpm")
        if rpm is None:
            raise CollectFailed(
                FailureKind.COLLECT_ERROR,
                f"{tree.label}: has an rpm database ({db_dir}) but rpm is not installed here "
                "(apt-get install rpm)",
            )
        with tempfile.TemporaryDirectory(prefix="pinmgr-rpmdb-") as tmp:
            for name in names:
                node = tree.node(f"{key}/{name}")
                if node is not None and node[0] == "file":
                    Path(tmp, name).write_bytes(tree.read(f"{key}/{name}", MAX_FILE_BYTES))
            proc = subprocess.run(
                [rpm, "--dbpath", tmp, "-qa", "--qf", RPM_FORMAT],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=300,
                check=False,
            )
        if proc.returncode != 0:
            detail = _text(proc.stderr).strip().splitlines()
            raise CollectFailed(
                FailureKind.COLLECT_ERROR,
                f"{tree.label}: rpm cannot read the database in {db_dir}"
                + (f": {detail[0]}" if detail else ""),
            )
        return _text(proc.stdout).splitlines()
    return None


_PYTHON_VERSION = re.compile(r"python(\d+\.\d+)$")


def _pip_lines(tree: Tree, entry: str) -> Iterator[str]:
    """``name<TAB>version`` of the distributions ``entry`` (virtualenv or interpreter) sees.

    Nothing runs: a virtualenv's site-packages (and the directories its ``.pth`` path lines
    add) are read; an interpreter path stands for the default ``sys.path`` of Debian, Ubuntu,
    Fedora/RHEL and python.org builds of its version. The first of each name wins in the parser.
    """
    venv = list_dir(tree, entry)
    if venv is not None:
        for lib in _site_dirs_of_venv(tree, venv[0]):
            yield from _site_lines(tree, lib)
        return
    key = resolve(tree, entry)
    if key is None:
        return
    name = key.rsplit("/", 1)[-1]
    prefix = "/" + key.rsplit("/", 2)[0] if key.count("/") >= 2 else "/usr"
    match = _PYTHON_VERSION.search(name)
    versions = [match.group(1)] if match else _python_versions(tree, prefix)
    for v in versions:
        for site in (
            f"/usr/local/lib/python{v}/dist-packages",
            "/usr/lib/python3/dist-packages",
            f"/usr/lib/python{v}/dist-packages",
            f"{prefix}/lib64/python{v}/site-packages",
            f"{prefix}/lib/python{v}/site-packages",
            f"/usr/local/lib64/python{v}/site-packages",
            f"/usr/local/lib/python{v}/site-packages",
            f"/usr/lib64/python{v}/site-packages",
            f"/usr/lib/python{v}/site-packages",
        ):
            yield from _site_lines(tree, site)


def _python_versions(tree: Tree, prefix: str) -> list[str]:
    found = list_dir(tree, f"{prefix}/lib")
    names = found[1] if found else []
    versions = [m.group(1) for n in names if (m := _PYTHON_VERSION.fullmatch(n))]
    return sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)


def _site_dirs_of_venv(tree: Tree, key: str) -> Iterator[str]:
    lib = list_dir(tree, f"/{key}/lib")
    for name in lib[1] if lib else []:
        if _PYTHON_VERSION.fullmatch(name):
            site = f"/{key}/lib/{name}/site-packages"
            yield site
            listed = list_dir(tree, site)
            for pth in [n for n in listed[1] if n.endswith(".pth")] if listed else []:
                text = read_file(tree, f"{site}/{pth}", 1024 * 1024) or b""
                for raw in _text(text).splitlines():
                    line = raw.strip()
                    if not line or line.startswith(("#", "import ", "import\t")):
                        continue
                    yield line if line.startswith("/") else f"{site}/{line}"


def _site_lines(tree: Tree, site: str) -> Iterator[str]:
    listed = list_dir(tree, site)
    if listed is None:
        return
    key, names = listed
    for name in names:
        if name.endswith(".dist-info"):
            meta = read_file(tree, f"/{key}/{name}/METADATA", 4 * 1024 * 1024)
        elif name.endswith(".egg-info"):
            meta = read_file(tree, f"/{key}/{name}/PKG-INFO", 4 * 1024 * 1024)
            if meta is None:
                meta = read_file(tree, f"/{key}/{name}", 4 * 1024 * 1024)
        else:
            continue
        if meta is not None and (line := _name_version(meta)) is not None:
            yield line


def _name_version(meta: bytes) -> str | None:
    """``Name<TAB>Version`` from metadata headers (the first of each, up to the first blank)."""
    fields: dict[str, str] = {}
    for raw in _text(meta).splitlines():
        if not raw.strip():
            break
        key, sep, value = raw.partition(":")
        if sep and key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    name = fields.get("Name", "")
    if not name:
        return None
    return f"{name}\t{fields.get('Version', '')}"
