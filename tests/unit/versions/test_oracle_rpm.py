"""pinmgr's rpm EVR ordering against librpm itself (``rpm.vercmp`` in rpm's Lua, one process)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pinmgr.errors import VersionError
from pinmgr.versions import rpm
from tests.unit.versions import _generate, _oracle

pytestmark = pytest.mark.skipif(
    shutil.which("rpm") is None,
    reason="rpm not installed (apt-get install -y rpm): the rpm oracle needs librpm",
)

N_PAIRS = 6000


def _ours(a: str, b: str) -> str:
    try:
        return str(rpm.compare(a, b))
    except VersionError:
        return "err"


def test_compare_matches_librpm(tmp_path: Path, checked: Callable[[str], None]) -> None:
    pairs = _generate.rpm_pairs(N_PAIRS)
    expected = _oracle.rpm_vercmp(pairs, tmp_path)
    assert len(expected) == len(pairs)
    wrong = [
        (a, b, e, _ours(a, b))
        for (a, b), e in zip(pairs, expected, strict=True)
        if _ours(a, b) != e
    ]
    checked(f"checked {len(pairs)} rpm pairs against librpm (outcomes: {sorted(set(expected))})")
    assert not wrong, f"{len(wrong)} of {len(pairs)} rpm pairs disagree with librpm: {wrong[:10]}"
    assert {"-1", "0", "1", "err"} <= set(expected), "generator no longer covers every outcome"


def test_sort_key_orders_like_librpm(tmp_path: Path, checked: Callable[[str], None]) -> None:
    """Sorting with the key must agree with librpm on every neighbour of the sorted list."""
    versions = sorted({v for p in _generate.rpm_pairs(600) for v in p if v})
    ordered = sorted(versions, key=rpm.key)
    neighbours = list(itertools.pairwise(ordered))
    labels = _oracle.rpm_vercmp(neighbours, tmp_path)
    checked(f"checked {len(neighbours)} sorted rpm neighbours against librpm")
    assert labels and all(x in ("-1", "0") for x in labels), [
        (p, x) for p, x in zip(neighbours, labels, strict=True) if x not in ("-1", "0")
    ][:10]


_SPEC = "Name: t\nEpoch: {epoch}\nVersion: {version}\nRelease: {release}\nSummary: s\nLicense: MIT\n%description\nd\n"  # noqa: E501
# Version / release / epoch values rpmbuild takes or refuses (or only warns about).
_CANDIDATES = [
    ("0", "1.0", "1"),
    ("0", "1.0~rc1^git1", "0.1.fc40"),
    ("0", "1.0_x", "1"),
    ("0", "+", "_"),
    ("0", ".1", "1"),
    ("0", "1.0 beta", "1"),
    ("0", "1..0", "1"),
    ("0", "1.0", "1..el9"),
    ("0", "1.0\\x", "1"),
    ("0", "1.0é", "1"),
    ("0", "1.0%{x}", "1"),
    ("0", "1:2", "1"),
    ("4294967295", "1", "1"),
    ("4294967296", "1", "1"),
    ("0001", "1", "1"),
]


@pytest.mark.skipif(shutil.which("rpmspec") is None, reason="rpmspec (rpm-build) not installed")
def test_validate_takes_what_rpmbuild_takes(tmp_path: Path, checked: Callable[[str], None]) -> None:
    """``[E:]V-R`` passes validate exactly when rpmspec parses the spec without error or warning."""
    wrong = []
    for epoch, version, release in _CANDIDATES:
        spec = tmp_path / "t.spec"
        spec.write_text(_SPEC.format(epoch=epoch, version=version, release=release))
        out = subprocess.run(
            ["rpmspec", "-q", "--qf", "%{version}\\n", str(spec)],
            capture_output=True, text=True, env=_oracle._ENV, timeout=60, check=False,
        )  # fmt: skip
        rpmbuild_ok = out.returncode == 0 and "warning" not in out.stderr
        try:
            rpm.validate(f"{epoch}:{version}-{release}")
            ours = True
        except VersionError:
            ours = False
        if ours != rpmbuild_ok:
            wrong.append((epoch, version, release, rpmbuild_ok, out.stderr.strip()))
    checked(f"checked {len(_CANDIDATES)} rpm version syntaxes against rpmspec")
    assert not wrong, wrong
