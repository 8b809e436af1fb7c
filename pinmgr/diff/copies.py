"""Several installed copies of one rpm name: which one a pin is judged on, and what else is there.

rpm installs one name many times: kernels side by side (``installonlypkgs``), and multilib
pairs (``glibc.x86_64`` + ``glibc.i686``). Judging the first row only hid both cases, so:

* copies are grouped by architecture, and each architecture is judged on its own: a stale
  ``i686`` copy is drift even when the ``x86_64`` one is at the pin;
* within one architecture the pin is met when *any* copy meets it (the pinned kernel among
  older ones); otherwise the newest copy is the one reported (the one ``dnf`` would run);
* copies are ordered by rpm's own version order (``rpmvercmp``), never by their text.

A pin may name one architecture as dnf does, ``name.arch`` (``glibc.i686``): see
``versions.names.split_arch``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pinmgr.errors import VersionError
from pinmgr.model import Ecosystem, InstalledPackage
from pinmgr.versions import compare
from pinmgr.versions.names import split_arch


@dataclass(frozen=True)
class Copies:
    """The copies of one name and architecture a pin is judged on."""

    chosen: InstalledPackage
    """The copy the finding reports: one that meets the pin, else the newest."""
    others: tuple[InstalledPackage, ...]
    """The other copies of that architecture, oldest first."""
    label: str
    """How findings name it: ``name``, or ``name.arch`` when the arch matters."""


def _rpm_order(a: InstalledPackage, b: InstalledPackage) -> int:
    try:
        order = compare(Ecosystem.RPM, a.version, b.version)
    except VersionError:  # untrusted text librpm would still order: fall back to bytes
        order = (a.version > b.version) - (a.version < b.version)
    return order or (a.arch > b.arch) - (a.arch < b.arch)


def judge_copies(
    package: str,
    candidates: Sequence[InstalledPackage],
    meets: Callable[[InstalledPackage], bool],
) -> list[Copies]:
    """One ``Copies`` per architecture among ``candidates`` (all of one name, already narrowed
    to the pin's arch if it names one), in arch order; ``meets`` says whether a copy meets the pin.
    """
    if not candidates:
        return []
    name, pinned_arch = split_arch(package)
    by_arch: dict[str, list[InstalledPackage]] = {}
    for pkg in sorted(candidates, key=functools.cmp_to_key(_rpm_order)):
        by_arch.setdefault(pkg.arch, []).append(pkg)
    qualify = pinned_arch is not None or len(by_arch) > 1
    out = []
    for arch, copies in sorted(by_arch.items()):
        good = [p for p in copies if meets(p)]
        chosen = good[-1] if good else copies[-1]
        others = tuple(p for p in copies if p is not chosen)
        label = f"{name}.{arch}" if qualify and arch else name
        out.append(Copies(chosen, others, label))
    return out
