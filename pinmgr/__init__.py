"""pinmgr: pin exact package versions per role and OS release, and report drift across a fleet."""

from __future__ import annotations

__version__ = "0.1.0"
