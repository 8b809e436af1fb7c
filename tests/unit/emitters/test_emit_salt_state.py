"""Salt state emitter: layout, pins, quoting, drift form; rendered by the real salt-call.

PyYAML checks structure quickly; the real Salt (its own venv, see tests/functional/saltcall.py)
is the oracle for rendering: #!yaml files, the Jinja init.sls files, top.sls and grain choice.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinmgr import api
from pinmgr.emitters.salt_state import emit_drift_states, emit_states
from pinmgr.errors import UsageError
from pinmgr.model import SHARED_ROLE, FindingKind, Lockfile
from tests.functional.saltcall import require_salt_call, run_salt, write_config
from tests.unit.emitters._support import (
    DATA,
    GLOB,
    LOCK,
    PIP,
    RPM,
    VENV,
    assert_golden,
    finding,
    pin,
    report,
    write_tree,
    yaml,
)

SAMPLE = DATA / "cm-sample.toml"
HOSTILE_NAMES = ('we{{ "ir" }}d{% if 1 %}x{% endif %}{# c #}', "a: b \"q\" 's' #c", "ü\\x\t")


def sample() -> Lockfile:
    lock = api.read_lockfile(SAMPLE)
    # The golden files must not name this machine's checkout path.
    return dataclasses.replace(lock, path="cm-sample.toml")


def load(text: str) -> Any:
    assert text.startswith("#!yaml\n"), "a data file must turn Salt's Jinja pass off"
    return yaml.safe_load(text)


def pkgs(doc: dict[str, Any], state_id: str) -> dict[str, str]:
    args = doc[state_id]["pkg.installed"]
    (listed,) = [a["pkgs"] for a in args if "pkgs" in a]
    out: dict[str, str] = {}
    for item in listed:
        ((name, version),) = item.items()
        out[name] = version
    return out


def test_layout_and_golden() -> None:
    files = emit_states(sample(), hold=True, pip_bin_env="/opt/app/venv")
    assert sorted(files) == [
        "pinmgr/db/debian-12.sls",
        "pinmgr/db/init.sls",
        "pinmgr/web/debian-12.sls",
        "pinmgr/web/init.sls",
        "pinmgr/web/rocky-9.sls",
        "pinmgr/web/ubuntu-22_04.sls",  # an SLS name cannot hold the dot of 22.04
        "top.sls",
    ]
    for rel, text in files.items():
        assert_golden(f"salt/states/{rel}", text)


def test_exact_pins_quoted_with_epochs_and_tildes_exactly() -> None:
    files = emit_states(sample(), hold=False)
    web = load(files["pinmgr/web/debian-12.sls"])
    assert pkgs(web, "pinmgr web debian-12 deb") == {
        "ca-certificates": "20230311",  # shared pin merged in; a string, not the int 20230311
        "libnginx-mod-http-geoip": "1:1.22.1-9",
        "nginx": "1.22.1-9",
    }
    assert not any("hold" in a for a in web["pinmgr web debian-12 deb"]["pkg.installed"])
    ubuntu = load(files["pinmgr/web/ubuntu-22_04.sls"])
    assert pkgs(ubuntu, "pinmgr web ubuntu-22.04 deb")["curl"] == "7.81.0-1ubuntu1.16~esm1"
    rocky = load(files["pinmgr/web/rocky-9.sls"])
    assert pkgs(rocky, "pinmgr web rocky-9 rpm") == {
        "nginx": "1:1.20.1-14.el9_2.1",  # epoch kept: Salt's yum/dnf module takes E:V-R
        "openssl": "1:3.0.7-27.el9",
    }
    text = files["pinmgr/web/debian-12.sls"]
    assert "#   deb openssl 3.0.* (glob: no single version)" in text
    assert "#   pip gunicorn 22.0.0 (no --pip-bin-env" in text
    assert "pip.installed" not in text  # Salt's default pip is its own, never the app's
    db = files["pinmgr/db/debian-12.sls"]
    assert "#   deb postgresql-client-15 >=15.8, <16 (range: no single version)" in db


def test_hold_and_pip_bin_env() -> None:
    files = emit_states(sample(), hold=True, pip_bin_env="/srv/app/venv")
    web = load(files["pinmgr/web/debian-12.sls"])
    assert {"hold": True} in web["pinmgr web debian-12 deb"]["pkg.installed"]
    assert web["pinmgr web debian-12 pip /srv/app/venv gunicorn"]["pip.installed"] == [
        {"name": "gunicorn==22.0.0"},
        {"bin_env": "/srv/app/venv"},
    ]


def test_top_maps_the_role_grain() -> None:
    top = load(emit_states(sample())["top.sls"])
    assert top == {
        "base": {
            "pinmgr_role:db": [{"match": "grain"}, "pinmgr.db"],
            "pinmgr_role:web": [{"match": "grain"}, "pinmgr.web"],
        }
    }


def test_a_release_without_exact_pins_is_a_valid_no_op() -> None:
    lock = Lockfile(
        path="p.toml",
        schema=1,
        roles=("app",),
        pins=(pin("openssl", "3.0.*", kind=GLOB),),
        releases=(),
    )
    doc = load(emit_states(lock)["pinmgr/app/debian-12.sls"])
    assert doc == {"pinmgr app debian-12: no exact pins": {"test.nop": []}}


@pytest.mark.parametrize(
    ("roles", "pins_", "message"),
    [
        (("a.b", "a_b"), (), "roles 'a.b' and 'a_b' would both be Salt state name 'a_b'"),
        (
            ("app",),
            (pin("x", "1", rel="ubuntu-22.04"), pin("x", "1", rel="ubuntu-22_04")),
            "OS releases 'ubuntu-22.04' and 'ubuntu-22_04' would both be",
        ),
        (("bad/role",), (), "role 'bad/role' cannot be used in a Salt state name"),
    ],
)
def test_names_that_would_collide_or_escape_are_refused(
    roles: tuple[str, ...], pins_: tuple[Any, ...], message: str
) -> None:
    lock = Lockfile(path="p.toml", schema=1, roles=roles, pins=pins_, releases=())
    with pytest.raises(UsageError, match=message.replace(".", r"\.")):
        emit_states(lock)


def test_deterministic_whatever_the_pin_order() -> None:
    first = emit_states(LOCK, hold=True, pip_bin_env=VENV)
    shuffled = list(LOCK.pins)
    random.Random(5).shuffle(shuffled)
    lock = dataclasses.replace(LOCK, pins=tuple(shuffled))
    assert emit_states(lock, hold=True, pip_bin_env=VENV) == first


_names = st.text(min_size=1, max_size=30)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    packages=st.dictionaries(_names, _names, min_size=1, max_size=5),
    pip_name=_names,
    pip_version=st.from_regex(r"[0-9][0-9a-z.+!]{0,10}", fullmatch=True),
)
def test_any_name_and_version_round_trip_through_yaml(
    packages: dict[str, str], pip_name: str, pip_version: str
) -> None:
    pins = tuple(pin(name, version) for name, version in packages.items())
    pins += (pin(pip_name, "==" + pip_version, eco=PIP),)
    lock = Lockfile(path="p.toml", schema=1, roles=("app",), pins=pins, releases=())
    text = emit_states(lock, pip_bin_env=pip_name)["pinmgr/app/debian-12.sls"]
    assert text.count("\n#!") == 0
    doc = load(text)
    assert pkgs(doc, "pinmgr app debian-12 deb") == packages
    pip_states = [v["pip.installed"] for k, v in doc.items() if " pip " in k]
    assert pip_states == [[{"name": f"{pip_name}=={pip_version}"}, {"bin_env": pip_name}]]


# --- drift form ------------------------------------------------------------------------------


def test_drift_form_per_host_and_golden() -> None:
    files = emit_drift_states(report(), LOCK, hold=True)
    assert sorted(files) == [
        "pinmgr_fix/dual-1.sls",
        "pinmgr_fix/init.sls",
        "pinmgr_fix/rk-1.sls",
        "pinmgr_fix/web-1.sls",
        "pinmgr_fix/web-2.sls",
        "pinmgr_fix/web-3.sls",
    ]  # not web-4 (ok and waived only), not web-5 (unreachable)
    for rel, text in files.items():
        assert_golden(f"salt/fix/{rel}", text)
    web3 = load(files["pinmgr_fix/web-3.sls"])
    assert pkgs(web3, "pinmgr fix web-3 deb") == {
        "ca-certificates": "20230311",
        "libssl3:i386": "3.0.15-1~deb12u1",
    }
    assert web3[f"pinmgr fix web-3 pip {VENV} requests"]["pip.installed"] == [
        {"name": "requests==2.31.0"},
        {"bin_env": VENV},
    ]
    # An interpreter's own pip script: Salt's bin_env runs a pip executable as it is.
    assert web3["pinmgr fix web-3 pip /usr/bin/pip3 requests"]["pip.installed"][1] == {
        "bin_env": "/usr/bin/pip3"
    }
    assert pkgs(load(files["pinmgr_fix/rk-1.sls"]), "pinmgr fix rk-1 rpm") == {
        "nginx": "1:1.20.1-14.el9"
    }
    # dual-1's roles disagree on nginx: left alone, listed; its other fix goes through.
    assert pkgs(load(files["pinmgr_fix/dual-1.sls"]), "pinmgr fix dual-1 deb") == {
        "postgresql-15": "15.6-0+deb12u1"
    }
    init = files["pinmgr_fix/init.sls"]
    for expected in (
        "#   dual-1 deb nginx: its roles pin different versions (1.22.1-9, 1.22.1-9+deb12u1)",
        "#   web-2 deb openssl: glob pin '3.0.*' names no single version to install",
    ):
        assert expected in init


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("web*1", r"host 'web\*1' cannot be used in a Salt state name"),
        ("init", r"host 'init' would be Salt's init\.sls: rename it"),
        ("web.1", r"hosts 'web\.1' and 'web_1' would both be Salt state name 'web_1'"),
    ],
)
def test_drift_form_refuses_a_host_name_salt_cannot_address(host: str, message: str) -> None:
    odd = (finding(host, "nginx", "1.22.1-9"), finding("web_1", "nginx", "1.22.1-9"))
    with pytest.raises(UsageError, match=message):
        emit_drift_states(report(odd), LOCK, hold=False)


# --- the real Salt -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def salt_call() -> str:
    return require_salt_call()


def _render(salt_call: str, tmp: Path, files: dict[str, str], *args: str, **grains: Any) -> Any:
    roots = tmp / "roots"
    write_tree(roots, files)
    config = write_config(tmp / "cfg", minion_id="web-3", grains=grains)
    return run_salt(salt_call, config, roots, *args)


def test_salt_renders_every_state_of_the_sample(salt_call: str, tmp_path: Path) -> None:
    files = emit_states(sample(), hold=True, pip_bin_env="/opt/app/venv")
    mods = sorted(
        rel.removesuffix(".sls").replace("/", ".")
        for rel in files
        if rel != "top.sls" and not rel.endswith("/init.sls")
    )
    shown = _render(salt_call, tmp_path, files, "state.show_sls", ",".join(mods))
    assert sorted(shown) == [
        "pinmgr db debian-12 deb",
        "pinmgr web debian-12 deb",
        "pinmgr web debian-12 pip /opt/app/venv gunicorn",
        "pinmgr web rocky-9 rpm",
        "pinmgr web ubuntu-22.04 deb",
    ]
    rocky = shown["pinmgr web rocky-9 rpm"]["pkg"]
    assert {"pkgs": [{"nginx": "1:1.20.1-14.el9_2.1"}, {"openssl": "1:3.0.7-27.el9"}]} in rocky
    assert {"hold": True} in rocky


@pytest.mark.parametrize(
    ("os_", "osrelease", "expected"),
    [
        # What salt-call grains.item reports for each os-release file (checked by hand on the
        # lab's files; see docs/cm-tools-salt.part.md).
        ("Debian", "12", "pinmgr web debian-12 deb"),
        ("Ubuntu", "22.04", "pinmgr web ubuntu-22.04 deb"),
        ("Rocky", "9.3", "pinmgr web rocky-9 rpm"),
        ("Debian", "11", "pinmgr web unsupported OS release"),
        ("Ubuntu", "12", "pinmgr web unsupported OS release"),
    ],
)
def test_init_picks_the_release_by_grains(
    salt_call: str, tmp_path: Path, os_: str, osrelease: str, expected: str
) -> None:
    files = emit_states(sample())
    shown = _render(
        salt_call, tmp_path, files, "state.show_sls", "pinmgr.web", os=os_, osrelease=osrelease
    )
    assert list(shown) == [expected]
    if "unsupported" in expected:
        assert shown[expected]["test"][1] == "fail_without_changes"


def test_top_gives_each_role_in_the_grain(salt_call: str, tmp_path: Path) -> None:
    files = emit_states(sample())
    shown = _render(
        salt_call,
        tmp_path,
        files,
        "state.show_highstate",
        pinmgr_role=["web", "db"],
        os="Debian",
        osrelease="12",
    )
    assert sorted(shown) == ["pinmgr db debian-12 deb", "pinmgr web debian-12 deb"]


def test_hostile_names_reach_salt_literally(salt_call: str, tmp_path: Path) -> None:
    """Jinja delimiters are not executed, ': ' and quotes stay inside the scalar."""
    pins = tuple(pin(name, "1.0-1") for name in HOSTILE_NAMES)
    pins += (
        pin(HOSTILE_NAMES[0], "==1.0", eco=PIP),
        pin("x", "1:2.0-1.el9", rel="rocky-9", eco=RPM),
    )
    pins += (pin("{{ 7*7 }}", "{% raw %}", role=SHARED_ROLE, kind=GLOB),)
    lock = Lockfile(path="p.toml", schema=1, roles=("app",), pins=pins, releases=())
    files = emit_states(lock, pip_bin_env="/v/{{ x }}")
    drift = emit_drift_states(
        report((finding("web-3", HOSTILE_NAMES[1], "1.0-1", kind=FindingKind.MISSING),)),
        Lockfile(
            path="p.toml",
            schema=1,
            roles=("app",),
            pins=(pin(HOSTILE_NAMES[1], "1.0-1"),),
            releases=(),
        ),
        hold=False,
    )
    shown = _render(
        salt_call,
        tmp_path,
        files | drift,
        "state.show_sls",
        "pinmgr.app.debian-12,pinmgr_fix",
    )
    deb = shown["pinmgr app debian-12 deb"]["pkg"]
    (listed,) = [a["pkgs"] for a in deb if isinstance(a, dict) and "pkgs" in a]
    assert listed == [{name: "1.0-1"} for name in sorted(HOSTILE_NAMES)]
    (pip_id,) = [k for k in shown if " pip " in k]
    assert shown[pip_id]["pip"][:2] == [
        {"name": f"{HOSTILE_NAMES[0]}==1.0"},
        {"bin_env": "/v/{{ x }}"},
    ]
    fix = shown["pinmgr fix web-3 deb"]["pkg"]
    assert {"pkgs": [{HOSTILE_NAMES[1]: "1.0-1"}]} in fix


# --- the CLI ---------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", "emit", "salt-state", "-l", "cm-sample.toml", *args],
        cwd=DATA,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_writes_the_golden_states_and_check_finds_stale_and_orphaned(tmp_path: Path) -> None:
    opts = ("--hold", "--pip-bin-env", "/opt/app/venv")
    done = _cli("--out", str(tmp_path), *opts)
    assert done.returncode == 0, done.stderr
    golden = DATA / "salt" / "states"
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.sls"))
    assert written == sorted(p.relative_to(golden).as_posix() for p in golden.rglob("*.sls"))
    for rel in written:
        assert (tmp_path / rel).read_text() == (golden / rel).read_text(), rel
    assert _cli("--check", "--out", str(tmp_path), *opts).returncode == 0

    (tmp_path / "pinmgr" / "gone").mkdir()
    (tmp_path / "pinmgr" / "gone" / "debian-12.sls").write_text(
        (tmp_path / "pinmgr" / "web" / "debian-12.sls").read_text()
    )
    (tmp_path / "pinmgr" / "mine.sls").write_text("#!yaml\n# not pinmgr's\n")
    done = _cli("--check", "--out", str(tmp_path))  # no --hold: every release state differs
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert f"pinmgr: stale: {tmp_path}/pinmgr/web/rocky-9.sls" in lines
    assert (
        "pinmgr: orphaned (its role is no longer in the lockfile): "
        f"{tmp_path}/pinmgr/gone/debian-12.sls" in lines
    )
    assert not any("mine.sls" in line for line in lines)  # not generated by pinmgr: not ours


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--pip-bin-env", "/v"), "--pip-bin-env is for the lockfile's states"),
        (("--check",), "--check compares the lockfile's states"),
    ],
)
def test_cli_drift_only_refuses_lockfile_options(
    tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    done = _cli("--drift-only", "--out", str(tmp_path), *extra)
    assert done.returncode == 2
    assert done.stderr.startswith(f"pinmgr: error: {message}")
    assert not any(tmp_path.iterdir())


def test_doc_embeds_the_golden_states() -> None:
    """The Salt section (docs/cm-tools-salt.part.md until merged into docs/cm-tools.md)."""
    docs = DATA.parents[2] / "docs"
    part = docs / "cm-tools-salt.part.md"
    doc = (part if part.exists() else docs / "cm-tools.md").read_text(encoding="utf-8")
    for rel in (
        "states/top.sls",
        "states/pinmgr/web/init.sls",
        "states/pinmgr/web/debian-12.sls",
        "states/pinmgr/web/rocky-9.sls",
        "fix/pinmgr_fix/web-3.sls",
    ):
        text = (DATA / "salt" / rel).read_text(encoding="utf-8")
        assert f"```yaml\n{text}```" in doc, f"update the Salt docs: {rel}"
    for option in ("--drift-only", "--hold", "--pip-bin-env", "--check", "pinmgr_role"):
        assert option in doc


@pytest.mark.parametrize(
    ("osrelease", "expected"),
    [("9.3", "pinmgr app rocky-9.3 rpm"), ("9.4", "pinmgr app rocky-9 rpm")],
)
def test_init_prefers_the_longest_declared_release(
    salt_call: str, tmp_path: Path, osrelease: str, expected: str
) -> None:
    pins = (
        pin("nginx", "1:1.20.1-14.el9", rel="rocky-9", eco=RPM),
        pin("nginx", "1:1.20.1-15.el9", rel="rocky-9.3", eco=RPM),
    )
    lock = Lockfile(path="p.toml", schema=1, roles=("app",), pins=pins, releases=())
    files = emit_states(lock)
    assert "pinmgr/app/rocky-9_3.sls" in files
    shown = _render(
        salt_call, tmp_path, files, "state.show_sls", "pinmgr.app", os="Rocky", osrelease=osrelease
    )
    assert list(shown) == [expected]


def test_drift_form_deterministic_whatever_the_finding_order() -> None:
    first = emit_drift_states(report(), LOCK, hold=True)
    shuffled = list(report().findings)
    random.Random(7).shuffle(shuffled)
    assert emit_drift_states(report(tuple(shuffled)), LOCK, hold=True) == first


def test_drift_form_downgrades_pip_in_a_virtualenv_and_by_interpreter(
    salt_call: str, tmp_path: Path
) -> None:
    """Salt's pip.installed for real, on this machine, into two throwaway virtualenvs only."""
    from tests.unit.emitters.test_emit_ansible_tools import _installed, _venv, _wheel

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0", "2.0"):
        _wheel(wheels, "pinmgr_demo", version)
    pip_env = {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    by_dir, by_python = tmp_path / "venv-a", tmp_path / "venv-b"
    _venv(by_python)
    subprocess.run(
        [str(by_python / "bin" / "python"), "-m", "pip", "install", "-q", "pinmgr_demo==2.0"],
        env={**os.environ, **pip_env},
        check=True,
        capture_output=True,
    )
    # A copy is a second virtualenv for `<dir>/bin/python -m pip` (what Salt runs for a
    # directory), and saves creating one (~9 s with ensurepip on a busy machine).
    shutil.copytree(by_python, by_dir, symlinks=True)
    lock = Lockfile("p.toml", 1, ("app",), (pin("pinmgr-demo", "==1.0", eco=PIP),))
    drift = tuple(
        finding("box", "pinmgr-demo", "==1.0", eco=PIP, actual="2.0", reason=origin)
        for origin in (str(by_dir), str(by_python / "bin" / "python"))
    )
    files = emit_drift_states(report(drift), lock, hold=False)
    roots = tmp_path / "roots"
    write_tree(roots, files)
    config = write_config(tmp_path / "cfg", minion_id="box", grains={})

    def apply(*extra: str) -> dict[str, Any]:
        return run_salt(salt_call, config, roots, "state.apply", "pinmgr_fix", *extra, env=pip_env)

    dry = apply("test=True")
    assert [r["result"] for r in dry.values()] == [None, None], dry
    assert (_installed(by_dir), _installed(by_python)) == ("2.0", "2.0")
    done = apply()
    assert all(r["result"] is True and r["changes"] for r in done.values()), done
    assert (_installed(by_dir), _installed(by_python)) == ("1.0", "1.0")
    other = write_config(tmp_path / "cfg2", minion_id="other", grains={})
    nop = run_salt(salt_call, other, roots, "state.apply", "pinmgr_fix")
    assert [r["name"] for r in nop.values()] == ["pinmgr: nothing to fix on this minion"]
