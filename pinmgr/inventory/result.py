"""What a source loader returns: the hosts it could place, and one problem per host it could not.

A source degrades per host, not per file: one host in no role group must not hide the other 70.
Problems that stop a whole source (its binary is missing, its file does not parse) are still
raised as ``InventoryError``; ``--strict`` turns the per-host ones into errors too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pinmgr.errors import InventoryError
from pinmgr.model import Host, HostWarning, Inventory, SourceProblem

__all__ = ["LoadedInventory", "SourceResult", "problems_error"]


@dataclass(frozen=True)
class SourceResult:
    """One source's hosts, and the hosts it named but left out (each with why)."""

    hosts: tuple[Host, ...]
    problems: tuple[SourceProblem, ...] = ()


@dataclass(frozen=True)
class LoadedInventory:
    """The merged inventory of every source, the hosts left out of it, and caveats.

    ``warnings`` are hosts loaded with a caveat (ssh_config says ``StrictHostKeyChecking no``,
    which pinmgr never obeys): nothing is missing, so ``--strict`` leaves them warnings.
    """

    inventory: Inventory
    problems: tuple[SourceProblem, ...] = ()
    warnings: tuple[HostWarning, ...] = ()

    def strict(self) -> Inventory:
        """The inventory, or an ``InventoryError`` listing every left-out host (``--strict``)."""
        if self.problems:
            raise problems_error(self.problems)
        return self.inventory


def problems_error(problems: Sequence[SourceProblem]) -> InventoryError:
    """One error carrying every problem (``.problems``), worded as the first one."""
    each = tuple(InventoryError(p.message, p.location) for p in problems)
    return InventoryError(each[0].message, each[0].location, each)
