"""The inventory's ``[settings]``: what is accepted, what is refused (file:line), where it goes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pinmgr import settings
from pinmgr.errors import InventoryError

GOOD = """\
schema = 1

[settings]
jobs = 16
timeout = 90
connect_timeout = 2.5
known_hosts = "keys/known_hosts"
fail_on = "drift"
envs = ["staging", "production"]
outputs = ["junit=pinmgr.xml", "markdown=summary.md"]
history = "sqlite:///pinmgr-history.db"

[environments.staging.hosts.web1]
roles = ["app"]
"""


def test_every_key_is_read_and_known_hosts_is_taken_from_the_inventory_directory() -> None:
    shared, problems = settings.parse(GOOD, "pins/inventory.toml")
    assert problems == []
    assert dict(shared.values) == {
        "jobs": 16,
        "timeout": 90.0,
        "connect_timeout": 2.5,
        "known_hosts": str(Path("pins/keys/known_hosts")),
        "fail_on": "drift",
        "envs": ["staging", "production"],
        "outputs": ["junit=pinmgr.xml", "markdown=summary.md"],
        "history": "sqlite:///pinmgr-history.db",
    }
    assert shared.history_url() == "sqlite:///pinmgr-history.db"
    assert set(shared.values) == set(settings.KEYS)  # the example covers every key


def test_no_table_no_settings() -> None:
    shared, problems = settings.parse("schema = 1\n", "inv.toml")
    assert (dict(shared.values), problems, shared.history_url()) == ({}, [], None)


def test_every_bad_value_is_one_problem_at_its_line() -> None:
    text = (
        "schema = 1\n\n[settings]\njobs = 0\ntimeout = -1\nfail_on = 'sometimes'\n"
        'envs = "staging"\noutputs = ["junit"]\nhistory = "pinmgr.db"\ncolour = true\n'
    )
    shared, problems = settings.parse(text, "inv.toml")
    assert dict(shared.values) == {}
    lines = [(p.location.line if p.location else 0, p.message.split(":")[0]) for p in problems]
    assert lines == [
        (4, "setting jobs = 0"),
        (5, "setting timeout = -1"),
        (6, "setting fail_on = 'sometimes'"),
        (7, "setting envs = 'staging'"),
        (8, "setting outputs = ['junit']"),
        (9, "setting history = 'pinmgr.db'"),
        (10, "unknown setting 'colour' (known"),
    ]
    assert "one of any, drift, missing, security, unreachable, never, new" in problems[2].message


def test_read_raises_every_problem_and_tolerates_a_missing_file(tmp_path: Path) -> None:
    assert dict(settings.read(tmp_path / "absent.toml").values) == {}
    bad = tmp_path / "inventory.toml"
    bad.write_text("schema = 1\n[settings]\njobs = 1000\nbogus = 1\n")
    try:
        settings.read(bad)
    except InventoryError as exc:
        assert len(exc.problems) == 2
        assert str(exc.problems[0].location).endswith("inventory.toml:3:1")
    else:
        raise AssertionError("bad settings were accepted")


def test_a_setting_reaches_only_the_options_of_its_variable() -> None:
    shared, _ = settings.parse(GOOD, "inv.toml")
    # check --output reads PINMGR_OUTPUT; collect --output (a snapshot path) reads none.
    check = {"output": "PINMGR_OUTPUT", "jobs": "PINMGR_JOBS", "env": "PINMGR_ENV"}
    assert shared.defaults(check) == {
        "output": ["junit=pinmgr.xml", "markdown=summary.md"],
        "jobs": 16,
        "env": ["staging", "production"],
    }
    assert shared.defaults({"lockfile": "PINMGR_LOCKFILE"}) == {}


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@hsettings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from([*settings.KEYS, "other"]), values, max_size=4))
def test_arbitrary_values_are_accepted_or_named_never_crash(table: dict[str, Any]) -> None:
    doc = tomlkit.document()
    doc["schema"] = 1
    clean = {k: v for k, v in table.items() if v is not None}
    try:
        doc["settings"] = clean
        text = tomlkit.dumps(doc)
    except (ValueError, TypeError):  # not representable in TOML at all
        return
    shared, problems = settings.parse(text, "inv.toml")
    assert set(shared.values) | {p.message.split(" ")[1].strip("'") for p in problems} >= {
        k for k in clean if k in settings.KEYS
    }
    assert all(p.location is not None and p.location.file == "inv.toml" for p in problems)


@hsettings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    text = "[settings]\n" + data.decode("utf-8", "replace")
    shared, problems = settings.parse(text, "inv.toml")
    assert isinstance(shared.values, dict) and isinstance(problems, list)
