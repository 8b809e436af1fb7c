"""Emitters: lockfile or check report -> files for other tools (Ansible, apt).

Each emitter is pure, ``emit...(...) -> {relative path: text}``, deterministic (no clock, no
I/O); the caller writes the files. ``ansible_vars.check`` is the one reader, for ``--check``.
"""
