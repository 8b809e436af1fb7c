"""Line and column of every key and value in a TOML text.

tomlkit parses losslessly but does not say where an item was written, and errors must point at
``file:line:col``. So after tomlkit has accepted the text (it is known to be valid TOML), this
small scanner walks it once more and records, for every key path, where the key and its value
start. Paths use ``str`` for keys and ``int`` for array / array-of-tables indices, the same shape
as the unwrapped document, so validation can look up any node it complains about.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

KeyPath = tuple[str | int, ...]
Pos = tuple[int, int]
"""1-based (line, column); the column counts characters, not bytes."""

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
_SCALAR_END = frozenset(",]}#\n\r")


@dataclass
class Positions:
    """Where each key path was written: its key, its value, and its table header if any."""

    keys: dict[KeyPath, Pos] = field(default_factory=dict)
    values: dict[KeyPath, Pos] = field(default_factory=dict)
    headers: dict[KeyPath, Pos] = field(default_factory=dict)
    # Keys assigned a second time: (path, position of the repeat); TOML forbids them.
    duplicates: list[tuple[KeyPath, Pos]] = field(default_factory=list)

    def key(self, path: KeyPath) -> Pos:
        """Position of the key (or table header part) for ``path``, else of its nearest parent."""
        return self._nearest(path, value=False)

    def value(self, path: KeyPath) -> Pos:
        """Position of the value for ``path``, else of its key, else of its nearest parent."""
        return self._nearest(path, value=True)

    def _nearest(self, path: KeyPath, *, value: bool) -> Pos:
        probe = path
        while probe:
            if value and probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            probe = probe[:-1]
        return (1, 1)


class _Scanner:
    """A recursive-descent walk over *valid* TOML that only records positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.n = len(text)
        self.line_starts = [0] + [k + 1 for k, ch in enumerate(text) if ch == "\n"]
        self.pos = Positions()
        self.table: KeyPath = ()
        self.aot_index: dict[KeyPath, int] = {}

    # -- helpers ------------------------------------------------------------------------------
    def where(self, index: int) -> Pos:
        line = bisect.bisect_right(self.line_starts, index) - 1
        return (line + 1, index - self.line_starts[line] + 1)

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.i)

    def skip_ws(self) -> None:
        while self.i < self.n and self.text[self.i] in " \t":
            self.i += 1

    def skip_comment(self) -> None:
        if self.i < self.n and self.text[self.i] == "#":
            nl = self.text.find("\n", self.i)
            self.i = self.n if nl < 0 else nl

    def skip_blank(self) -> None:
        """Whitespace, newlines and comments (between statements, inside arrays)."""
        while self.i < self.n:
            ch = self.text[self.i]
            if ch in " \t\r\n":
                self.i += 1
            elif ch == "#":
                self.skip_comment()
            else:
                return

    # -- keys ---------------------------------------------------------------------------------
    def simple_key(self) -> tuple[str, int]:
        start = self.i
        ch = self.text[self.i]
        if ch == '"':
            return self.basic_string(), start
        if ch == "'":
            end = self.text.index("'", self.i + 1)
            self.i = end + 1
            return self.text[start + 1 : end], start
        while self.i < self.n and self.text[self.i] in _BARE:
            self.i += 1
        if self.i == start:
            raise ValueError(f"no key at offset {start}")
        return self.text[start : self.i], start

    def dotted_key(self) -> list[tuple[str, int]]:
        parts = [self.simple_key()]
        while True:
            self.skip_ws()
            if not self.peek("."):
                return parts
            self.i += 1
            self.skip_ws()
            parts.append(self.simple_key())

    def basic_string(self) -> str:
        """A one-line ``"..."`` string (keys need the decoded text to match the document)."""
        self.i += 1
        out: list[str] = []
        while self.text[self.i] != '"':
            ch = self.text[self.i]
            if ch == "\\":
                esc = self.text[self.i + 1]
                if esc in "uU":
                    width = 4 if esc == "u" else 8
                    out.append(chr(int(self.text[self.i + 2 : self.i + 2 + width], 16)))
                    self.i += 2 + width
                    continue
                out.append(_ESCAPES.get(esc, esc))
                self.i += 2
                continue
            out.append(ch)
            self.i += 1
        self.i += 1
        return "".join(out)

    # -- values -------------------------------------------------------------------------------
    def value(self, path: KeyPath) -> None:
        self.pos.values[path] = self.where(self.i)
        text = self.text
        if self.peek('"""') or self.peek("'''"):
            quote = text[self.i]
            j = self.i + 3
            while True:
                if quote == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote * 3, j):
                    j += 3
                    extra = 0
                    while extra < 2 and j < self.n and text[j] == quote:
                        j += 1
                        extra += 1
                    break
                j += 1
            self.i = j
        elif self.peek('"'):
            self.basic_string()
        elif self.peek("'"):
            self.i = text.index("'", self.i + 1) + 1
        elif self.peek("["):
            self.i += 1
            index = 0
            while True:
                self.skip_blank()
                if self.peek("]"):
                    self.i += 1
                    return
                self.value((*path, index))
                index += 1
                self.skip_blank()
                if self.peek(","):
                    self.i += 1
        elif self.peek("{"):
            self.i += 1
            while True:
                self.skip_ws()
                if self.peek("}"):
                    self.i += 1
                    return
                self.key_value(path)
                self.skip_ws()
                if self.peek(","):
                    self.i += 1
        else:
            start = self.i
            while self.i < self.n and text[self.i] not in _SCALAR_END:
                self.i += 1
            if self.i == start:
                raise ValueError(f"no value at offset {start}")

    def key_value(self, table: KeyPath) -> None:
        parts = self.dotted_key()
        full: KeyPath = table
        for name, start in parts:
            full = (*full, name)
            self.pos.keys.setdefault(full, self.where(start))
        if full in self.pos.values:
            self.pos.duplicates.append((full, self.where(parts[-1][1])))
        else:
            self.pos.keys[full] = self.where(parts[-1][1])
        self.skip_ws()
        if not self.peek("="):
            raise ValueError(f"no '=' at offset {self.i}")
        self.i += 1
        self.skip_ws()
        self.value(full)

    # -- tables -------------------------------------------------------------------------------
    def resolve(self, parts: list[tuple[str, int]]) -> KeyPath:
        """Header key parts to a document path, descending into the last array-of-tables entry."""
        path: KeyPath = ()
        for name, start in parts:
            path = (*path, name)
            self.pos.keys.setdefault(path, self.where(start))
            if path in self.aot_index:
                path = (*path, self.aot_index[path])
        return path

    def header(self) -> None:
        start = self.i
        is_aot = self.peek("[[")
        self.i += 2 if is_aot else 1
        self.skip_ws()
        parts = self.dotted_key()
        self.skip_ws()
        self.i += 2 if is_aot else 1
        if is_aot:
            parent = self.resolve(parts[:-1])
            name, name_start = parts[-1]
            array: KeyPath = (*parent, name)
            self.pos.keys.setdefault(array, self.where(name_start))
            index = self.aot_index.get(array, -1) + 1
            self.aot_index[array] = index
            path: KeyPath = (*array, index)
            self.pos.keys[path] = self.where(start)
        else:
            path = self.resolve(parts)
        self.pos.headers[path] = self.where(start)
        self.table = path

    def run(self) -> Positions:
        while True:
            self.skip_blank()
            if self.i >= self.n:
                return self.pos
            if self.peek("["):
                self.header()
            else:
                self.key_value(self.table)
            self.skip_ws()
            self.skip_comment()


def scan(text: str) -> Positions:
    """Positions of every key and value in ``text``, which tomlkit has already parsed.

    On text that is not valid TOML the result is best effort (whatever was found before the
    scanner got lost): callers only use it for error locations, never for values.
    """
    scanner = _Scanner(text)
    try:
        return scanner.run()
    except (IndexError, ValueError):
        return scanner.pos
