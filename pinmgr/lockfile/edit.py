"""Format-preserving edits of a lockfile document (for ``pinmgr pin/unpin/lock/accept``).

The lockfile is a reviewed, hand-written file: a tool that rewrites it loses comments and makes
every pull request noisy. These functions change a tomlkit document in place and touch only what
they must: a new pin goes in sorted position inside its table, keeping the neighbours' indent; a
changed pin keeps its quoting style and trailing comment; a new table goes in sorted position
among its siblings, and a comment block that introduces the next table stays with that table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container, OutOfOrderTableProxy
from tomlkit.items import AoT, Comment, Item, Key, String, StringType, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from pinmgr.errors import LockfileError, UsageError
from pinmgr.lockfile.load import OS_RELEASE_RE, ROLE_RE, decode, dotted
from pinmgr.model import SHARED_ROLE, Ecosystem, Location, Waiver
from pinmgr.versions.names import name_problem
from pinmgr.versions.policy import parse_policy

# Where a missing top-level section goes: before the first existing one that follows it.
_TOP_ORDER = ("schema", "shared", "roles", "waivers")

Parent = Container | Table


def parse(text: str, path: str = "<lockfile>") -> TOMLDocument:
    """Parse ``text`` for editing; syntax errors become ``LockfileError`` with a location."""
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        where = Location(path, max(exc.line, 1), max(exc.col + 1, 1))
        raise LockfileError(f"invalid TOML: {exc}", where) from exc


def read_document(path: str | Path) -> tuple[TOMLDocument, bytes]:
    """The document and the exact bytes it came from (``write_atomic`` refuses if they change)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise LockfileError(f"cannot read lockfile {path}: {exc.strerror or exc}") from exc
    return parse(decode(raw, str(path)), str(path)), raw


def dumps(doc: TOMLDocument) -> str:
    """The document as text: untouched parts come back byte for byte."""
    return tomlkit.dumps(doc)


def set_pin(
    doc: TOMLDocument,
    role: str,
    os_release: str,
    ecosystem: Ecosystem,
    package: str,
    version: str,
) -> bool:
    """Pin ``package`` to ``version`` for ``role`` (or SHARED_ROLE); True if the text changed.

    Raises ``VersionError`` for a version the ecosystem rejects and ``UsageError`` for a bad
    role, OS release key or package name, so an edit never produces an invalid lockfile.
    """
    _check_names(role, os_release, ecosystem, package)
    parse_policy(ecosystem, version)
    table = _ensure_path(doc, _table_path(role, os_release, ecosystem))
    container = table.value
    if package in container:
        old = container.item(package)
        if isinstance(old, String) and old.value == version:
            return False
        container[package] = _string_like(old, version)
        return True
    _insert_key_sorted(container, package, tomlkit.string(version))
    return True


def remove_pin(
    doc: TOMLDocument, role: str, os_release: str, ecosystem: Ecosystem, package: str
) -> bool:
    """Remove one pin; True if it was there. The (possibly empty) table is kept on purpose:
    an empty ``[roles.db."debian-12"]`` still declares the release supported."""
    node: Any = doc
    for key in _table_path(role, os_release, ecosystem):
        if not isinstance(node, (Container, Table, OutOfOrderTableProxy)) or key not in node:
            return False
        node = node[key]
    if not isinstance(node, (Table, OutOfOrderTableProxy)) or package not in node:
        return False
    del node[package]
    return True


def add_waiver(doc: TOMLDocument, waiver: Waiver) -> None:
    """Append a ``[[waivers]]`` entry (for ``pinmgr accept``), keys in the documented order."""
    if not waiver.reason.strip():
        raise UsageError("a waiver needs a reason")
    entry = tomlkit.table()
    entry["package"] = waiver.package
    selectors: tuple[tuple[str, str | None], ...] = (
        ("ecosystem", waiver.ecosystem.value if waiver.ecosystem else None),
        ("role", waiver.role),
        ("env", waiver.env),
        ("host", waiver.host),
    )
    for key, value in selectors:
        if value is not None:
            entry[key] = value
    entry["reason"] = waiver.reason
    entry["expires"] = dt.date(waiver.expires.year, waiver.expires.month, waiver.expires.day)
    if "waivers" in doc:
        waivers = doc["waivers"]
        if not isinstance(waivers, AoT):
            raise LockfileError("waivers must be an array of tables ([[waivers]])")
        _ensure_blank_line_after(waivers.body[-1] if waivers.body else None)
        waivers.append(entry)
        return
    aot = tomlkit.aot()
    aot.append(entry)
    _ensure_blank_line_after(_last_rendered(doc))
    doc.append("waivers", aot)


def _check_names(role: str, os_release: str, ecosystem: Ecosystem, package: str) -> None:
    if role != SHARED_ROLE and not ROLE_RE.fullmatch(role):
        raise UsageError(f"invalid role name {role!r}")
    if not OS_RELEASE_RE.fullmatch(os_release):
        raise UsageError(f"{os_release!r} is not an OS release key (ID-VERSION_ID, like debian-12)")
    bad_name = name_problem(ecosystem, package)
    if bad_name is not None:
        raise UsageError(bad_name)


def _table_path(role: str, os_release: str, ecosystem: Ecosystem) -> tuple[str, ...]:
    if role == SHARED_ROLE:
        return ("shared", os_release, ecosystem.value)
    return ("roles", role, os_release, ecosystem.value)


def _string_like(old: object, version: str) -> Item:
    """A new string value in the quoting style of the one it replaces."""
    if isinstance(old, String) and old.type is StringType.SLL and "'" not in version:
        return tomlkit.string(version, literal=True)
    return tomlkit.string(version)


def _ensure_path(doc: TOMLDocument, path: tuple[str, ...]) -> Table:
    """The table at ``path``, creating the missing tail (super tables above the last level)."""
    parent: Parent = doc
    for depth, key in enumerate(path):
        if key not in parent:
            chain = tomlkit.table()
            chain.add(tomlkit.nl())
            leaf = chain
            for missing in reversed(path[depth + 1 :]):
                outer = tomlkit.table(is_super_table=True)
                outer.append(missing, chain)
                chain = outer
            _insert_table_sorted(parent, key, chain, top_level=depth == 0)
            # Spell the header canonically, whatever odd spacing the parent headers use
            # (set after inserting: tomlkit resets display names on insertion).
            leaf.display_name = dotted(path)
            return leaf
        found = parent[key] if isinstance(parent, Container) else parent.value[key]
        if isinstance(found, OutOfOrderTableProxy):
            # A table split around other tables ([roles.app...] [shared...] [roles.app...]):
            # edit the piece that already holds most of the rest of the path.
            rest = path[depth + 1 :]
            found = max(found._tables, key=lambda piece: _depth_in(piece, rest))
        if not isinstance(found, Table):
            raise LockfileError(f"{'.'.join(path[: depth + 1])} is not a table")
        parent = found
    assert isinstance(parent, Table)
    return parent


def _depth_in(table: Table, keys: tuple[str, ...]) -> int:
    """How many of ``keys`` exist as nested tables below ``table``."""
    node: Any = table
    for depth, key in enumerate(keys):
        if not isinstance(node, (Table, OutOfOrderTableProxy)) or key not in node:
            return depth
        node = node[key]
    return len(keys)


def _body(parent: Parent) -> list[tuple[Key | None, Item]]:
    return parent.body if isinstance(parent, Container) else parent.value.body


def _insert_key_sorted(container: Container, key: str, value: Item) -> None:
    """Insert a key/value among the table's own keys, before its trailing blank lines/comments."""
    body = container.body
    kv_keys = [
        (i, k.key)
        for i, (k, item) in enumerate(body)
        if k is not None and not isinstance(item, (Table, AoT))
    ]
    kv_indices = [i for i, _ in kv_keys]
    index = next((i for i, name in kv_keys if name > key), None)
    if index is None:
        index = kv_indices[-1] + 1 if kv_indices else 0
    neighbour = body[kv_indices[0]][1] if kv_indices else None
    if neighbour is not None:
        value.trivia.indent = neighbour.trivia.indent
        if neighbour.trivia.trail.endswith("\r\n"):
            value.trivia.trail = "\r\n"  # a CRLF file stays CRLF
    if index < len(body):
        container._insert_at(index, key, value)
    else:
        container.append(key, value)


def _insert_table_sorted(parent: Parent, key: str, table: Table, *, top_level: bool) -> None:
    """Insert a table before the first sibling table that sorts after it."""
    body = _body(parent)
    index: int | None = None
    for i, (k, item) in enumerate(body):
        if k is None or not isinstance(item, (Table, AoT)):
            continue
        if top_level:
            after = k.key in _TOP_ORDER and key in _TOP_ORDER
            if after and _TOP_ORDER.index(k.key) > _TOP_ORDER.index(key):
                index = i
                break
        elif k.key > key:
            index = i
            break
    if index is None:
        previous = _last_rendered(parent)
        # A comment block at the end of the last table introduces whatever header follows
        # the parent: keep it there, after the new table.
        target = _last_rendered_item(table)
        _move_trailing_comments(previous, table if target is None else target)
        _ensure_blank_line_after(previous)
        if isinstance(parent, Container):
            parent.append(key, table)
        else:
            parent.value.append(key, table)
        return
    if index > 0:
        # (An empty tomlkit table is falsy: compare with None, never use ``or``.)
        target = _last_rendered_item(table)
        _move_trailing_comments(
            _last_rendered_item(body[index - 1][1]), table if target is None else target
        )
    container = parent if isinstance(parent, Container) else parent.value
    container._insert_at(index, key, table)


def _walk_last(item: Item) -> Iterator[Item]:
    """The chain of items whose text ends where ``item``'s text ends."""
    while True:
        yield item
        if isinstance(item, AoT):
            if not item.body:
                return
            item = item.body[-1]
        elif isinstance(item, Table) and item.value.body:
            item = item.value.body[-1][1]
        else:
            return


def _last_rendered_item(item: Item) -> Table | None:
    """The innermost table whose body is rendered last within ``item``."""
    tables = [t for t in _walk_last(item) if isinstance(t, Table)]
    return tables[-1] if tables else None


def _last_rendered(parent: Parent) -> Table | None:
    body = _body(parent)
    if not body:
        return parent if isinstance(parent, Table) else None
    last = _last_rendered_item(body[-1][1])
    if last is None and isinstance(parent, Table):
        return parent
    return last


def _ensure_blank_line_after(table: Table | None) -> None:
    """Keep the file's blank line between tables when appending after ``table``."""
    if table is None:
        return
    # ``as_string`` is the body only: a table with a header line ([roles.db."ubuntu-24.04"])
    # already ends that line, so a body of one newline is the blank line (adding another
    # made two, which ``fmt --check`` rejects).
    header = "" if table.is_super_table() else "\n"
    text = header + table.as_string().replace("\r\n", "\n")
    if text and not text.endswith("\n\n"):
        table.add(tomlkit.nl())


def _move_trailing_comments(previous: Table | None, new: Table) -> None:
    """A comment block right above the next header describes that header: keep it there.

    tomlkit stores such comments at the end of the *previous* table's body; the new table is
    rendered between the two, so the block moves to the end of the new table's body.
    """
    if previous is None:
        return
    body = previous.value.body
    if not body or not isinstance(body[-1][1], Comment):
        return  # a blank line ends the table: what precedes it is the table's own
    start = len(body)
    while start > 0:
        key, item = body[start - 1]
        if key is not None:
            return  # comments directly after a key belong to that key: nothing to move
        if isinstance(item, Whitespace) and item.s.count("\n") >= 1 and start < len(body):
            break
        if not isinstance(item, (Comment, Whitespace)):
            return
        start -= 1
    moved = body[start:]
    if not any(isinstance(item, Comment) for _, item in moved):
        return
    del body[start:]
    for _, item in moved:
        new.value.body.append((None, item))
