"""The lab's login user, existing only inside each host's own mount namespace.

``useradd`` on the machine would change a shared machine for good, and it replaces
``/etc/passwd`` (new file, rename), which detaches every bind mount of the old file. Instead each
host gets copies of the machine's account files plus the lab user (and sshd's
privilege-separation user when the machine has none); host-init binds them over ``/etc/...`` in
the host's private mount namespace (a writable host gets them in its /etc overlay's upper layer
instead, so apt and adduser can still replace them there). The home directory is the host's own,
inside the lab's temp dir.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .net import LabError

ACCOUNT_FILES = ("passwd", "group", "shadow", "gshadow")
"""The files under /etc a host gets its own copy of (gshadow only when the machine has one)."""
SSHD_USER = "sshd"
SKEL = Path("/etc/skel")
NOGROUP = 65534
_SYSTEM_IDS = range(999, 99, -1)
"""Where ids are taken from, highest first, as ``useradd --system`` does."""


@dataclass(frozen=True)
class _Source:
    lines: tuple[str, ...]
    mode: int
    uid: int
    gid: int


@dataclass(frozen=True)
class Accounts:
    """The machine's account files with the lab user added: read once per lab, written once
    per host (only the home directory differs between hosts)."""

    user: str
    uid: int
    gid: int
    sources: Mapping[str, _Source]
    added: Mapping[str, tuple[str, ...]]
    """file -> lines added besides the lab user's own (sshd's, when the machine lacks it)."""

    @classmethod
    def from_machine(cls, user: str, etc: Path = Path("/etc")) -> Accounts:
        """Read ``etc``'s account files (never written) and pick ids free on this machine."""
        sources: dict[str, _Source] = {}
        for name in ACCOUNT_FILES:
            path = etc / name
            try:
                st = path.stat()
                text = path.read_text()
            except FileNotFoundError:
                if name == "gshadow":
                    continue
                raise LabError(f"{path} is missing: cannot give lab hosts their accounts") from None
            except PermissionError:
                raise LabError(f"cannot read {path}: the host lab needs root") from None
            lines = tuple(line for line in text.splitlines() if line.strip())
            sources[name] = _Source(lines, st.st_mode & 0o7777, st.st_uid, st.st_gid)
        taken = _ids(sources["passwd"].lines) | _ids(sources["group"].lines)
        lab_id = _free_id(taken)
        added: dict[str, list[str]] = {name: [] for name in sources}
        if SSHD_USER not in _names(sources["passwd"].lines):
            sshd_id = _free_id(taken | {lab_id})
            sshd_gid = NOGROUP if NOGROUP in _ids(sources["group"].lines) else sshd_id
            added["passwd"].append(
                f"{SSHD_USER}:x:{sshd_id}:{sshd_gid}::/run/sshd:/usr/sbin/nologin"
            )
            added["shadow"].append(f"{SSHD_USER}:*:{_today()}:0:99999:7:::")
            if sshd_gid == sshd_id:
                added["group"].append(f"{SSHD_USER}:x:{sshd_id}:")
                if "gshadow" in added:
                    added["gshadow"].append(f"{SSHD_USER}:!::")
        return cls(
            user=user,
            uid=lab_id,
            gid=lab_id,
            sources=sources,
            added={name: tuple(lines) for name, lines in added.items()},
        )

    def render(self, home: Path) -> dict[str, str]:
        """file name -> content: the machine's lines (any old ``user`` line dropped: a machine
        may still have one from before), the additions, then the lab user's line."""
        shell = "/bin/bash" if Path("/bin/bash").exists() else "/bin/sh"
        own = {
            "passwd": f"{self.user}:x:{self.uid}:{self.gid}:pinmgr test host:{home}:{shell}",
            "group": f"{self.user}:x:{self.gid}:",
            # "*": no password, yet not locked ("!"), so sshd without PAM accepts the key.
            "shadow": f"{self.user}:*:{_today()}:0:99999:7:::",
            "gshadow": f"{self.user}:!::",
        }
        out = {}
        for name, src in self.sources.items():
            kept = [line for line in src.lines if line.split(":", 1)[0] != self.user]
            out[name] = "".join(f"{line}\n" for line in [*kept, *self.added[name], own[name]])
        return out

    def write(self, etc_dir: Path, home: Path) -> list[str]:
        """Write the host's account files into ``etc_dir`` (owner and mode as the machine's)
        and create ``home`` (/etc/skel's files) owned by the lab user; return the names written."""
        etc_dir.mkdir(parents=True, exist_ok=True)
        for name, text in self.render(home).items():
            src = self.sources[name]
            path = etc_dir / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.chown(path, src.uid, src.gid)
            os.chmod(path, src.mode)
        home.mkdir(mode=0o750)
        if SKEL.is_dir():  # as useradd --create-home would: a login sees a stock home
            shutil.copytree(SKEL, home, symlinks=True, dirs_exist_ok=True)
            home.chmod(0o750)
        for path in [home, *home.rglob("*")]:
            os.lchown(path, self.uid, self.gid)
        return list(self.sources)


def _names(lines: tuple[str, ...]) -> set[str]:
    return {line.split(":", 1)[0] for line in lines}


def _ids(lines: tuple[str, ...]) -> set[int]:
    ids = set()
    for line in lines:
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            ids.add(int(fields[2]))
    return ids


def _free_id(taken: set[int]) -> int:
    for n in _SYSTEM_IDS:
        if n not in taken:
            return n
    raise LabError("no free system uid/gid (100-999) for the lab user")


def _today() -> int:
    """Days since the epoch: shadow's "last changed" (0 would mean "must change now")."""
    return int(time.time() // 86400)
