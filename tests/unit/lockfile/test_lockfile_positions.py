"""positions.scan: every value's recorded (line, col) points at that value's own text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array, InlineTable, Item, Table

from pinmgr.lockfile.positions import KeyPath, scan

DATA = Path(__file__).resolve().parents[2] / "data" / "lockfiles"


def _leaves(node: Any, path: KeyPath) -> Iterator[tuple[KeyPath, Item]]:
    """Every value item (not table headers) with its path, as the scanner should see them."""
    if isinstance(node, AoT):
        for index, table in enumerate(node.body):
            yield from _leaves(table, (*path, index))
        return
    if isinstance(node, (Table, tomlkit.TOMLDocument)):
        for key in node:
            yield from _leaves(node.item(key), (*path, key))
        return
    yield path, node
    if isinstance(node, Array):
        for index, item in enumerate(list(node)):
            yield from _leaves(item, (*path, index))
    elif isinstance(node, InlineTable):
        for key in node:
            yield from _leaves(node.item(key), (*path, key))


def _text_at(text: str, line: int, col: int) -> str:
    return text.splitlines(keepends=True)[line - 1][col - 1 :]


def test_every_value_position_points_at_its_text() -> None:
    text = (DATA / "tricky_positions.toml").read_text()
    positions = scan(text)
    leaves = list(_leaves(tomlkit.parse(text), ()))
    paths = {path for path, _ in leaves}
    assert ("roles", "app", "debian-12", "deb", "array", 2, "y", 0) in paths
    assert ("roles", "app", "debian-12", "deb", "inline", "b.c", "d") in paths
    assert len(paths) >= 30
    for path, item in leaves:
        assert path in positions.values, path
        line, col = positions.values[path]
        raw = item.as_string().strip()
        # A multi-line value's first line is enough to prove the start is right.
        first = raw.splitlines()[0]
        assert _text_at(text, line, col).startswith(first), (path, line, col, first)


def test_specific_positions() -> None:
    text = (DATA / "tricky_positions.toml").read_text()
    pos = scan(text)
    assert pos.values[("schema",)] == (2, 10)
    assert pos.values[("shared", "debian-12", "deb", "tabbed")] == (8, 11)
    # Columns count characters, not UTF-8 bytes.
    assert pos.values[("shared", "debian-12", "deb", "ünïcödé")] == (9, 13)
    # After a multi-line string with an escaped """ inside, lines are still right.
    assert pos.values[("roles", "app", "debian-12", "deb", "after-multi")] == (18, 15)
    assert pos.values[("roles", "app", "debian-12", "deb", "after-literal")] == (22, 17)
    # A key written with an escape is recorded under its decoded name.
    assert pos.keys[("roles", "app", "debian-12", "deb", "escaped")] == (30, 1)
    # Header parts: "debian-12" starts at column 8 of [shared."debian-12".deb].
    assert pos.keys[("shared", "debian-12")] == (6, 9)
    assert pos.headers[("roles", "app", "ubuntu-22.04", "deb")] == (32, 1)
    # Array of tables: each [[waivers]] is its own index; a sub-table joins the last one.
    assert pos.keys[("waivers", 0)] == (35, 1)
    assert pos.keys[("waivers", 1)] == (39, 1)
    assert pos.values[("waivers", 1, "extra", "note")] == (43, 8)


def test_nearest_falls_back_to_parent() -> None:
    pos = scan('[roles.app."debian-12".deb]\nnginx = "1"\n')
    assert pos.value(("roles", "app", "debian-12", "deb", "nginx")) == (2, 9)
    assert pos.key(("roles", "app", "debian-12", "deb", "nginx")) == (2, 1)
    # Not written anywhere: the nearest written parent.
    assert pos.value(("roles", "app", "debian-12", "deb", "nginx", 3)) == (2, 9)
    assert pos.key(("roles", "app", "debian-12", "rpm")) == (1, 12)
    assert pos.key(("nothing",)) == (1, 1)


def test_invalid_text_is_best_effort_not_a_crash() -> None:
    pos = scan('a = "1"\nb = [1, 2\n')
    assert pos.values[("a",)] == (1, 5)
