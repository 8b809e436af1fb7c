"""A container image read as a host, with no container engine: OCI layouts, OCI archives and
``docker save`` / ``podman save`` tarballs.

The layers are applied in order into a tree held in memory (``.wh.`` whiteouts and opaque
directories honoured, as the OCI image spec says); only the files pinmgr reads (os-release,
dpkg and rpm databases, Python metadata) keep their contents, spooled to a private temporary
directory under names pinmgr makes up. Nothing from the image is ever written to a path the
image chose, and nothing in it runs. A layer member with an absolute name or a ``..``
component, a relative symlink climbing above the root, or a member written through a symlink
(the tar-slip tricks) makes the whole image a failure: an image built by a real tool has none.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import platform
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from pinmgr.collectors.errors import CollectFailed
from pinmgr.collectors.tree import Node, snapshot_of
from pinmgr.model import FailureKind, Host, HostSnapshot

MAX_LAYER_BYTES = 16 * 1024**3
"""Default cap on the uncompressed bytes of all layers together (``PINMGR_IMAGE_MAX_BYTES``)."""

MAX_MEMBERS = 2_000_000
MAX_JSON_BYTES = 4 * 1024 * 1024
"""index.json, manifests, docker's manifest.json: small documents; anything bigger is hostile."""

_DIGEST = re.compile(r"(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})")
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_MACHINE_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}


def max_layer_bytes() -> int:
    raw = os.environ.get("PINMGR_IMAGE_MAX_BYTES", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else MAX_LAYER_BYTES


def _is_interesting(key: str) -> bool:
    """Files whose contents the readers may need (everything else keeps only its kind)."""
    if key in ("etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status"):
        return True
    head, _, name = key.rpartition("/")
    if head in ("var/lib/dpkg/status.d", "var/lib/rpm", "usr/lib/sysimage/rpm"):
        return True
    if "-packages/" in key or "/lib/python" in key:
        return name in ("METADATA", "PKG-INFO", "pyvenv.cfg") or name.endswith(
            (".pth", ".egg-info")
        )
    return name == "pyvenv.cfg"


@dataclass(slots=True)
class _Entry:
    kind: str  # file | dir | link | other
    target: str = ""  # symlink target
    blob: str = ""  # spooled contents (interesting regular files only)


class ImageTree:
    """``collectors.tree.Tree`` of an image's final filesystem, built by applying its layers."""

    def __init__(self, label: str, spool: Path, keep: tuple[str, ...] = ()) -> None:
        self.label = label
        self._keep = keep
        self._spool = spool
        self._entries: dict[str, _Entry] = {}
        self._children: dict[str, list[str]] | None = None
        self._blobs = 0
        self._bytes = 0
        self._members = 0
        self._cap = max_layer_bytes()

    # Tree protocol ------------------------------------------------------------------------
    def node(self, key: str) -> Node | None:
        if not key:
            return "dir", ""
        entry = self._entries.get(key)
        if entry is None:
            # Tars often omit directory members: a path with entries below it is a directory.
            return ("dir", "") if key in self._index() else None
        return entry.kind, entry.target

    def read(self, key: str, limit: int) -> bytes:
        entry = self._entries.get(key)
        if entry is None or not entry.blob:
            raise CollectFailed(
                FailureKind.COLLECT_ERROR, f"{self.label}: /{key} was not kept from the layers"
            )
        data = Path(entry.blob).read_bytes()
        if len(data) > limit:
            raise CollectFailed(FailureKind.COLLECT_ERROR, f"{self.label}: /{key} too large")
        return data

    def children(self, key: str) -> list[str]:
        return sorted(self._index().get(key, []))

    def _index(self) -> dict[str, list[str]]:
        if self._children is None:
            children: dict[str, set[str]] = {}
            for path in self._entries:
                parts = path.split("/")
                for i in range(len(parts)):
                    children.setdefault("/".join(parts[:i]), set()).add(parts[i])
            self._children = {k: sorted(v) for k, v in children.items()}
        return self._children

    # Building -----------------------------------------------------------------------------
    def apply_layer(self, stream: IO[bytes], name: str) -> None:
        """Apply one layer tar (plain or gzip; detected from its first bytes)."""
        self._children = None
        head = stream.read(4)
        rest = cast(IO[bytes], _Prefixed(head, stream))
        if head[:2] == b"\x1f\x8b":
            rest = cast(IO[bytes], gzip.GzipFile(fileobj=rest, mode="rb"))
        elif head == b"\x28\xb5\x2f\xfd":
            raise self._fail(f"layer {name}: zstd-compressed layers are not supported")
        counted = _Capped(rest, self._cap - self._bytes, lambda: self._fail(self._over()))
        added: dict[str, _Entry] = {}
        deleted: list[str] = []
        opaque: list[str] = []
        try:
            with tarfile.open(fileobj=cast(IO[bytes], counted), mode="r|") as tar:
                for member in tar:
                    self._members += 1
                    if self._members > MAX_MEMBERS:
                        raise self._fail(f"more than {MAX_MEMBERS} files in the layers")
                    self._add(tar, member, name, added, deleted, opaque)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise self._fail(f"layer {name}: not a readable tar: {exc}") from exc
        finally:
            self._bytes += counted.count
        # Whiteouts hide what lower layers had; this layer's own files stay.
        for prefix in opaque:
            self._drop_below(prefix)
        for path in deleted:
            self._entries.pop(path, None)
            self._drop_below(path)
        for path, entry in added.items():
            old = self._entries.get(path)
            if old is not None and old.kind == "dir" and entry.kind != "dir":
                self._drop_below(path)
            if entry.kind == "dir" and old is not None and old.kind == "dir":
                continue
            self._entries[path] = entry

    def _add(
        self,
        tar: tarfile.TarFile,
        member: tarfile.TarInfo,
        layer: str,
        added: dict[str, _Entry],
        deleted: list[str],
        opaque: list[str],
    ) -> None:
        raw = member.name
        if raw.startswith("/"):
            raise self._fail(f"layer {layer}: member {raw!r} has an absolute path")
        parts = [p for p in raw.split("/") if p and p != "."]
        if ".." in parts:
            raise self._fail(f"layer {layer}: member {raw!r} climbs out of the root")
        if not parts:
            return
        key = "/".join(parts)
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            entry = added.get(parent) or (None if parent in deleted else self._entries.get(parent))
            if entry is not None and entry.kind == "link":
                raise self._fail(
                    f"layer {layer}: member {raw!r} is written through the symlink /{parent}"
                )
        base = parts[-1]
        if base == ".wh..wh..opq":
            opaque.append("/".join(parts[:-1]))
            return
        if base.startswith(".wh."):
            deleted.append("/".join([*parts[:-1], base[4:]]))
            return
        if member.issym():
            target = member.linkname
            if not target.startswith("/"):
                depth = len(parts) - 1
                for step in target.split("/"):
                    depth += -1 if step == ".." else (0 if step in ("", ".") else 1)
                    if depth < 0:
                        raise self._fail(
                            f"layer {layer}: symlink /{key} -> {target} points outside the root"
                        )
            added[key] = _Entry("link", target)
        elif member.islnk():
            target_parts = [p for p in member.linkname.split("/") if p and p != "."]
            if member.linkname.startswith("/") or ".." in target_parts:
                raise self._fail(
                    f"layer {layer}: hard link /{key} -> {member.linkname} outside the root"
                )
            target_key = "/".join(target_parts)
            source = added.get(target_key) or self._entries.get(target_key)
            copied = _Entry(source.kind, source.target, source.blob) if source else None
            added[key] = copied or _Entry("file")
        elif member.isdir():
            added[key] = _Entry("dir")
        elif member.isreg():
            entry = _Entry("file")
            if _is_interesting(key) or self._wanted(key):
                handle = tar.extractfile(member)
                if handle is not None:
                    entry.blob = self._spool_blob(handle)
            added[key] = entry
        else:
            added[key] = _Entry("other")

    def _wanted(self, key: str) -> bool:
        """Files of the host's applications: git's HEAD and refs, a revision file."""
        for prefix in self._keep:
            if key == prefix:
                return True
            if key.startswith(f"{prefix}/.git"):
                rest = key[len(prefix) + 5 :]
                return rest in ("", "/HEAD", "/commondir", "/packed-refs") or "/refs/" in rest
        return False

    def _spool_blob(self, handle: IO[bytes]) -> str:
        self._blobs += 1
        path = self._spool / f"blob-{self._blobs}"
        with path.open("wb") as out:
            shutil.copyfileobj(handle, out)
        return str(path)

    def _drop_below(self, prefix: str) -> None:
        start = f"{prefix}/" if prefix else ""
        for path in [p for p in self._entries if p.startswith(start)]:
            del self._entries[path]

    def _over(self) -> str:
        return f"layers are over {self._cap} bytes uncompressed (PINMGR_IMAGE_MAX_BYTES)"

    def _fail(self, message: str) -> CollectFailed:
        return CollectFailed(FailureKind.COLLECT_ERROR, f"image {self.label}: {message}")


class _Prefixed(io.RawIOBase):
    """A stream with a few already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


class _Capped(io.RawIOBase):
    """Counts bytes read through it and fails past ``limit`` (a decompression bomb stops)."""

    def __init__(self, inner: IO[bytes], limit: int, fail: Callable[[], Exception]) -> None:
        self._inner = inner
        self._limit = limit
        self._fail = fail
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        self.count += len(data)
        if self.count > self._limit:
            raise self._fail()
        view[: len(data)] = data
        return len(data)


# Archive formats ----------------------------------------------------------------------------


class _Source:
    """Files of an image container: a directory (OCI layout) or a tar (archive, docker save)."""

    def __init__(self, path: Path, tree: ImageTree) -> None:
        self.path = path
        self.tree = tree
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if path.is_file():
            try:
                self._tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 (closed in close())
                for member in self._tar.getmembers():
                    name = "/".join(p for p in member.name.split("/") if p and p != ".")
                    if member.isreg() or member.issym():
                        self._members[name] = member
            except (tarfile.TarError, OSError) as exc:
                raise tree._fail(f"not a tar archive or OCI layout: {exc}") from exc

    def exists(self, name: str) -> bool:
        if self._tar is not None:
            return name in self._members
        return (self.path / name).is_file()

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        parts = [p for p in name.split("/") if p and p != "."]
        if not parts or ".." in parts or name.startswith("/"):
            raise self.tree._fail(f"refers to {name!r}, outside the image")
        clean = "/".join(parts)
        if self._tar is not None:
            member = self._members.get(clean)
            for _ in range(8):  # docker save: <id>/layer.tar -> ../<digest>.tar
                if member is None or not member.issym():
                    break
                clean = _join(clean, member.linkname)
                member = self._members.get(clean)
            handle = self._tar.extractfile(member) if member and member.isreg() else None
            if handle is None:
                raise self.tree._fail(f"{clean} is missing from the archive")
            with handle:
                yield handle
            return
        target = self.path / clean
        if target.is_symlink() or not target.is_file():
            raise self.tree._fail(f"{clean} is missing from the layout")
        with target.open("rb") as handle:
            yield handle

    def json(self, name: str) -> Any:
        with self.open(name) as handle:
            data = handle.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            raise self.tree._fail(f"{name} is over {MAX_JSON_BYTES} bytes")
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.tree._fail(f"{name} is not JSON: {exc}") from exc

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()


def _join(name: str, target: str) -> str:
    """``target`` of a symlink at ``name``, inside the archive (``..`` stops at its root)."""
    parts = [] if target.startswith("/") else name.split("/")[:-1]
    for step in target.split("/"):
        if step == "..":
            if parts:
                parts.pop()
        elif step not in ("", "."):
            parts.append(step)
    return "/".join(parts)


def _blob(digest: object, source: _Source) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise source.tree._fail(f"bad digest {str(digest)[:80]!r}")
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _pick_manifest(index: Any, source: _Source, where: str) -> dict[str, Any]:
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise source.tree._fail(f"{where} lists no manifest")
    wanted = _MACHINE_ARCH.get(platform.machine(), platform.machine())
    by_platform = [
        m
        for m in manifests
        if isinstance(m, dict)
        and isinstance(m.get("platform"), dict)
        and m["platform"].get("os") == "linux"
        and m["platform"].get("architecture") == wanted
    ]
    if len(manifests) > 1 and not by_platform:
        raise source.tree._fail(
            f"{where} holds {len(manifests)} images; pinmgr reads archives of one image "
            f"(or a multi-platform index with a linux/{wanted} image)"
        )
    chosen = (by_platform or manifests)[0]
    if not isinstance(chosen, dict):
        raise source.tree._fail(f"{where}: a manifest entry is not an object")
    document = source.json(_blob(chosen.get("digest"), source))
    media = chosen.get("mediaType") or (
        document.get("mediaType") if isinstance(document, dict) else None
    )
    if media in _INDEX_TYPES:
        return _pick_manifest(document, source, chosen.get("digest", "index"))
    if not isinstance(document, dict):
        raise source.tree._fail("the image manifest is not an object")
    return document


def _layers(source: _Source) -> list[str]:
    """Names (inside the layout/archive) of the image's layers, bottom first."""
    if source.exists("manifest.json"):  # docker save / podman save (either generation)
        manifest = source.json("manifest.json")
        if not isinstance(manifest, list) or not manifest:
            raise source.tree._fail("manifest.json lists no image")
        if len(manifest) > 1:
            raise source.tree._fail(
                f"manifest.json holds {len(manifest)} images; pinmgr reads archives of one image"
            )
        layers = manifest[0].get("Layers") if isinstance(manifest[0], dict) else None
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise source.tree._fail("manifest.json: Layers is not a list of paths")
        return list(layers)
    if source.exists("index.json"):
        manifest = _pick_manifest(source.json("index.json"), source, "index.json")
        layers = manifest.get("layers")
        if not isinstance(layers, list):
            raise source.tree._fail("the image manifest has no layers list")
        return [
            _blob(layer.get("digest") if isinstance(layer, dict) else None, source)
            for layer in layers
        ]
    raise source.tree._fail(
        "neither an OCI image layout (index.json) nor a docker-save archive (manifest.json)"
    )


def read_image(host: Host) -> HostSnapshot:
    """The snapshot of the image at ``host.path``; ``CollectFailed`` for any problem with it."""
    path = Path(host.path or "")
    label = host.path or "(no path)"
    with tempfile.TemporaryDirectory(prefix="pinmgr-image-") as spool:
        keep = tuple(
            p.strip("/")
            for app in host.apps
            for p in (app.path, f"{app.path.rstrip('/')}/{app.file}" if app.file else "")
            if p.strip("/")
        )
        tree = ImageTree(label, Path(spool), keep)
        if not host.path or not path.exists():
            raise tree._fail("no such file or directory")
        source = _Source(path, tree)
        try:
            for name in _layers(source):
                with source.open(name) as stream:
                    tree.apply_layer(stream, name)
        finally:
            source.close()
        return snapshot_of(tree, host)
