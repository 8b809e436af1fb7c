"""``fmt``'s linear rebuild of a pin table gives exactly the bytes tomlkit's own ``append`` gave.

``_as_appended`` models what ``Container.append`` does to a pin table's body (keys go before
trailing blank lines; an item before a key gains a newline when its trail has none) without
its rescans. These tests run the slow path (tomlkit's append, still used for unusual tables)
and the fast one on the same generated documents and compare every byte.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from pinmgr.lockfile import fmt

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from fmt import lockfile_text  # type: ignore[import-not-found]


def messy(seed: int) -> str:
    """A small lockfile with every layout quirk fmt meets: comments, blanks, odd spacing."""
    rng = random.Random(seed)
    out = ["# head", "schema = 1", ""]
    for t in range(rng.randint(1, 4)):
        out.append(rng.choice(["", "\n\n", "# introduces the next table", "   "]))
        out.append(
            rng.choice(
                [
                    f'[roles.app{t}."debian-12".deb]',
                    f'[shared."debian-1{t}".deb]',
                    f'[roles.web{t}."ubuntu-24.04".pip]',
                ]
            )
        )
        for i in range(rng.randint(0, 30)):
            roll = rng.random()
            if roll < 0.15:
                out.append(f"# about p{i}")
            if roll > 0.85:
                out += [""] * rng.randint(1, 3)
            sep = rng.choice(["=", " = ", "  =   "])
            comment = rng.choice(["", "", "  # inline", "#x"])
            indent = rng.choice(["", "", "  "])
            trailing = "   " if rng.random() < 0.1 else ""
            out.append(f'{indent}p{rng.randint(0, 99)}x{i}{sep}"1.{i}"{comment}{trailing}')
        if rng.random() < 0.3:
            out.append("# last words of the table")
    text = "\n".join(out)
    return text + "\n" if rng.random() < 0.5 else text  # a last pin without a newline too


def slow(text: str, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        m.setattr(fmt, "_plain", lambda key, item: False)  # every table via tomlkit's append
        return fmt.format_text(text)


@pytest.mark.parametrize("seed", range(200))
def test_fast_path_matches_tomlkit_append(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text = messy(seed)
    assert fmt.format_text(text) == slow(text, monkeypatch)


@pytest.mark.parametrize(("pins", "per_table"), [(1, 0), (300, 0), (1200, 100)])
def test_benchmark_shapes_match(pins: int, per_table: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text = lockfile_text(pins, seed=pins, per_table=per_table)
    out = fmt.format_text(text)
    assert out == slow(text, monkeypatch)
    assert out != text  # there was sorting and spacing to do
    assert fmt.format_text(out) == out  # and the result is a fixed point


def test_blank_line_before_a_pin_moves_as_tomlkit_moved_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = '[roles.app."debian-12".deb]\nzlib = "1"\n\n\nbash = "2"\n# end\n'
    assert fmt.format_text(text) == slow(text, monkeypatch)
    assert fmt.format_text(text).index("bash") < fmt.format_text(text).index("zlib")
