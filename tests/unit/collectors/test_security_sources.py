"""Security suites from apt's own answer: the real probe, run against real apt lists.

An archive shaped like Debian's and Ubuntu's (``tests/functional/aptsuites.py``: Release files
written by ``apt-ftparchive`` with the real Origin/Label/Suite/Codename fields) is fetched by
the real ``apt-get update`` into a temporary apt state (``APT_CONFIG``: the machine's own lists
and sources are never read or written), then the probe script itself runs its apt section
(``apt-cache policy`` + ``apt-cache madison``) and ``parse_probe`` reads it. apt is the oracle:
exactly the planted security uploads must come out as security fixes, never a feature release
in the main suite or a ``-updates`` upload.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr.collectors import aptorigins
from pinmgr.collectors.available import SECTION_APT, parse_section
from pinmgr.collectors.parsers import parse_probe
from pinmgr.collectors.probe import build_probe, new_nonce
from pinmgr.model import Ecosystem, Host, SecurityFix
from tests.functional.aptsuites import (
    build_archive,
    debian_suites,
    sources_lines,
    tools_missing,
    ubuntu_suites,
)

DEB = Ecosystem.DEB
HOST = Host("web1", "prod", ("app",))
DEBIAN_MAIN = {"pmsec-alpha": ["1.0-1", "1.1-1"], "pmsec-beta": ["2.0-1", "3.0-1"]}
DEBIAN_SECURITY = {"pmsec-alpha": ["1.0-1+deb12u1"], "pmsec-gamma": ["5.0-1+deb12u1"]}
DEBIAN_UPDATES = {"pmsec-beta": ["2.0-1+deb12u1"]}
UBUNTU_MAIN = {"pmsec-uno": ["1.0-1"], "pmsec-dos": ["2.0-1"]}
UBUNTU_SECURITY = {"pmsec-uno": ["1.0-1ubuntu0.1"]}
UBUNTU_UPDATES = {"pmsec-uno": ["1.0-1ubuntu0.2"], "pmsec-dos": ["2.0-1ubuntu0.1"]}
NAMES = ("pmsec-alpha", "pmsec-beta", "pmsec-gamma", "pmsec-uno", "pmsec-dos", "pmsec-none")


@pytest.fixture(scope="module")
def apt_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment whose APT_CONFIG points apt at the test archive and a private state."""
    reason = tools_missing() or (None if shutil.which("apt-get") else "apt-get not installed")
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("aptsec")
    suites = [
        *debian_suites(DEBIAN_MAIN, DEBIAN_SECURITY, DEBIAN_UPDATES),
        *ubuntu_suites(UBUNTU_MAIN, UBUNTU_SECURITY, UBUNTU_UPDATES),
    ]
    archive = build_archive(work / "archive", suites)
    (work / "sources.list").write_text(sources_lines(str(archive), suites))
    for sub in ("lists/partial", "cache/archives/partial", "etc/parts", "etc/prefs"):
        (work / sub).mkdir(parents=True)
    (work / "apt.conf").write_text(
        "\n".join(
            [
                f'Dir::Etc::sourcelist "{work}/sources.list";',
                f'Dir::Etc::sourceparts "{work}/etc/parts";',
                f'Dir::Etc::preferencesparts "{work}/etc/prefs";',
                f'Dir::State::Lists "{work}/lists";',
                f'Dir::Cache "{work}/cache";',
                'APT::Sandbox::User "root";',
                "",
            ]
        )
    )
    env = {**os.environ, "APT_CONFIG": str(work / "apt.conf")}
    done = subprocess.run(
        ["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield env


def run_probe(env: dict[str, str]) -> dict[str, tuple[tuple[str, ...], tuple[SecurityFix, ...]]]:
    """The real probe script (its apt section against the test lists) -> name -> offers."""
    query = {DEB: NAMES}
    nonce = new_nonce()
    script = build_probe(HOST, nonce, query)
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, timeout=120)
    snap = parse_probe(
        HOST, done.stdout, nonce, stderr=done.stderr, rc=done.returncode, available=query
    )
    return {a.name: (a.versions, a.security) for a in snap.available}


def test_real_apt_marks_exactly_the_security_uploads(apt_env: dict[str, str]) -> None:
    offers = run_probe(apt_env)
    assert set(offers) == set(NAMES)
    security = {name: fixes for name, (_, fixes) in offers.items() if fixes}
    assert security == {
        "pmsec-alpha": (SecurityFix("1.0-1+deb12u1", "Debian-Security bookworm-security"),),
        "pmsec-gamma": (SecurityFix("5.0-1+deb12u1", "Debian-Security bookworm-security"),),
        "pmsec-uno": (SecurityFix("1.0-1ubuntu0.1", "Ubuntu jammy-security"),),
    }
    # Everything else the suites carry is still offered, just not as a fix.
    assert set(offers["pmsec-beta"][0]) == {"2.0-1", "3.0-1", "2.0-1+deb12u1"}
    assert set(offers["pmsec-uno"][0]) == {"1.0-1", "1.0-1ubuntu0.1", "1.0-1ubuntu0.2"}
    assert offers["pmsec-none"] == ((), ())


def test_policy_lines_name_every_index(apt_env: dict[str, str]) -> None:
    done = subprocess.run(
        ["apt-cache", "policy"], env=apt_env, capture_output=True, text=True, timeout=60
    )
    indexes = aptorigins.parse_policy(done.stdout.splitlines())
    assert indexes.count == 6  # 3 Debian + 3 Ubuntu suites, one component, one architecture
    assert sorted(indexes.security.values()) == [
        "Debian-Security bookworm-security",
        "Ubuntu jammy-security",
    ]


@pytest.mark.parametrize(
    ("fields", "source"),
    [
        # This machine's own security source, as apt-cache policy printed it.
        (
            "v=12,o=Debian,a=oldstable-security,n=bookworm-security,l=Debian-Security,c=main,"
            "b=amd64",
            "Debian-Security bookworm-security",
        ),
        ("v=12.15,o=Debian,a=oldstable,n=bookworm,l=Debian,c=main,b=amd64", None),
        ("v=12-updates,o=Debian,a=oldstable-updates,n=bookworm-updates,l=Debian,c=main", None),
        (
            "v=22.04,o=Ubuntu,a=jammy-security,n=jammy,l=Ubuntu,c=main,b=amd64",
            "Ubuntu jammy-security",
        ),
        ("v=22.04,o=Ubuntu,a=jammy-updates,n=jammy,l=Ubuntu,c=main,b=amd64", None),
        (
            "o=Debian,a=trixie-security,n=trixie-security,l=Debian-Security",
            "Debian-Security trixie-security",
        ),
        ("a=now", None),
        ("", None),
        # A label with a comma in it stays one value.
        ("o=Acme, Inc.,a=stable,n=x-security,l=Acme", "Acme x-security"),
    ],
)
def test_security_source(fields: str, source: str | None) -> None:
    assert aptorigins.security_source(aptorigins.release_fields(fields)) == source


def test_old_style_section_has_no_security_answer() -> None:
    lines = ["sources 1", " bash | 5.2 | http://x bookworm-security/main amd64 Packages"]
    (entry,), warnings = parse_section(SECTION_APT, lines, 0, {DEB: ("bash",)})
    assert (entry.versions, entry.security, warnings) == (("5.2",), (), [])


def test_section_without_indexes_is_unknown() -> None:
    lines = [aptorigins.MADISON_MARK]
    assert parse_section(SECTION_APT, lines, 0, {DEB: ("bash",)})[0] == []


host_text = st.binary(max_size=300).map(lambda b: b.decode("utf-8", "backslashreplace"))
policy_like = st.lists(
    st.one_of(
        host_text,
        st.builds(lambda t: f" 500 {t} Packages", host_text),
        st.builds(lambda t: f"     release {t}", host_text),
        st.builds(lambda t: f"  bash | 1.{t} | {t} Packages", host_text),
        st.just(aptorigins.MADISON_MARK),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(lines=policy_like, rc=st.sampled_from([0, 1, None]))
def test_apt_section_on_arbitrary_host_text(lines: list[str], rc: int | None) -> None:
    entries, _ = parse_section(SECTION_APT, lines, rc, {DEB: ("bash",)})
    for entry in entries:
        assert {f.version for f in entry.security} <= set(entry.versions)
        for fix in entry.security:
            assert len(fix.source) <= aptorigins.MAX_SOURCE_CHARS
            assert fix.source.isprintable()
