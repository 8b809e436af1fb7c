"""Application revisions: the lockfile's ``apps``, the section parser, and the findings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinmgr.collectors.parsers import app_revision
from pinmgr.diff.apps import app_findings
from pinmgr.errors import LockfileError
from pinmgr.lockfile.load import loads
from pinmgr.model import (
    AppPin,
    AppSource,
    Ecosystem,
    FindingKind,
    Host,
    HostSnapshot,
    InstalledPackage,
    OsRelease,
)
from pinmgr.versions import revision

SHA = "cbbc6ceff64f6fc6b9b936740052f778bd22b9d6"
OTHER = "0123456789abcdef0123456789abcdef01234567"

LOCK = f"""\
schema = 1

[roles.web.apps.shop]
path = "/srv/shop"
revision = "{SHA[:7]}"

[roles.web.apps.api]
path = "/srv/api"
source = "file"
same = true

[roles.web.apps.tool]
source = "package"
package = "pmtool"
revision = "2.0-1"
"""


def test_lockfile_apps() -> None:
    lock = loads(LOCK)
    shop, api, tool = lock.apps
    assert (shop.name, shop.source, shop.revision, shop.path) == (
        "shop",
        AppSource.GIT,
        SHA[:7],
        "/srv/shop",
    )
    assert (api.source, api.same, api.file) == (AppSource.FILE, True, "REVISION")
    assert (tool.source, tool.package) == (AppSource.PACKAGE, "pmtool")
    assert lock.apps_for(("db", "web")) == lock.apps
    assert lock.pins == ()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('path = "/x"', "give either revision"),
        ('path = "/x"\nrevision = "a"\nsame = true', "give either revision"),
        ('path = "x"\nsame = true', "path must be the absolute"),
        ('path = "/x"\nsame = true\nsource = "svn"', "source must be one of git, file, package"),
        ('path = "/x"\nsame = true\nsource = "file"\nfile = "../etc/passwd"', "inside the deploy"),
        ('path = "/x"\nsame = true\nfile = "R"', "file is only for source"),
        ('path = "/x"\nrevision = "a b"', "blanks"),
        ('path = "/x"\nsame = "yes"', "same must be true or false"),
        ('path = "/x"\nsame = true\nbranch = "main"', "unknown key 'branch'"),
    ],
)
def test_lockfile_app_problems(table: str, message: str) -> None:
    with pytest.raises(LockfileError) as caught:
        loads(f"schema = 1\n[roles.web.apps.shop]\n{table}\n")
    assert message in str(caught.value) or any(message in p.message for p in caught.value.problems)


def test_app_is_no_pin_ecosystem() -> None:
    with pytest.raises(LockfileError, match="unknown ecosystem 'app'"):
        loads('schema = 1\n[roles.web."debian-12".app]\nshop = "abc1234"\n')


def test_revision_sameness() -> None:
    assert revision.same(SHA[:7], SHA) and revision.same(SHA, SHA[:12].upper())
    assert not revision.same(SHA[:6], SHA)  # too short to stand for a commit
    assert not revision.same("v1.2", "v1.2.3")  # labels are compared whole
    assert revision.compare(SHA, OTHER) != 0


GIT = AppPin("web", "shop", "/srv/shop", AppSource.GIT, same=True)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([f"head\t{SHA}"], SHA),
        (["head\tref: refs/heads/main", f"ref\t{SHA}"], SHA),
        (["head\tref: refs/heads/main", f"packed\t{SHA}"], SHA),
        (["head\tref: refs/heads/main"], None),
        (["head\tref: refs/heads/main", "ref\tnot-a-commit"], None),
        (["head\tgarbage"], None),
        (["absent"], None),
    ],
)
def test_git_section(lines: list[str], expected: str | None) -> None:
    assert app_revision(lines, GIT)[0] == expected


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(lines=st.lists(st.text(max_size=80), max_size=6))
def test_arbitrary_section_lines(lines: list[str]) -> None:
    for app in (GIT, AppPin("web", "api", "/srv/api", AppSource.FILE, same=True, file="R")):
        rev, why = app_revision(lines, app)
        assert (rev is None) == bool(why)
        if rev is not None:
            revision.validate(rev)
            assert "\n" not in rev


def _snap(name: str, env: str, rev: str | None) -> HostSnapshot:
    pkgs = (InstalledPackage(Ecosystem.APP, "shop", rev),) if rev else ()
    return HostSnapshot(Host(name, env, ("web",)), OsRelease("debian", "12"), pkgs)


def test_findings_pinned_and_same() -> None:
    lock = loads(LOCK)
    pinned = [
        f
        for f in app_findings(
            lock, [_snap("a", "prod", SHA), _snap("b", "dev", OTHER), _snap("c", "dev", None)]
        )
        if f.package == "shop"
    ]
    assert [(f.host, f.kind) for f in pinned] == [
        ("a", FindingKind.OK),
        ("b", FindingKind.DRIFT),
        ("c", FindingKind.MISSING),
    ]
    assert pinned[1].direction is None
    assert pinned[2].reason == "no git checkout at /srv/shop"
    same_lock = loads('schema = 1\n[roles.web.apps.shop]\npath = "/srv/shop"\nsame = true\n')
    found = app_findings(same_lock, [_snap("a", "prod", SHA), _snap("b", "dev", OTHER)])
    assert {f.kind for f in found} == {FindingKind.DRIFT}
    assert found[0].reason == f"dev runs {OTHER[:12]}, prod runs {SHA[:12]}"
    agree = app_findings(same_lock, [_snap("a", "prod", SHA), _snap("b", "dev", SHA)])
    assert {f.kind for f in agree} == {FindingKind.OK}
