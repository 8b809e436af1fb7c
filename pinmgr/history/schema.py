"""The one schema of both stores, as numbered migrations; ``{id}``/``{blob}`` per dialect.

A store records its schema version in ``pinmgr_schema``; opening it applies the missing
migrations in one transaction, and refuses a store written by a newer pinmgr (its version is
above ``CURRENT``) rather than guessing at tables it does not know.

Package versions are stored compactly: each distinct ``(ecosystem, name, version)`` once in
``versions``; a host's installed set as a ``package_sets`` row (sorted version ids, delta
coded, zlib) shared by every run and host with the same set, so a run where a host did not
change adds one ``run_hosts`` row pointing at the set it already had.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: first schema.
    (
        """CREATE TABLE runs (
            id {id},
            recorded_at TEXT NOT NULL,
            command TEXT NOT NULL,
            lockfile TEXT NOT NULL,
            envs TEXT NOT NULL,
            roles TEXT NOT NULL,
            hosts_total INTEGER NOT NULL,
            hosts_collected INTEGER NOT NULL)""",
        "CREATE INDEX runs_scope ON runs (lockfile, envs, roles, command, id)",
        "CREATE INDEX runs_time ON runs (recorded_at)",
        """CREATE TABLE run_counts (
            run_id INTEGER NOT NULL,
            env TEXT NOT NULL,
            kind TEXT NOT NULL,
            n INTEGER NOT NULL)""",
        "CREATE INDEX run_counts_run ON run_counts (run_id)",
        """CREATE TABLE hosts (
            id {id},
            env TEXT NOT NULL,
            name TEXT NOT NULL,
            UNIQUE (env, name))""",
        """CREATE TABLE versions (
            id {id},
            ecosystem TEXT NOT NULL,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            UNIQUE (ecosystem, name, version))""",
        """CREATE TABLE package_sets (
            id {id},
            digest TEXT NOT NULL UNIQUE,
            body {blob} NOT NULL)""",
        """CREATE TABLE run_hosts (
            run_id INTEGER NOT NULL,
            host_id INTEGER NOT NULL,
            roles TEXT NOT NULL,
            os_release TEXT NOT NULL,
            set_id INTEGER,
            failure TEXT NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (run_id, host_id))""",
        "CREATE INDEX run_hosts_host ON run_hosts (host_id, run_id)",
        """CREATE TABLE findings (
            run_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            env TEXT NOT NULL,
            host TEXT NOT NULL,
            role TEXT NOT NULL,
            ecosystem TEXT NOT NULL,
            package TEXT NOT NULL,
            expected TEXT NOT NULL,
            actual TEXT NOT NULL,
            direction TEXT NOT NULL,
            reason TEXT NOT NULL,
            os_release TEXT NOT NULL,
            waiver TEXT NOT NULL,
            first_seen TEXT NOT NULL)""",
        "CREATE INDEX findings_run ON findings (run_id)",
    ),
)

CURRENT = len(MIGRATIONS)
