"""Every table the CLI prints, at 80, 100, 120 and 200 columns (issue #14).

A version or package name split across two lines is a different version to whoever copies it
(``1.34+dfsg-1.2+deb12u`` / ``1`` at 80 columns, before). With long real-world versions, each
table (check's findings, grouped and ``--by-host``; the environment matrix; ``diff``;
``outdated``; ``--show-waived``) must show every version and package name whole on one line,
stay within the width, and at 200 columns leave nothing out.
"""

from __future__ import annotations

import datetime as dt

import pytest
from rich.cells import cell_len

from pinmgr.diff.envdiff import DiffRow
from pinmgr.diff.installable import OutdatedRow
from pinmgr.diff.report import build
from pinmgr.model import (
    CheckReport,
    Direction,
    Ecosystem,
    Finding,
    FindingKind,
    Lockfile,
    Waiver,
)
from pinmgr.reporters import envdiff, outdated, table, waivers

WIDTHS = (80, 100, 120, 200)
DEB, RPM = Ecosystem.DEB, Ecosystem.RPM
GIT = "1:2.38.1-5+deb12u3"
TAR = "1.34+dfsg-1.2+deb12u1"
KERNEL = "5.14.0-362.8.1.el9_3"
# (ecosystem, package, pinned, installed)
PACKAGES = [
    (DEB, "git", "1:2.38.1-5+deb12u2", GIT),
    (DEB, "tar", "1.34+dfsg-1.2+deb12u0", TAR),
    (RPM, "kernel-core", "5.14.0-362.8.1.el9_2", KERNEL),
    (DEB, "postgresql-client-common", "248+deb12u1", "248+deb12u1"),
    (DEB, "linux-image-6.1.0-13-amd64", "6.1.55-1", "6.1.55-1"),
]
WHOLE = {p for _, p, *_ in PACKAGES} | {v for *_, a, b in PACKAGES for v in (a, b)}
HOSTS = [("production", "web-prod-eu-west-1a-017"), ("staging", "web-staging-2")]


def _findings() -> list[Finding]:
    out = []
    for env, host in HOSTS:
        for eco, package, pinned, installed in PACKAGES:
            drift = pinned != installed
            out.append(
                Finding(
                    FindingKind.DRIFT if drift else FindingKind.OK,
                    host,
                    env,
                    "application-server",
                    eco,
                    package,
                    pinned,
                    installed if env == "production" else pinned,
                    Direction.NEWER if drift else None,
                    reason="sources offer newer" if package == "tar" else "",
                    os_release="debian-12",
                )
            )
    return out


def _report(hosts: int) -> CheckReport:
    findings = [f for f in _findings() if f.host in {h for _, h in HOSTS[:hosts]}]
    envs = [e for e, _ in HOSTS[:hosts]]
    return build(findings, hosts_total=hosts, hosts_collected=hosts, environments=envs)


def _tables(width: int) -> dict[str, str]:
    diff_rows = tuple(
        DiffRow("application-server", eco, package, (pinned,), (installed, ""), Direction.NEWER)
        for eco, package, pinned, installed in PACKAGES
    )

    class Diff:
        left, right, rows, failures, notes = "production", "staging", diff_rows, (), ()

    outdated_rows = [
        OutdatedRow("application-server", "debian-12", eco, package, pinned, installed, "", hosts)
        for (eco, package, pinned, installed), hosts in zip(
            PACKAGES, [("web-prod-eu-west-1a-017", "web-prod-eu-west-1a-018")] * 5, strict=True
        )
    ]
    lock = Lockfile(
        path="pins/pinmgr.toml",
        schema=1,
        roles=("application-server",),
        pins=(),
        waivers=tuple(
            Waiver(package, f"upstream fix {installed} rolled early", dt.date(2030, 1, 1), eco)
            for eco, package, _, installed in PACKAGES
        ),
    )
    one_host, two_envs = _report(1), _report(2)
    return {
        "check": table.render(one_host, width=width, color=False),
        "check --by-host": table.render(two_envs, width=width, color=False, by_host=True),
        "check matrix": table.render(two_envs, width=width, color=False),
        "diff": envdiff.render_table(Diff(), width=width),
        "outdated": outdated.render_table(outdated_rows, hosts_checked=2, width=width),
        "--show-waived": waivers.render(lock, one_host, dt.date(2029, 1, 1), width=width),
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_no_version_or_package_name_is_split_and_nothing_is_wider(width: int) -> None:
    for name, text in _tables(width).items():
        lines = text.splitlines()
        assert all(cell_len(line) <= width for line in lines), f"{name} at {width}:\n{text}"
        shown = WHOLE if name != "--show-waived" else WHOLE - {p for *_, p, _ in PACKAGES}
        for word in shown:
            assert any(word in line for line in lines), f"{name} splits {word!r}:\n{text}"


@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_shows_every_value_it_is_about(width: int) -> None:
    tables = _tables(width)
    for name, text in tables.items():
        for _, package, *_ in PACKAGES:
            assert package in text, f"{name} at {width} lost {package}:\n{text}"
    assert TAR in tables["check"] and KERNEL in tables["check --by-host"]


def test_at_200_columns_nothing_is_left_out_or_shortened() -> None:
    for name, text in _tables(200).items():
        assert "left out" not in text and "…" not in text, f"{name}:\n{text}"
    assert "web-prod-eu-west-1a-017" in _tables(200)["check --by-host"]


def test_narrow_tables_shorten_hosts_in_the_middle_then_drop_and_say_so() -> None:
    at_100 = _tables(100)["check --by-host"]
    assert "│web-p…-017│" in at_100 and "│web-s…ng-2│" in at_100
    assert "(at 100 columns, left out: eco;" in at_100
    at_80 = _tables(80)["check --by-host"]
    assert "(at 80 columns, left out: env, host, eco;" in at_80
    assert "role application-server" in at_80.splitlines()  # lifted, not lost
