"""``python -m pinmgr`` runs the CLI."""

from __future__ import annotations

from pinmgr.cli import main

main()
