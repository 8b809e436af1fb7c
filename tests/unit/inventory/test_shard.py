"""``--shard K/N``: every host in exactly one shard, the same one whatever the inventory order."""

from __future__ import annotations

import hashlib
import random

import pytest

from pinmgr.errors import UsageError
from pinmgr.inventory.shard import parse_shard, select_shard, shard_of
from pinmgr.model import Host

HOSTS = tuple(Host(f"web{i:04d}.example.com", "prod", ("app",)) for i in range(1000))


def test_shards_partition_the_hosts() -> None:
    for n in (1, 2, 3, 8):
        parts = [select_shard(HOSTS, k, n) for k in range(1, n + 1)]
        names = [h.name for part in parts for h in part]
        assert sorted(names) == sorted(h.name for h in HOSTS)
        if n > 1:  # a hash split, not all in one shard: each gets a fair part of 1000
            assert all(1000 / n * 0.7 < len(p) < 1000 / n * 1.3 for p in parts)


def test_a_host_keeps_its_shard_when_the_inventory_is_reordered_or_grows() -> None:
    shuffled = list(HOSTS)
    random.Random(7).shuffle(shuffled)
    grown = [*shuffled, *(Host(f"new{i}", "prod", ("app",)) for i in range(50))]
    for k in (1, 2, 3, 4):
        before = {h.name for h in select_shard(HOSTS, k, 4)}
        after = {h.name for h in select_shard(grown, k, 4)}
        assert before == after - {f"new{i}" for i in range(50)}


def test_the_hash_is_fixed_across_runs_and_machines() -> None:
    # SHA-256 of the name, first 8 bytes big-endian, mod N, plus 1 (docs/snapshot.md).
    # Fixed values: a change here reshuffles every team's CI split, so it must be deliberate.
    assert [shard_of(n, 4) for n in ("web1", "web2", "db1", "ürün")] == [3, 2, 4, 4]
    assert [shard_of(n, 1000) for n in ("web1", "db1")] == [247, 144]

    digest = hashlib.sha256(b"web1").digest()
    assert shard_of("web1", 7) == int.from_bytes(digest[:8], "big") % 7 + 1


def test_selection_keeps_inventory_order() -> None:
    part = select_shard(HOSTS, 2, 3)
    assert list(part) == [h for h in HOSTS if h in part]


@pytest.mark.parametrize("spec", ["0/4", "5/4", "1/0", "a/b", "1", "1/4/2", "-1/4", "1/99999"])
def test_bad_shard_specs_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(spec)


def test_good_shard_spec() -> None:
    assert parse_shard("3/8") == (3, 8)
    assert parse_shard(" 1/1 ") == (1, 1)
