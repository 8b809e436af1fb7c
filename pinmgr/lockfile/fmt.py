"""``pinmgr fmt``: one canonical layout for pin tables, keeping every comment.

Normalises what reviewers trip over and nothing else: pins sorted by package inside each
``[roles.R."rel".eco]`` / ``[shared."rel".eco]`` table (a comment line above a pin moves with
it, an inline comment stays on its line), ``key = "value"`` spacing, no trailing blanks, at
most one blank line in a row, one final newline. The result must mean exactly what the input
meant (checked by parsing both), so fmt can never change a pin.
"""

from __future__ import annotations

import re

import tomlkit
from tomlkit.container import OutOfOrderTableProxy
from tomlkit.items import AoT, Item, Key, SingleKey, Table
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
    new_body: list[tuple[Key | None, Item]] = [e for _, entries in ordered for e in entries]
    new_body += pending + tail
    table.value.body[:] = []
    table.value._map.clear()
    for key, item in new_body:
        table.value.append(key, item)


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


def format_text(text: str, path: str = "<lockfile>") -> str:
    doc = parse(text, path)
    before = doc.unwrap()
    for table in _pin_tables(doc):
        _sort_table(table)
    out = dumps(doc)
    out = _blank_before_headers([line.rstrip() for line in out.split("\n")])
    out = _BLANKS.sub("\n\n", out).strip("\n") + "\n"
    if tomlkit.parse(out).unwrap() != before:  # pragma: no cover - a bug guard, never data
        raise LockfileError(f"{path}: fmt would change the meaning of the file; left as is")
    return out
