"""Every edit of a ``pinmgr fmt``-clean lockfile leaves it ``fmt --check``-clean (issue #14).

Random sequences of pin / unpin / waiver edits go through the library (``authoring.plan_pin``,
``plan_unpin``: what ``pin``, ``unpin``, ``lock`` and ``accept`` all end in, since lock and
accept write through ``edit.set_pin``; ``edit.add_waiver`` for waivers) starting from
fmt-clean files, the bundled lockfile among them; after every step ``format_text`` must
return the file unchanged. Roles, releases and packages are drawn so that new tables land
first, last and in between, and tables get emptied and refilled.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr import authoring
from pinmgr.errors import LockfileError, UsageError
from pinmgr.lockfile import edit
from pinmgr.lockfile.fmt import format_text
from pinmgr.lockfile.load import loads
from pinmgr.model import SHARED_ROLE, Ecosystem, Waiver

BUNDLED = Path(__file__).resolve().parents[3] / "pins" / "pinmgr.toml"

STARTS = {
    "bundled": BUNDLED.read_text(encoding="utf-8"),
    "minimal": "schema = 1\n",
    "one-table": 'schema = 1\n\n[roles.db."debian-12".deb]\nlibpq5 = "15.6-0+deb12u1"\n',
    "empty-release-last": 'schema = 1\n\n[roles.db."ubuntu-24.04"]\n',
    "waiver": (
        'schema = 1\n\n[roles.app."debian-12".deb]\nbash = "5.2.15-2+b7"\n\n'
        '# accepted drift\n[[waivers]]\npackage = "bash"\nreason = "OPS-1"\n'
        "expires = 2030-01-01\n"
    ),
}
VERSIONS = {Ecosystem.DEB: "1.34+dfsg-1.2+deb12u1", Ecosystem.RPM: "5.14.0-362.8.1.el9_3"}
VERSIONS[Ecosystem.PIP] = "2.38.1"

roles = st.sampled_from(["aaa", "app", "db", "mid", "zzz", SHARED_ROLE])
releases = st.sampled_from(["alma-9.3", "debian-12", "rocky-9", "ubuntu-24.04", "zz-1"])
ecosystems = st.sampled_from([e for e in Ecosystem if e is not Ecosystem.APP])  # apps: own tables
packages = st.sampled_from(["aa", "bash", "nginx", "zlib"])
pins = st.tuples(st.just("pin"), roles, releases, ecosystems, packages)
unpins = st.tuples(st.just("unpin"), roles, releases, ecosystems, packages)
waivers = st.tuples(st.just("waiver"), st.none(), st.none(), st.none(), packages)
steps = st.lists(st.one_of(pins, unpins, waivers), min_size=1, max_size=8)


def test_every_start_file_is_fmt_clean() -> None:
    for name, text in STARTS.items():
        assert format_text(text) == text, name


def _edited(path: Path, step: tuple[str, str | None, str | None, Ecosystem | None, str]) -> str:
    """The file's text after one step (unchanged when the step is refused)."""
    op, role, release, eco, package = step
    if op == "waiver":
        doc, _ = edit.read_document(path)
        expires = dt.date(2030, 1, 1)
        edit.add_waiver(doc, Waiver(package=package, reason="accepted", expires=expires))
        text = edit.dumps(doc)
        try:
            loads(text, str(path))
        except LockfileError:  # a second waiver for the same package: pinmgr refuses it
            return path.read_text(encoding="utf-8")
        return text
    assert role is not None and release is not None and eco is not None
    try:
        if op == "pin":
            change = authoring.plan_pin(path, role, release, eco, [(package, VERSIONS[eco])])
        else:
            change = authoring.plan_unpin(path, role, release, eco, [package])
    except UsageError:  # unpin of what is not pinned: refused, nothing written
        return path.read_text(encoding="utf-8")
    return change.after


@pytest.mark.parametrize("start", sorted(STARTS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=steps)
def test_edits_keep_a_formatted_file_formatted(start: str, sequence: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pinmgr.toml"
        path.write_text(STARTS[start], encoding="utf-8")
        for step in sequence:
            text = _edited(path, step)
            assert format_text(text) == text, f"after {step}:\n{text}"
            path.write_text(text, encoding="utf-8")
