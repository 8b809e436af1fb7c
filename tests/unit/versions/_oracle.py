"""Ask the real tools: dpkg (one bash loop over a NUL-separated file) and librpm (one Lua run).

Strings go through files as raw bytes (UTF-8 with surrogateescape), so non-ASCII bytes, tabs
and newlines reach the tools unchanged.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_ENV = {**os.environ, "LC_ALL": "C", "LANG": "C"}


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


# Each record: a NUL b NUL. Prints one of lt/eq/gt/err per pair.
_DPKG_COMPARE = r"""
while IFS= read -r -d '' a && IFS= read -r -d '' b; do
  dpkg --compare-versions -- "$a" lt "$b" 2>/dev/null
  case $? in
    0) echo lt ;;
    1) if dpkg --compare-versions -- "$a" eq "$b" 2>/dev/null; then echo eq; else echo gt; fi ;;
    *) echo err ;;
  esac
done < "$1"
"""

# Each record: v NUL. Prints rc NUL stderr NUL per string.
_DPKG_CHECK = r"""
while IFS= read -r -d '' v; do
  err=$(dpkg --compare-versions -- "$v" eq "$v" 2>&1 >/dev/null); rc=$?
  printf '%s\0%s\0' "$rc" "$err"
done < "$1"
"""


def dpkg_compare(pairs: list[tuple[str, str]], tmp: Path) -> list[str]:
    """'lt' / 'eq' / 'gt' / 'err' per pair, from ``dpkg --compare-versions``."""
    src = tmp / "deb-pairs"
    src.write_bytes(b"".join(_b(a) + b"\0" + _b(b) + b"\0" for a, b in pairs))
    out = subprocess.run(
        ["bash", "-c", _DPKG_COMPARE, "bash", str(src)],
        capture_output=True, check=True, env=_ENV, timeout=240,
    )  # fmt: skip
    return out.stdout.decode().split()


def dpkg_check(versions: list[str], tmp: Path) -> list[tuple[int, str]]:
    """(rc, stderr) per version: rc 2 and ``error: ... has bad syntax`` when dpkg rejects it."""
    src = tmp / "deb-strings"
    src.write_bytes(b"".join(_b(v) + b"\0" for v in versions))
    out = subprocess.run(
        ["bash", "-c", _DPKG_CHECK, "bash", str(src)],
        capture_output=True, check=True, env=_ENV, timeout=240,
    )  # fmt: skip
    fields = out.stdout.split(b"\0")[:-1]
    return [(int(fields[i]), _s(fields[i + 1])) for i in range(0, len(fields), 2)]


_RPM_LUA = """
local function unhex(s)
  return (s:gsub('..', function(h) return string.char(tonumber(h, 16)) end))
end
local out = assert(io.open([[{out}]], 'w'))
for line in io.lines([[{src}]]) do
  local ha, hb = line:match('^(%x*) (%x*)$')
  local ok, r = pcall(rpm.vercmp, unhex(ha), unhex(hb))
  out:write(ok and tostring(math.tointeger(r) or r) or 'err', '\\n')
end
out:close()
"""


def rpm_vercmp(pairs: list[tuple[str, str]], tmp: Path) -> list[str]:
    """'-1' / '0' / '1' / 'err' per pair from librpm's ``rpm.vercmp`` (full EVR), one process."""
    src, dst, script = tmp / "rpm-pairs", tmp / "rpm-out", tmp / "oracle.lua"
    src.write_text("".join(f"{_b(a).hex()} {_b(b).hex()}\n" for a, b in pairs))
    script.write_text(_RPM_LUA.format(out=dst, src=src))
    subprocess.run(
        ["rpm", "--eval", f"%{{lua: dofile([[{script}]])}}"],
        capture_output=True, check=True, env=_ENV, timeout=240,
    )  # fmt: skip
    return dst.read_text().split()
