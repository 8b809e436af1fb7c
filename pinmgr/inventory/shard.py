"""``--shard K/N``: split the selected hosts between N CI jobs, the same way every time.

A host's shard comes from a stable hash of its name (not its position), so reordering or
growing the inventory moves no other host between shards, and N jobs together cover every
host exactly once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from pinmgr.errors import UsageError
from pinmgr.model import Host

MAX_SHARDS = 10_000
_SPEC = re.compile(r"([0-9]{1,6})/([0-9]{1,6})")


def parse_shard(spec: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``; shards are numbered from 1, as CI matrix jobs usually are."""
    m = _SPEC.fullmatch(spec.strip())
    if not m:
        raise UsageError(f"--shard {spec!r}: expected K/N, e.g. 1/4")
    k, n = int(m.group(1)), int(m.group(2))
    if not 1 <= n <= MAX_SHARDS or not 1 <= k <= n:
        raise UsageError(f"--shard {spec!r}: need 1 <= K <= N <= {MAX_SHARDS}")
    return k, n


def shard_of(host_name: str, n: int) -> int:
    """The shard (1..n) of a host name: SHA-256, so equal on every machine and Python."""
    digest = hashlib.sha256(host_name.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def select_shard(hosts: Sequence[Host], k: int, n: int) -> tuple[Host, ...]:
    """The hosts of shard ``k`` of ``n``, in their inventory order."""
    return tuple(h for h in hosts if shard_of(h.name, n) == k)
