"""``pinmgr fmt``: one canonical layout for pin tables, keeping every comment.

Normalises what reviewers trip over and nothing else: pins sorted by package inside each
``[roles.R."rel".eco]`` / ``[shared."rel".eco]`` table (a comment line above a pin moves with
it, an inline comment stays on its line), ``key = "value"`` spacing, no trailing blanks, at
most one blank line in a row, one final newline. The result must mean exactly what the input
meant (checked by parsing both), so fmt can never change a pin.
"""

from __future__ import annotations

import contextlib
import re
import sys

import tomlkit
from tomlkit.container import OutOfOrderTableProxy, ends_with_whitespace
from tomlkit.items import AoT, Comment, Item, Key, Null, SingleKey, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from pinmgr.errors import LockfileError
from pinmgr.lockfile.edit import dumps, parse

_BLANKS = re.compile(r"\n{3,}")


def _pin_tables(doc: TOMLDocument) -> list[Table]:
    """Every ecosystem table (third level under roles.R.rel / second under shared.rel)."""
    found: list[Table] = []

    def walk(item: object, depth: int) -> None:
        if isinstance(item, OutOfOrderTableProxy):
            for part in item._tables:
                walk(part, depth)
            return
        if not isinstance(item, Table):
            return
        if depth == 0:
            found.append(item)
            return
        for _key, child in item.value.body:
            walk(child, depth - 1)

    for name, depth in (("roles", 3), ("shared", 2)):
        if name in doc:
            walk(doc.item(name), depth)
    return found


def _sort_table(table: Table) -> None:
    body = table.value.body
    groups: list[tuple[str, list[tuple[Key | None, Item]]]] = []
    pending: list[tuple[Key | None, Item]] = []
    tail: list[tuple[Key | None, Item]] = []
    for key, item in body:
        if key is None:
            pending.append((key, item))
            continue
        if isinstance(item, (Table, AoT)):
            tail.extend([*pending, (key, item)])
            pending = []
            continue
        canonical = SingleKey(key.key, t=key.t, sep=" = ") if isinstance(key, SingleKey) else key
        groups.append((key.key, [*pending, (canonical, item)]))
        pending = []
    if not groups:
        return
    ordered = sorted(groups, key=lambda g: g[0])
    entries: list[tuple[Key | None, Item]] = [e for _, group in ordered for e in group]
    entries += pending
    container = table.value
    container.body[:] = []
    container._map.clear()
    if container._parsed or not all(_plain(key, item) for key, item in entries):
        for key, item in entries:  # tomlkit's own append: quadratic, for unusual tables only
            container.append(key, item)
    else:
        for key, item in _as_appended(entries):
            container._raw_append(key, item)
    for key, item in tail:
        container.append(key, item)


def _plain(key: Key | None, item: Item) -> bool:
    """A bare ``name = value`` or a comment / blank line: what ``_as_appended`` models."""
    if key is None:
        return isinstance(item, (Comment, Whitespace))
    return isinstance(key, SingleKey) and not isinstance(item, (Table, AoT, Null))


def _as_appended(entries: list[tuple[Key | None, Item]]) -> list[tuple[Key | None, Item]]:
    """The body tomlkit's ``Container.append`` builds from ``entries``, in linear time.

    ``append`` rescans the whole body on every call (``_get_last_index_before_table``) and
    shifts every index on an insert, which made ``fmt`` quadratic in a table's size. For
    the plain entries of a pin table its effect is simple, and is reproduced here exactly
    (the output must stay byte-identical): a key goes *before* the run of blank lines at
    the end of the body, and the item before it gets a newline if its trail has none.
    """
    out: list[tuple[Key | None, Item]] = []
    blanks: list[tuple[Key | None, Item]] = []  # trailing whitespace, skipped by append
    for key, item in entries:
        if key is None:
            if isinstance(item, Whitespace) and not item.is_fixed():
                blanks.append((key, item))
            else:
                out += blanks
                blanks = []
                out.append((key, item))
            continue
        if out:
            prev = out[-1][1]
            if not (
                isinstance(prev, Whitespace)
                or ends_with_whitespace(prev)
                or "\n" in prev.trivia.trail
            ):
                prev.trivia.trail += "\n"
        out.append((key, item))
    return out + blanks


_HEADER = re.compile(r"^\[\[?\s*[A-Za-z0-9_\"'-]")


def _blank_before_headers(lines: list[str]) -> str:
    """One blank line before every table header (and before the comments that introduce it)."""
    out: list[str] = []
    for line in lines:
        if _HEADER.match(line):
            start = len(out)
            while start > 0 and out[start - 1].lstrip().startswith("#"):
                start -= 1
            if start > 0 and out[start - 1] != "":
                out.insert(start, "")
        out.append(line)
    return "\n".join(out)


def _same_meaning(a: str, b: str) -> bool:
    """Whether two documents hold the same values (tomllib parses ~6x faster than tomlkit)."""
    if sys.version_info >= (3, 11):
        import tomllib

        with contextlib.suppress(tomllib.TOMLDecodeError):
            return tomllib.loads(a) == tomllib.loads(b)
    return bool(tomlkit.parse(a).unwrap() == tomlkit.parse(b).unwrap())


def format_text(text: str, path: str = "<lockfile>") -> str:
    doc = parse(text, path)
    for table in _pin_tables(doc):
        _sort_table(table)
    out = dumps(doc)
    out = _blank_before_headers([line.rstrip() for line in out.split("\n")])
    out = _BLANKS.sub("\n\n", out).strip("\n") + "\n"
    if not _same_meaning(out, text):  # pragma: no cover - a bug guard, never data
        raise LockfileError(f"{path}: fmt would change the meaning of the file; left as is")
    return out
