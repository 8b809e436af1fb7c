"""dpkg's database file read directly, as the lines ``dpkg-query -W -f=<probe format>`` prints.

A tree (image, unpacked root) is read without running its tools, and pinmgr may run on a
machine with no dpkg at all: the status file is parsed here and rendered exactly as the probe's
``dpkg-query`` call would render it (tests hold this against the real ``dpkg-query
--admindir``), so the one dpkg parser judges both. Distroless images keep one stanza file per
package in ``status.d/`` instead: those are read too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pinmgr.collectors.tree import Tree

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"

_WANT = {"unknown": "u", "install": "i", "hold": "h", "deinstall": "r", "purge": "p"}
_STATUS = {
    "not-installed": "n",
    "config-files": "c",
    "half-installed": "H",
    "unpacked": "U",
    "half-configured": "F",
    "triggers-awaited": "W",
    "triggers-pending": "t",
    "installed": "i",
}
_EFLAG = {"ok": " ", "reinstreq": "R"}


def stanzas(text: str) -> list[dict[str, str]]:
    """deb822 paragraphs: ``Field: value`` with continuation lines; field names case-folded."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current, last = {}, ""
        elif line[0] in " \t":
            if last:
                current[last] += "\n" + line
        else:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            last = name.strip().lower()
            current[last] = value.strip()
    if current:
        out.append(current)
    return out


def status_line(stanza: dict[str, str], native_arch: str) -> str | None:
    """The probe-format line dpkg-query prints for this package, or None if it lists none.

    ``${binary:Package}`` is arch-qualified for Multi-Arch: same packages and for any
    architecture other than the native one and ``all``, as dpkg's ``pnaw_nonambig`` does.
    """
    name = stanza.get("package", "")
    words = stanza.get("status", "").split()
    if len(words) == 3:
        abbrev = _WANT.get(words[0], "?") + _STATUS.get(words[2], "?") + _EFLAG.get(words[1], "?")
    else:
        abbrev = "???"
    if words[2:3] == ["not-installed"]:
        return None
    arch = stanza.get("architecture", "")
    qualified = name
    if arch and (
        stanza.get("multi-arch", "").lower() == "same" or arch not in (native_arch, "all")
    ):
        qualified = f"{name}:{arch}"
    return f"{qualified}\t{stanza.get('version', '')}\t{abbrev}\t{arch}"


def dpkg_lines(tree: Tree) -> list[str] | None:
    """Probe-format dpkg lines of ``tree``, or None when it has no dpkg database."""
    from pinmgr.collectors.tree import list_dir, read_file

    found: list[dict[str, str]] = []
    status = read_file(tree, STATUS)
    if status is not None:
        found += stanzas(status.decode("utf-8", errors="backslashreplace"))
    listed = list_dir(tree, STATUS_D)
    if listed is not None:
        key, names = listed
        for name in names:
            if name.startswith(".") or name.endswith(".md5sums"):
                continue
            data = read_file(tree, f"/{key}/{name}")
            if data is not None:
                found += [
                    {"status": "install ok installed", **s}
                    for s in stanzas(data.decode("utf-8", errors="backslashreplace"))
                ]
    if status is None and listed is None:
        return None
    native = next((s.get("architecture", "") for s in found if s.get("package") == "dpkg"), "")
    if not native:  # distroless: no dpkg package; the most common real architecture
        archs = [a for s in found if (a := s.get("architecture", "")) not in ("", "all")]
        native = max(set(archs), key=archs.count) if archs else ""
    lines = [line for s in found if (line := status_line(s, native)) is not None]
    return sorted(lines)
