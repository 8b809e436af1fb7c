"""Puppet module emitter: layout, golden files, quoting, names; the real ``puppet parser`` is the
oracle for syntax (validate) and for what each string reads back as (dump).

Puppet writes state under $HOME/.puppetlabs (or /etc/puppet when root) unless told otherwise:
every run here points vardir, confdir, codedir, logdir and rundir into the test's tmp dir.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from pinmgr import api
from pinmgr.cli import app
from pinmgr.emitters.puppet_manifest import (
    FUNCTION_PATH,
    check,
    class_name,
    emit_puppet_manifest,
    puppet_str,
)
from pinmgr.errors import UsageError
from pinmgr.model import Lockfile
from tests.unit.emitters._support import (
    DATA,
    EXACT,
    GLOB,
    PIP,
    RPM,
    assert_golden,
    pin,
    write_tree,
)

SAMPLE = DATA / "cm-sample.toml"
SAMPLE_AS = "tests/data/emitters/cm-sample.toml"  # as the docs run it, from the repo root
DIGEST = "0f" * 32

HOSTILE = [
    "it's",
    "back\\slash",
    "trailing\\",
    "\\'",
    "${x}",
    "$facts",
    "${facts['os']['name']}",
    '"double"',
    "@(END)",
    "#not-a-comment",
    "}",
    "\u2028line-separator",
]


def sample() -> Lockfile:
    lock = api.read_lockfile(SAMPLE)
    return dataclasses.replace(lock, path=SAMPLE_AS)


def sample_files(*, hold: bool) -> dict[str, str]:
    digest = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    return emit_puppet_manifest(sample(), digest, hold=hold)


def hostile_lock() -> Lockfile:
    pins = [pin(name, f"1.0-{i}", role="app") for i, name in enumerate(HOSTILE)]
    pins += [pin(name, f"2.0-{i}", role="app", eco=PIP) for i, name in enumerate(HOSTILE)]
    pins.append(pin("ok", "it's'\\${x}", role="app", eco=RPM, rel="rocky-9"))
    pins.append(pin("glob'$x", "1.*'", role="app", kind=GLOB))
    return Lockfile("pins/it's ${x}.toml", 1, ("app",), tuple(pins))


# --- layout and content -------------------------------------------------------------------------


def test_golden_module_for_the_sample_lockfile() -> None:
    files = sample_files(hold=True)
    assert sorted(files) == [
        FUNCTION_PATH,
        "pinmgr/manifests/db.pp",
        "pinmgr/manifests/web.pp",
    ]
    for rel, text in files.items():
        assert_golden_puppet(rel, text)


def assert_golden_puppet(rel: str, text: str) -> None:
    assert_golden(f"puppet/{rel}", text)


def test_same_lockfile_same_bytes() -> None:
    assert sample_files(hold=True) == sample_files(hold=True)


def test_exact_pins_become_packages_patterns_comments() -> None:
    web = sample_files(hold=False)["pinmgr/manifests/web.pp"]
    assert "package { 'nginx':\n        ensure => '1.22.1-9',\n      }" in web
    assert "ensure => '1:1.22.1-9'" in web  # deb epoch kept, as dpkg-query prints it
    assert "mark" not in web
    assert "# deb openssl: glob pin '3.0.*' not enforced" in web
    assert "package { 'openssl'" in web  # rocky's exact openssl, not debian's glob
    pip3 = (
        "package { 'pip3:gunicorn':\n        ensure   => '22.0.0',\n        name     => 'gunicorn',"
    )
    assert pip3 in web
    assert "provider => 'pip3'" in web
    db = sample_files(hold=False)["pinmgr/manifests/db.pp"]
    assert "# deb postgresql-client-15: range pin '>=15.8, <16' not enforced" in db
    assert "package { 'postgresql-client-15'" not in db


def test_hold_marks_deb_and_says_rpm_cannot() -> None:
    web = sample_files(hold=True)["pinmgr/manifests/web.pp"]
    debian = web.split("/\\Adebian-12(\\.|\\z)/")[1].split("\n    }\n")[0]
    rocky = web.split("/\\Arocky-9(\\.|\\z)/")[1].split("\n    }\n")[0]
    assert debian.count("mark   => 'hold'") == 3  # ca-certificates, geoip, nginx; not pip
    assert "mark" not in rocky.replace("no `mark`", "")
    assert "Puppet's dnf/yum provider cannot hold" in rocky


@pytest.mark.parametrize(
    ("spec", "ensure"),
    [
        ("1:1.20.1-14.el9", "1:1.20.1-14.el9"),
        ("0:5.1.8-9.el9", "5.1.8-9.el9"),
        ("007:1-1", "7:1-1"),
    ],
)
def test_rpm_epoch_as_the_rpm_provider_reports_it(spec: str, ensure: str) -> None:
    lock = Lockfile("l.toml", 1, ("app",), (pin("bash", spec, eco=RPM, rel="rocky-9"),))
    text = emit_puppet_manifest(lock, DIGEST, hold=False)["pinmgr/manifests/app.pp"]
    assert f"ensure => '{ensure}'," in text


def test_releases_most_specific_first_and_unknown_fails() -> None:
    lock = Lockfile(
        "l.toml",
        1,
        ("app",),
        (),
        releases=(("app", "rocky-9"), ("app", "rocky-9.3"), ("app", "debian-12")),
    )
    text = emit_puppet_manifest(lock, DIGEST, hold=False)["pinmgr/manifests/app.pp"]
    order = [line.strip() for line in text.splitlines() if line.strip().startswith("/\\A")]
    assert order == [
        "/\\Adebian-12(\\.|\\z)/: {",
        "/\\Arocky-9\\.3(\\.|\\z)/: {",
        "/\\Arocky-9(\\.|\\z)/: {",
    ]
    assert "# No pins for this role on this release." in text
    assert (
        "    default: {\n"
        "      $declared = ['debian-12', 'rocky-9', 'rocky-9.3']\n"
        '      fail("pinmgr::app: OS release ${os_release} is not declared for role app '
        "(declared: ${declared.join(', ')})\")\n"
    ) in text


# --- names and quoting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("1.0", "'1.0'"),
        ("it's", "'it\\'s'"),
        ("a\\b", "'a\\\\b'"),
        ("\\'", "'\\\\\\''"),
        ("${x}", "'${x}'"),
    ],
)
def test_puppet_str(value: str, quoted: str) -> None:
    assert puppet_str(value) == quoted


@pytest.mark.parametrize(
    ("role", "name"), [("web", "web"), ("Web-1", "web_1"), ("db.main", "db_main"), ("a_b", "a_b")]
)
def test_class_name(role: str, name: str) -> None:
    assert class_name(role) == name


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("1web", "role '1web' cannot be a Puppet class name (pinmgr::1web)"),
        ("_x", "role '_x' cannot be a Puppet class name"),
        ("case", "'case' is reserved in Puppet"),
        ("Init", "'init' is reserved in Puppet"),
        ("web+x", "role 'web+x' cannot be a Puppet class name"),
    ],
)
def test_roles_that_cannot_be_classes_are_refused(role: str, message: str) -> None:
    lock = Lockfile("l.toml", 1, (role,), (pin("nginx", "1.0-1", role=role),))
    with pytest.raises(UsageError, match=re.escape(message)):
        emit_puppet_manifest(lock, DIGEST, hold=False)


def test_roles_mapping_to_one_class_are_refused() -> None:
    lock = Lockfile("l.toml", 1, ("web-1", "web_1"), ())
    with pytest.raises(UsageError, match="roles 'web-1' and 'web_1' both become Puppet class"):
        emit_puppet_manifest(lock, DIGEST, hold=False)


@pytest.mark.parametrize("bad", ["nginx\nevil", "a\rb", "x\x00", "\x1b[31m"])
def test_control_characters_are_refused_naming_the_pin(bad: str) -> None:
    for lock in (
        Lockfile("l.toml", 1, ("app",), (pin(bad, "1.0-1"),)),
        Lockfile("l.toml", 1, ("app",), (pin("nginx", f"1.0-1{bad}"),)),
    ):
        with pytest.raises(UsageError, match=r"app/debian-12 deb '(nginx|.*)'.*control character"):
            emit_puppet_manifest(lock, DIGEST, hold=False)


def test_check_finds_missing_stale_and_orphaned(tmp_path: Path) -> None:
    files = sample_files(hold=False)
    assert check(files, tmp_path) == sorted(files)
    write_tree(tmp_path, files)
    assert check(files, tmp_path) == []
    (tmp_path / "pinmgr/manifests/web.pp").write_text("# edited\n")
    (tmp_path / "pinmgr/manifests/old.pp").write_text(files["pinmgr/manifests/db.pp"])
    (tmp_path / "pinmgr/manifests/mine.pp").write_text("class pinmgr::mine {}\n")
    assert check(files, tmp_path) == ["pinmgr/manifests/old.pp", "pinmgr/manifests/web.pp"]


# --- the real puppet ----------------------------------------------------------------------------


def puppet(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("puppet")
    if exe is None:
        pytest.skip("puppet is not installed (tests/apt-packages.txt: apt-get install puppet)")
    state = tmp / "puppet-state"
    dirs = [f"--{d}dir={state / d}" for d in ("var", "conf", "code", "log", "run")]
    env = {**os.environ, "HOME": str(tmp)}  # nothing in the real ~/.puppetlabs either
    return subprocess.run(
        [exe, *args, *dirs, "--color=false"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_puppet_parser_validates_every_emitted_manifest(tmp_path: Path) -> None:
    trees = {
        "hold": sample_files(hold=True),
        "hostile": emit_puppet_manifest(hostile_lock(), DIGEST, hold=True),
    }
    paths = []
    for name, files in trees.items():
        write_tree(tmp_path / name, files)
        paths += [str(tmp_path / name / rel) for rel in sorted(files) if rel != FUNCTION_PATH]
    # One start-up for all of them; one function file (a second would be a redefinition), the
    # same in every tree but for its header.
    body = {name: files[FUNCTION_PATH].split("\n", 2)[2] for name, files in trees.items()}
    assert body["hold"] == body["hostile"]
    paths.append(str(tmp_path / "hold" / FUNCTION_PATH))
    done = puppet(tmp_path, "parser", "validate", *paths)
    assert done.returncode == 0, done.stdout + done.stderr
    # Validation really runs: a broken copy fails, naming the file.
    broken = tmp_path / "broken.pp"
    broken.write_text(trees["hold"]["pinmgr/manifests/web.pp"].replace("ensure =>", "ensure =", 1))
    done = puppet(tmp_path, "parser", "validate", str(broken))
    assert done.returncode != 0 and "broken.pp" in done.stdout + done.stderr


def test_puppet_lint_finds_nothing_in_the_emitted_module(tmp_path: Path) -> None:
    """A control repository's CI often runs puppet-lint with --fail-on-warnings."""
    lint = shutil.which("puppet-lint")
    if lint is None:
        pytest.skip("puppet-lint is not installed (tests/apt-packages.txt)")
    for name, hold in (("hold", True), ("plain", False)):
        write_tree(tmp_path / name, sample_files(hold=hold))
    done = subprocess.run(
        [lint, "--fail-on-warnings", "hold/pinmgr", "plain/pinmgr"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
    # It does look: an over-long line is a warning, and fails the run.
    long = tmp_path / "long" / "pinmgr" / "manifests" / "x.pp"
    long.parent.mkdir(parents=True)
    long.write_text(f"# {'x' * 140}\nclass pinmgr::x {{\n}}\n")
    done = subprocess.run(
        [lint, "--fail-on-warnings", "long/pinmgr"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and "140chars" in done.stdout


def _pairs(flat: list[Any]) -> dict[str, Any]:
    """A dump's ``{"#": [key, value, key, value, ...]}`` as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _resources(node: Any) -> list[tuple[Any, dict[str, Any]]]:
    """(title, {attribute: value}) of every resource in a ``puppet parser dump --format json``
    tree, as the parser read them: a plain string, or a node such as an interpolation."""
    found: list[tuple[Any, dict[str, Any]]] = []
    if isinstance(node, dict):
        op = node.get("^")
        if isinstance(op, list) and op and op[0] == "resource":
            for body in _pairs(op[1]["#"])["bodies"]:
                fields = _pairs(body["#"])
                attrs = {o["^"][1]: o["^"][2] for o in fields["ops"]}
                found.append((fields["title"], attrs))
            return found
        for value in node.values():
            found += _resources(value)
    elif isinstance(node, list):
        for item in node:
            found += _resources(item)
    return found


def test_hostile_names_read_back_literally(tmp_path: Path) -> None:
    lock = hostile_lock()
    files = emit_puppet_manifest(lock, DIGEST, hold=False)
    write_tree(tmp_path, files)
    app = str(tmp_path / "pinmgr/manifests/app.pp")
    done = puppet(tmp_path, "parser", "dump", "--format", "json", app)
    assert done.returncode == 0, done.stdout + done.stderr
    got = dict(_resources(json.loads(done.stdout)))
    want: dict[str, dict[str, str]] = {}
    for p in lock.pins:
        if p.policy.kind is not EXACT:
            continue
        if p.ecosystem is PIP:
            want[f"pip3:{p.package}"] = {"ensure": p.spec, "name": p.package, "provider": "pip3"}
        else:
            want[p.package] = {"ensure": p.spec}
    # Every title and value is the plain string pinmgr meant: nothing interpolated or cut.
    assert got == want


# --- the command --------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pinmgr", "emit", "puppet-manifest", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def emit_in_process(*args: str) -> Result:
    """The command without a new interpreter (a second or so each on a busy machine)."""
    return CliRunner().invoke(app, ["emit", "puppet-manifest", *args])


def test_command_writes_the_golden_module_and_checks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the header names the lockfile as given: as in the docs
    out = tmp_path / "modules"
    done = emit_in_process("--out", str(out), "--hold", "-l", SAMPLE_AS)
    assert done.exit_code == 0, done.output
    golden = DATA / "puppet"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.pp"))
    assert written == sorted(p.relative_to(golden).as_posix() for p in golden.rglob("*.pp"))
    for rel in written:
        assert (out / rel).read_text() == (golden / rel).read_text(), rel
    assert done.stdout == "".join(f"wrote {out / rel}\n" for rel in written)

    assert emit_in_process("--out", str(out), "--hold", "-l", SAMPLE_AS, "--check").exit_code == 0
    stale = emit_in_process("--out", str(out), "-l", SAMPLE_AS, "--check")  # no --hold: differs
    assert stale.exit_code == 1
    assert f"pinmgr: stale: {out}/pinmgr/manifests/web.pp" in stale.stderr
    assert f"run: pinmgr emit puppet-manifest --out {out}\n" in stale.stderr


def test_command_refuses_a_role_puppet_cannot_name(tmp_path: Path) -> None:
    lockfile = tmp_path / "pinmgr.toml"
    lockfile.write_text('schema = 1\n\n[roles.case."debian-12".deb]\nnginx = "1.22.1-9"\n')
    done = cli("--out", str(tmp_path / "out"), "-l", str(lockfile))
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "pinmgr: error: role 'case' cannot be a Puppet class name: 'case' is reserved in "
        "Puppet; rename the role\n"
    )
    assert not (tmp_path / "out").exists()


def test_docs_show_the_golden_module_verbatim() -> None:
    # This section's page, or docs/cm-tools.md once the four tools' sections are merged there.
    pages = [ROOT / "docs" / name for name in ("cm-tools-puppet.part.md", "cm-tools.md")]
    texts = {p.name: p.read_text(encoding="utf-8") for p in pages if p.exists()}
    blocks = [
        "```puppet\n" + (DATA / "puppet" / "pinmgr" / rel).read_text(encoding="utf-8") + "```"
        for rel in ("functions/os_release.pp", "manifests/web.pp", "manifests/db.pp")
    ]
    assert any(all(b in text for b in blocks) for text in texts.values()), (
        f"update the Puppet section ({', '.join(texts)}) with tests/data/emitters/puppet/"
    )
