"""pinmgr's deb ordering and validation against the real ``dpkg --compare-versions``."""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pinmgr.errors import VersionError
from pinmgr.versions import deb
from tests.unit.versions import _generate, _oracle

pytestmark = pytest.mark.skipif(
    shutil.which("dpkg") is None or shutil.which("bash") is None,
    reason="dpkg (and bash) not installed: the deb oracle needs the real dpkg",
)

N_PAIRS = 5000
N_STRINGS = 3000


def _ours(a: str, b: str) -> str:
    try:
        c = deb.compare(a, b)
    except VersionError:
        return "err"
    return "lt" if c < 0 else "gt" if c > 0 else "eq"


def _reason(stderr: str) -> str:
    """REASON from dpkg's "version 'V' has bad syntax: REASON" (V may hold newlines)."""
    m = re.search(r"has bad syntax: ([^\n]*)", stderr)
    assert m, stderr
    return m.group(1)


def test_compare_matches_dpkg(tmp_path: Path, checked: Callable[[str], None]) -> None:
    pairs = _generate.deb_pairs(N_PAIRS)
    expected = _oracle.dpkg_compare(pairs, tmp_path)
    assert len(expected) == len(pairs)
    wrong = [
        (a, b, e, _ours(a, b))
        for (a, b), e in zip(pairs, expected, strict=True)
        if _ours(a, b) != e
    ]
    compared = sum(e != "err" for e in expected)
    kinds = sorted(set(expected))
    checked(f"checked {len(pairs)} deb pairs against dpkg ({compared} valid; outcomes {kinds})")
    assert not wrong, f"{len(wrong)} of {len(pairs)} deb pairs disagree with dpkg: {wrong[:10]}"
    # The generator must really exercise all outcomes, or the check above proves little.
    assert compared > N_PAIRS // 2 and {"lt", "eq", "gt", "err"} <= set(expected)


def test_validation_and_messages_match_dpkg(tmp_path: Path, checked: Callable[[str], None]) -> None:
    versions = _generate.deb_strings(N_STRINGS)
    results = _oracle.dpkg_check(versions, tmp_path)
    assert len(results) == len(versions)
    wrong = []
    rejected = warned = 0
    for v, (rc, err) in zip(versions, results, strict=True):
        assert rc in (0, 2), (v, rc, err)
        try:
            warning = deb.lint(v)
        except VersionError as e:
            rejected += 1
            if rc != 2 or not str(e).endswith(": " + _reason(err)):
                wrong.append((v, rc, err, str(e)))
            continue
        dpkg_warning = _reason(err) if err else None
        warned += warning is not None
        if rc != 0 or warning != dpkg_warning:
            wrong.append((v, rc, err, warning))
    checked(
        f"checked {len(versions)} deb strings against dpkg: {rejected} rejected, {warned} warned"
    )
    assert not wrong, (
        f"{len(wrong)} of {len(versions)} deb strings disagree with dpkg: {wrong[:10]}"
    )
    assert rejected > 100 and warned > 100, "generator no longer exercises errors and warnings"


N_EDGE_PAIRS = 3000
N_EDGE_STRINGS = 3000


def test_edge_shapes_compare_like_dpkg(tmp_path: Path, checked: Callable[[str], None]) -> None:
    """Zero parts, '0~', empty revisions, epochs, leading zeros, runs of > 4,300 digits."""
    pairs = _generate.deb_edge_pairs(N_EDGE_PAIRS)
    expected = _oracle.dpkg_compare(pairs, tmp_path)
    assert len(expected) == len(pairs)
    wrong = [
        (a[:80], b[:80], e, _ours(a, b))
        for (a, b), e in zip(pairs, expected, strict=True)
        if _ours(a, b) != e
    ]
    longest = max(len(v) for p in pairs for v in p)
    checked(f"checked {len(pairs)} deb edge-shape pairs against dpkg (longest {longest} chars)")
    assert not wrong, (
        f"{len(wrong)} of {len(pairs)} deb edge pairs disagree with dpkg: {wrong[:10]}"
    )
    assert {"lt", "eq", "gt", "err"} <= set(expected) and longest > 4300


def test_sort_key_orders_edge_shapes_like_dpkg(
    tmp_path: Path, checked: Callable[[str], None]
) -> None:
    """Sorted by ``sort_key``, each neighbour must be lt or eq exactly as the key says.

    dpkg's order is total, so agreeing on the neighbours of one sorted list means agreeing on
    every pair of it (millions here) for one dpkg call per string.
    """
    strings = _generate.deb_edge_strings(N_EDGE_STRINGS)
    valid = sorted((v for v in strings if _ours(v, v) == "eq"), key=deb.key)
    neighbours = list(itertools.pairwise(valid))
    labels = _oracle.dpkg_compare(neighbours, tmp_path)
    ours = ["eq" if deb.key(a) == deb.key(b) else "lt" for a, b in neighbours]
    wrong = [
        (a[:80], b[:80], theirs, mine)
        for (a, b), theirs, mine in zip(neighbours, labels, ours, strict=True)
        if theirs != mine
    ]
    checked(f"checked {len(neighbours)} sorted deb edge-shape neighbours against dpkg")
    assert not wrong, f"{len(wrong)} sorted neighbours disagree with dpkg: {wrong[:10]}"
    assert len(valid) > N_EDGE_STRINGS // 2 and {"lt", "eq"} <= set(labels)
