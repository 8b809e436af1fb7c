"""Line and column of every table header and key in a TOML document.

tomlkit round-trips text but records no positions, and errors must point at ``file:line:col``.
This scanner only finds where keys start (strings, comments and multi-line values are skipped
properly); tomlkit still does all the parsing and validation of the document itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pinmgr.model import Location

KeyPath = tuple[str | int, ...]


@dataclass
class Locations:
    """Positions by key path; ``("sources", 0, "type")`` is the first ``[[sources]]``' type."""

    file: str
    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def at(self, *path: str | int) -> Location:
        """Where ``path`` was written, else its nearest written parent, else line 1."""
        for end in range(len(path), 0, -1):
            found = self.positions.get(tuple(path[:end]))
            if found:
                return Location(self.file, found[0], found[1])
        return Location(self.file, 1, 1)


def _split_key(text: str) -> tuple[str, ...]:
    """``a."b.c" . 'd'`` -> ("a", "b.c", "d")."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t.":
            i += 1
        elif ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            try:
                parts.append(json.loads(text[i : j + 1]))
            except ValueError:
                parts.append(text[i + 1 : j])
            i = j + 1
        elif ch == "'":
            j = text.find("'", i + 1)
            j = n if j < 0 else j
            parts.append(text[i + 1 : j])
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in " \t.":
                j += 1
            parts.append(text[i:j])
            i = j
    return tuple(parts)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.line_start = 0

    def col(self, index: int) -> int:
        return index - self.line_start + 1

    def advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self.i < len(self.text) and self.text[self.i] == "\n":
                self.line += 1
                self.line_start = self.i + 1
            self.i += 1

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.i)

    def skip_string(self) -> None:
        """Skip the string starting at ``self.i`` (any of the four TOML kinds)."""
        for quote in ('"""', "'''"):
            if self.peek(quote):
                self.advance(3)
                while self.i < len(self.text) and not self.peek(quote):
                    self.advance(2 if quote == '"""' and self.peek("\\") else 1)
                self.advance(3)
                # A closing run may hold up to two more quotes belonging to the content.
                while self.peek(quote[0]):
                    self.advance()
                return
        quote = self.text[self.i]
        self.advance()
        while self.i < len(self.text) and self.text[self.i] not in (quote, "\n"):
            self.advance(2 if quote == '"' and self.peek("\\") else 1)
        self.advance()

    def skip_comment(self) -> None:
        while self.i < len(self.text) and self.text[self.i] != "\n":
            self.advance()

    def read_until(self, stops: str) -> str:
        """Key text up to one of ``stops`` (outside quotes); leaves ``self.i`` on the stop."""
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in stops:
            if self.text[self.i] in "\"'":
                self.skip_string()
            else:
                self.advance()
        return self.text[start : self.i]

    def skip_value(self) -> None:
        """Skip a value to the end of its (logical) line: arrays and inline tables may span."""
        depth = 0
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch in "\"'":
                self.skip_string()
            elif ch == "#":
                self.skip_comment()
            elif ch in "[{":
                depth += 1
                self.advance()
            elif ch in "]}":
                depth -= 1
                self.advance()
            elif ch == "\n" and depth <= 0:
                return
            else:
                self.advance()


def locate(text: str, file: str) -> Locations:
    """Scan ``text`` (a TOML document) and record where each header and key starts."""
    found = Locations(file)
    sc = _Scanner(text)
    table: KeyPath = ()
    aot_last: dict[KeyPath, int] = {}
    while sc.i < len(text):
        ch = text[sc.i]
        if ch in " \t\r\n":
            sc.advance()
        elif ch == "#":
            sc.skip_comment()
        elif ch == "[":
            line, col = sc.line, sc.col(sc.i)
            is_aot = sc.peek("[[")
            sc.advance(2 if is_aot else 1)
            parts = _split_key(sc.read_until("]\n"))
            sc.advance(2 if is_aot else 1)
            resolved: KeyPath = ()
            for n, part in enumerate(parts):
                resolved = (*resolved, part)
                if is_aot and n == len(parts) - 1:
                    index = aot_last.get(resolved, -1) + 1
                    aot_last[resolved] = index
                    resolved = (*resolved, index)
                elif resolved in aot_last:
                    resolved = (*resolved, aot_last[resolved])
            table = resolved
            found.positions.setdefault(table, (line, col))
            sc.skip_comment()
        else:
            line, col = sc.line, sc.col(sc.i)
            key = _split_key(sc.read_until("=\n"))
            path: KeyPath = table
            for part in key:
                path = (*path, part)
                found.positions.setdefault(path, (line, col))
            sc.advance()
            sc.skip_value()
    return found
