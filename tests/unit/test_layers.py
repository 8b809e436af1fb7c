"""The one-way flow of ../ARCHITECTURE: a module imports only from lower layers.

    cli > api/authoring > reporters | emitters > diff | collectors | lockfile | inventory | snapshot
        > versions | atomic > errors > model

Siblings on one row do not import each other (diff never reaches into collectors, ...).
Checked on the source with ``ast`` so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "pinmgr"

RANK = {
    "model": 0,
    "errors": 1,
    "versions": 2,
    "atomic": 2,
    "sshlib": 2,
    "diff": 3,
    "collectors": 3,
    "lockfile": 3,
    "inventory": 3,
    "snapshot": 3,
    "reporters": 4,
    "emitters": 4,
    "history": 4,
    "settings": 4,  # reads the inventory's [settings]; knows diff's FailOn to check fail_on
    "api": 5,
    "authoring": 5,
    "cli": 6,
    "__main__": 7,
    "__init__": 7,
}


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "pinmgr":
                found.update(f"pinmgr.{a.name}" for a in node.names)
            elif node.module.startswith("pinmgr."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pinmgr."))
    return found


MODULES = sorted(p for p in PKG.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_flow_one_way(path: Path) -> None:
    rel = path.relative_to(PKG.parent).with_suffix("")
    me = _component(".".join(rel.parts))
    if path.name == "__init__.py" and path.parent == PKG:
        me = "__init__"
    assert me in RANK, f"{me} has no layer: add it to RANK and ARCHITECTURE"
    for target in _imports(path):
        other = _component(target)
        if other == me or (other == "__init__" and target == "pinmgr"):
            continue
        if target == "pinmgr.__version__" or other == "__version__":
            continue
        assert other in RANK, f"{path}: imports {target} of unknown layer"
        assert RANK[other] < RANK[me], (
            f"{path.relative_to(PKG.parent)} ({me}) imports {target} ({other}): "
            "against the one-way flow"
        )


def test_every_module_belongs_to_a_layer() -> None:
    names = {p.stem for p in PKG.iterdir() if p.suffix == ".py" or p.is_dir()} - {"__pycache__"}
    assert names <= set(RANK), names - set(RANK)


def test_cli_default_jobs_matches_the_pool() -> None:
    import importlib

    # (``pinmgr.cli.app`` the attribute is the Typer app; the module is in sys.modules.)
    cli_app = importlib.import_module("pinmgr.cli.app")
    from pinmgr.collectors import pool

    assert cli_app.DEFAULT_JOBS == pool.DEFAULT_JOBS
