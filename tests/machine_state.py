"""A fingerprint of the machine's files the suite must leave alone, compared before and after.

Files are fingerprinted by content *and* identity (device, inode): a file replaced by a copy of
itself still counts as changed, because replacing e.g. /etc/passwd detaches every bind mount of
the old file. Directories count by their entries' names; dirs in $HOME that other tools on the
machine use too (rpm's ~/.rpmdb, ~/.ansible) count by existence alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["file", "entries", "exists"]


@dataclass(frozen=True)
class Guarded:
    path: Path
    kind: Kind


def guarded(homes: Iterable[Path]) -> list[Guarded]:
    """What the suite must not change: account files, package databases, sshd's /run dir, and
    in each real home (``$HOME`` and the passwd one, which ssh uses) ~/.ssh and the dot-dirs
    tools the tests run would create there."""
    items = [
        *(Guarded(Path("/etc", n), "file") for n in ("passwd", "group", "shadow", "gshadow")),
        Guarded(Path("/var/lib/dpkg/status"), "file"),
        Guarded(Path("/var/lib/rpm"), "entries"),
        Guarded(Path("/run/sshd"), "exists"),
    ]
    for home in dict.fromkeys(homes):
        items += [
            Guarded(home / ".ssh", "entries"),
            Guarded(home / ".ssh" / "known_hosts", "file"),
            Guarded(home / ".rpmdb", "exists"),
            Guarded(home / ".ansible", "exists"),
        ]
    return items


def fingerprint(items: Iterable[Guarded]) -> dict[str, tuple[str, ...]]:
    """path -> a tuple that changes whenever the path changes in the way its kind watches."""
    return {str(g.path): _fingerprint_one(g) for g in items}


def _fingerprint_one(g: Guarded) -> tuple[str, ...]:
    try:
        st = g.path.stat()
    except FileNotFoundError:
        return ("absent",)
    except OSError as exc:
        return (f"unreadable ({exc.strerror})",)
    if g.kind == "exists":
        return ("present",)
    if g.kind == "entries":
        try:
            return ("directory", *sorted(f"entry {p.name}" for p in g.path.iterdir()))
        except OSError as exc:
            return (f"unreadable ({exc.strerror})",)
    try:
        digest = hashlib.sha256(g.path.read_bytes()).hexdigest()
    except OSError as exc:
        digest = f"unreadable ({exc.strerror})"
    return (f"sha256 {digest}", f"inode {st.st_dev}:{st.st_ino}")


def changes(
    before: Mapping[str, tuple[str, ...]], after: Mapping[str, tuple[str, ...]]
) -> list[str]:
    """One line per changed path saying what went and what came."""
    out = []
    for path, old in before.items():
        new = after.get(path, ("absent",))
        if new == old:
            continue
        gone = [x for x in old if x not in new]
        came = [x for x in new if x not in old]
        out.append(f"{path}: was {', '.join(gone) or '-'}; now {', '.join(came) or '-'}")
    return out
