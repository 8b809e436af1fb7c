"""Chef cookbook emitter: layout, Ruby quoting, `ruby -c`, release selection, goldens.

Chef Infra Client (and Cinc) cannot be installed on this machine (not in Debian 12's archive,
not on PyPI or npm; rubygems.org and Chef's download sites are out of reach), so no recipe is
converged here. What runs for real: Ruby itself (every emitted file is compiled by the real
interpreter, quoting round-trips through it), Ohai 16.13 from Debian (the node attributes the
recipes read, for this host and, in a private mount namespace, for Ubuntu/Rocky/RHEL
os-release files) and pip (the library's guard). Chef's recipe DSL is a STUB below: it records
what a recipe declares for given node attributes; it is a mock and says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest

from pinmgr.emitters.chef_recipe import check, emit_cookbook, recipe_path, ruby_str
from pinmgr.errors import UsageError
from pinmgr.lockfile.load import loads
from pinmgr.model import Location, Lockfile
from tests.unit.emitters._support import (
    DATA,
    DEB,
    GLOB,
    LOCK,
    PIP,
    RPM,
    assert_golden,
    pin,
    write_tree,
)

DIGEST = "0f" * 32
SAMPLE = DATA / "cm-sample.toml"
SAMPLE_NAME = "tests/data/emitters/cm-sample.toml"


def sample() -> tuple[Lockfile, str]:
    """cm-sample.toml under its repository-relative name (the name lands in every header)."""
    raw = SAMPLE.read_bytes()
    return loads(raw.decode(), SAMPLE_NAME), hashlib.sha256(raw).hexdigest()


def ruby() -> str:
    found = shutil.which("ruby")
    if found is None:
        pytest.skip("ruby is not installed (tests/apt-packages.txt lists it)")
    return found


def run_ruby(script: str, *args: str, stdin: str = "") -> str:
    proc = subprocess.run(
        [ruby(), "-e", script, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# Compiles each file with the real interpreter (what `ruby -c` does), all in one process.
COMPILE = """
ARGV.each do |f|
  begin
    RubyVM::InstructionSequence.compile_file(f)
    puts "ok #{f}"
  rescue SyntaxError => e
    puts "error #{f}: #{e.message.lines.first.strip}"
  end
end
"""


def compile_all(paths: list[Path]) -> dict[str, str]:
    out = run_ruby(COMPILE, *map(str, paths))
    result: dict[str, str] = {}
    for line in out.splitlines():
        status, _, rest = line.partition(" ")
        result[rest.split(": ", 1)[0]] = status
    return result


# ---------------------------------------------------------------------------------------------
# A STUB of Chef's recipe DSL (a mock: Chef Infra cannot be installed here). It evaluates the
# emitted attributes file and recipe against given node attributes and records every resource
# declared (type, name, properties) and, for guards, what the guard block returns (the guard
# runs for real: PinmgrCookbook.pip_version calls the real pip). Nothing is installed.
STUB_DSL = r"""
require 'json'

class StubResource
  attr_reader :record
  def initialize(type, name)
    @record = { 'type' => type, 'name' => name, 'props' => {}, 'not_if' => [] }
  end
  def not_if(&blk)
    @record['not_if'] << blk.call
  end
  def method_missing(prop, *args)
    @record['props'][prop.to_s] = args.length == 1 ? args[0] : args
  end
  def respond_to_missing?(*) = true
end

class StubRecipe
  attr_reader :node, :resources
  def initialize(node)
    @node = node
    @resources = []
  end
  %w[package apt_preference file execute log dnf_package].each do |type|
    define_method(type) do |name, &blk|
      res = StubResource.new(type, name)
      res.instance_eval(&blk) if blk
      @resources << res.record
    end
  end
end

# attributes/default.rb writes node defaults with `default[...] = ...`.
class StubAttributes
  def default
    @default ||= Hash.new { |h, k| h[k] = Hash.new(&h.default_proc) }
  end
end

def deep_merge(a, b)
  a.merge(b) { |_, x, y| x.is_a?(Hash) && y.is_a?(Hash) ? deep_merge(x, y) : y }
end

cookbook = ARGV[0]
load File.join(cookbook, 'libraries', 'pinmgr.rb')
attrs = StubAttributes.new
attrs.instance_eval(File.read(File.join(cookbook, 'attributes', 'default.rb')))
defaults = JSON.parse(JSON.generate(attrs.default))

results = JSON.parse($stdin.read).map do |job|
  node = deep_merge(defaults, job['node'])
  begin
    if job['recipe']
      recipe = StubRecipe.new(node)
      path = File.join(cookbook, 'recipes', job['recipe'] + '.rb')
      recipe.instance_eval(File.read(path), path)
      { 'resources' => recipe.resources }
    else
      { 'release' => PinmgrCookbook.release(node, job['declared']) }
    end
  rescue RuntimeError => e
    { 'error' => e.message }
  end
end
puts JSON.generate(results)
"""


def stub_run(cookbook: Path, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluate recipes (or PinmgrCookbook.release) with the STUB DSL above, one Ruby process."""
    out = run_ruby(STUB_DSL, str(cookbook), stdin=json.dumps(jobs))
    results: list[dict[str, Any]] = json.loads(out)
    return results


def installs(result: dict[str, Any]) -> dict[str, str]:
    """package name -> version (None: any) of the ``package`` resources a recipe declared."""
    return {
        r["name"]: r["props"].get("version") for r in result["resources"] if r["type"] == "package"
    }


# Real os-release files of the releases the sample lockfile names (as the distributions ship
# them, trimmed to the fields Ohai reads); Ohai reads them from /etc/os-release.
OS_RELEASES = {
    "ubuntu-22.04": 'NAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\n'
    "ID=ubuntu\nID_LIKE=debian\n",
    "rocky-9.4": 'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\n'
    'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
    "rhel-9.3": 'NAME="Red Hat Enterprise Linux"\nVERSION="9.3 (Plow)"\nID="rhel"\n'
    'ID_LIKE="fedora"\nVERSION_ID="9.3"\n',
}

# Real Ohai (Debian's ohai package): the attributes Chef would give the recipe, per os-release
# file bind-mounted over /etc/os-release in a private mount namespace (the host's is untouched).
OHAI = r"""
require 'ohai'
require 'json'
def attrs
  o = Ohai::System.new
  o.all_plugins(%w[os_release platform])
  { 'os_release' => o.data['os_release'], 'platform' => o.data['platform'],
    'platform_version' => o.data['platform_version'] }
end
out = { 'host' => attrs }
ARGV.each_slice(2) do |key, file|
  # Stacked: each mount covers the previous one; the namespace ends with this process.
  system('mount', '--bind', file, '/etc/os-release', exception: true)
  out[key] = attrs
end
puts JSON.generate(out)
"""


@pytest.fixture(scope="module")
def ohai_nodes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    unshare = shutil.which("unshare")
    if shutil.which("ohai") is None or unshare is None:
        pytest.skip("Debian's ohai package is not installed (tests/apt-packages.txt lists it)")
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace for os-release files needs root")
    tmp = tmp_path_factory.mktemp("os-release")
    args: list[str] = []
    for key, text in OS_RELEASES.items():
        (tmp / key).write_text(text, encoding="utf-8")
        args += [key, str(tmp / key)]
    proc = subprocess.run(
        [unshare, "--mount", "--propagation", "private", ruby(), "-e", OHAI, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    nodes: dict[str, dict[str, Any]] = json.loads(proc.stdout)
    return nodes


@pytest.fixture(scope="module")
def cookbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample lockfile's cookbook with --hold, written to disk for Ruby to read."""
    root = tmp_path_factory.mktemp("chef")
    lock, digest = sample()
    write_tree(root, emit_cookbook(lock, digest, hold=True))
    return root / "pinmgr"


# ---------------------------------------------------------------------------------------------


def test_layout_and_one_when_per_declared_release() -> None:
    files = emit_cookbook(LOCK, DIGEST)
    assert sorted(files) == [
        "pinmgr/attributes/default.rb",
        "pinmgr/libraries/pinmgr.rb",
        "pinmgr/metadata.rb",
        "pinmgr/recipes/app.rb",
        "pinmgr/recipes/db.rb",
    ]
    app = files["pinmgr/recipes/app.rb"]
    assert "case PinmgrCookbook.release(node, ['debian-12', 'rocky-9', 'ubuntu-22.04'])" in app
    assert "package 'nginx' do\n    version '1.22.1-9'\n  end" in app
    assert "package 'curl' do\n    version '7.88.1-10+deb12u5'\n  end" in app  # role overrides
    assert "package 'libssl3:i386' do" in app
    assert "package 'nginx' do\n    version '1:1.20.1-14.el9'\n  end" in app  # rpm epoch kept
    assert "command [pip, 'install', 'requests==2.31.0']" in app  # "==" pin installed once
    assert "# not installed: openssl glob '3.0.*' (`pinmgr check` checks it)" in app
    assert "# not installed: Django range '>=4.2, <5'" in app
    assert "apt_preference" not in app and "versionlock" not in app  # no --hold
    db = files["pinmgr/recipes/db.rb"]
    # Declared for db with no pins: a branch of its own, so the node does not fail.
    assert "when 'rocky-9'\n  # No pins for this release.\nend" in db
    metadata = files["pinmgr/metadata.rb"]
    assert "name 'pinmgr'\nversion '1.0.0'\n" in metadata
    assert "supports 'debian'\nsupports 'rocky'\nsupports 'ubuntu'\n" in metadata
    first, second = app.splitlines()[:2]
    assert first == f"# Generated by pinmgr from pins/pinmgr.toml (sha256 {DIGEST})."
    assert second == "# Do not edit: run `pinmgr emit chef-recipe`."


def test_hold_pins_apt_and_writes_the_versionlock_list() -> None:
    app = emit_cookbook(LOCK, DIGEST, hold=True)["pinmgr/recipes/app.rb"]
    assert (
        "apt_preference 'nginx' do\n    pin 'version 1.22.1-9'\n    pin_priority '1001'\n  end"
        in app
    )
    assert "apt_preference 'openssl' do\n    pin 'version 3.0.*'" in app  # apt globs too
    # apt_preference's name property refuses ':'; the real name goes through glob.
    assert "apt_preference 'libssl3_i386' do\n    glob 'libssl3:i386'\n" in app
    assert "# not installed: openssl glob '3.0.*' (held by apt_preference;" in app
    assert "file '/etc/dnf/plugins/versionlock.list' do\n    content [\n" in app
    assert "      'nginx-1:1.20.1-14.el9.*',\n    ].join" in app
    # The list is written before the pinned package is installed (it allows exactly the pin).
    assert app.index("versionlock.list") < app.index("version '1:1.20.1-14.el9'")
    assert app.index("apt_preference 'nginx'") < app.index("package 'nginx'")


def test_deterministic_and_independent_of_pin_order() -> None:
    first = emit_cookbook(LOCK, DIGEST, hold=True)
    assert emit_cookbook(LOCK, DIGEST, hold=True) == first
    pins = list(LOCK.pins)
    random.Random(7).shuffle(pins)
    shuffled = dataclasses.replace(LOCK, pins=tuple(pins), roles=tuple(reversed(LOCK.roles)))
    assert emit_cookbook(shuffled, DIGEST, hold=True) == first
    assert emit_cookbook(LOCK, "1" * 64, hold=True) != first


HOSTILE_STRINGS = [
    "'",
    "\\",
    "\\'",
    "'\\",
    "a\\\\'b",
    "trailing\\",
    "#{`id`}",
    "#{raise 'x'}",
    "%q(x)",
    '"double"',
    "'; system('id'); '",
    "ünï \U0001f600",
]


def test_ruby_str_reads_back_as_the_same_string_in_real_ruby() -> None:
    literals = ",\n".join(ruby_str(s) for s in HOSTILE_STRINGS)
    out = run_ruby(f"require 'json'\nputs JSON.generate([\n{literals}\n])")
    assert json.loads(out) == HOSTILE_STRINGS


@pytest.mark.parametrize(
    ("eco", "name", "version"),
    [
        (DEB, "x'; system('id'); '", "1.0"),
        (DEB, "nginx\\", "1.0"),
        (DEB, "nginx#{`id`}", "1.0"),
        (DEB, "nginx\n", "1.0"),
        (DEB, "nginx", "1.0'#{`id`}"),
        (DEB, "nginx", "1.0\nsystem('id')"),
        (RPM, "ng'inx", "1.0-1"),
        (RPM, "nginx", "1.0-1\\"),
        (PIP, "requests'", "2.31.0"),
        (PIP, "requests", "2.31.0#{x}"),
    ],
)
def test_names_and_versions_built_to_break_ruby_are_refused(
    eco: Any, name: str, version: str
) -> None:
    bad = dataclasses.replace(pin(name, version, eco=eco), location=Location("pins/x.toml", 7, 1))
    lock = Lockfile("pins/x.toml", 1, ("app",), (bad,))
    with pytest.raises(UsageError) as caught:
        emit_cookbook(lock, DIGEST)
    assert caught.value.message.startswith("pins/x.toml:7:1: ")
    assert caught.value.message.endswith("; no Chef recipe written")
    assert "\n" not in caught.value.message


def test_glob_pin_that_is_no_glob_is_refused() -> None:
    lock = Lockfile("pins/x.toml", 1, ("app",), (pin("nginx", "1.0'", kind=GLOB),))
    with pytest.raises(UsageError, match="no Chef recipe written"):
        emit_cookbook(lock, DIGEST, hold=True)


def test_role_and_version_that_cannot_be_used_are_refused() -> None:
    with pytest.raises(UsageError, match="Chef recipe file name"):
        recipe_path("../etc")
    lock = Lockfile("pins/x.toml", 1, ("a b",), (pin("nginx", "1", role="a b"),))
    with pytest.raises(UsageError, match="Chef recipe file name"):
        emit_cookbook(lock, DIGEST)
    with pytest.raises(UsageError, match=r"MAJOR\.MINOR\.PATCH"):
        emit_cookbook(LOCK, DIGEST, version="1.0'")


def test_every_emitted_file_compiles_with_real_ruby(tmp_path: Path) -> None:
    lock, digest = sample()
    for name, (lck, dig, hold) in {
        "lock": (LOCK, DIGEST, True),
        "sample": (lock, digest, False),
        "sample-hold": (lock, digest, True),
    }.items():
        write_tree(tmp_path / name, emit_cookbook(lck, dig, hold=hold))
    # Quotes, backslashes and #{} inside comments and strings: the checker must see through them.
    hostile = Lockfile("pins/x'\\#{`id`}\n.toml", 1, ("app",), (pin("nginx", "1"),))
    write_tree(tmp_path / "hostile", emit_cookbook(hostile, DIGEST, hold=True))
    files = sorted(tmp_path.rglob("*.rb"))
    assert len(files) == 4 * 5 - 1  # LOCK has roles app and db, the sample web and db
    broken = tmp_path / "broken.rb"
    broken.write_text("package 'nginx' do\n  version '1.0\nend\n", encoding="utf-8")
    status = compile_all([*files, broken])
    assert status.pop(str(broken)) == "error"  # the checker does reject bad Ruby
    assert status == {str(f): "ok" for f in files}


def test_stub_dsl_selects_pins_for_real_ohai_attributes(
    cookbook: Path, ohai_nodes: dict[str, dict[str, Any]]
) -> None:
    """Real Ohai attributes in, STUB Chef DSL (a mock) evaluating the real emitted recipe."""
    host = ohai_nodes["host"]
    here = f"{host['os_release']['id']}-{host['os_release']['version_id']}"
    legacy = {k: v for k, v in ohai_nodes["rhel-9.3"].items() if k != "os_release"}
    jobs: list[dict[str, Any]] = [
        {"recipe": "web", "node": host},
        {"recipe": "web", "node": ohai_nodes["ubuntu-22.04"]},
        {"recipe": "web", "node": ohai_nodes["rocky-9.4"]},
        {"recipe": "web", "node": ohai_nodes["rhel-9.3"]},
        # An Ohai without the os_release plugin: platform 'redhat' is mapped back to 'rhel'.
        {"node": legacy, "declared": ["rhel-9", "rocky-9"]},
        {"node": ohai_nodes["rhel-9.3"], "declared": ["rhel-9.3", "rhel-9"]},
    ]
    debian, ubuntu, rocky, rhel, rhel_legacy, rhel_exact = stub_run(cookbook, jobs)
    assert ohai_nodes["rocky-9.4"]["platform_version"] == "9.4"  # what Ohai really says
    assert ohai_nodes["rhel-9.3"]["platform"] == "redhat"
    if here == "debian-12":  # this machine (the CI machine is Debian 12)
        assert installs(debian) == {
            "ca-certificates": "20230311",
            "libnginx-mod-http-geoip": "1:1.22.1-9",
            "nginx": "1.22.1-9",
        }
    assert installs(ubuntu) == {"curl": "7.81.0-1ubuntu1.16~esm1", "nginx": "1.18.0-6ubuntu14.4"}
    # Rocky 9.4 falls under rocky-9, the longest declared prefix, as in `pinmgr check`.
    assert installs(rocky) == {
        "python3-dnf-plugin-versionlock": None,  # --hold: the plugin reading the list
        "nginx": "1:1.20.1-14.el9_2.1",
        "openssl": "1:3.0.7-27.el9",
    }
    lock_file = next(r for r in rocky["resources"] if r["type"] == "file")
    assert lock_file["props"]["content"] == (
        "nginx-1:1.20.1-14.el9_2.1.*\nopenssl-1:3.0.7-27.el9.*\n"
    )
    assert rhel["error"] == (
        "pinmgr: this node runs rhel-9.3, a release the lockfile does not declare for this "
        "role (declared: debian-12, rocky-9, ubuntu-22.04)"
    )
    assert rhel_legacy == {"release": "rhel-9"}
    assert rhel_exact == {"release": "rhel-9.3"}


def test_stub_dsl_pip_pins_and_the_real_pip_guard(tmp_path: Path) -> None:
    """STUB Chef DSL (a mock); the guard's `pip show` is the real pip of the test virtualenv."""
    pip = str(Path(sys.executable).with_name("pip"))
    have = dist_version("pytest")
    lock = Lockfile(
        "pins/pinmgr.toml",
        1,
        ("app",),
        (
            pin("pytest", have, eco=PIP),
            pin("pytest-cov-not-installed-xyz", "==1.0", eco=PIP),
        ),
    )
    write_tree(tmp_path, emit_cookbook(lock, DIGEST))
    node = {"os_release": {"id": "debian", "version_id": "12"}}
    with_pip, without_pip = stub_run(
        tmp_path / "pinmgr",
        [
            {"recipe": "app", "node": {**node, "pinmgr": {"pip": [pip]}}},
            {"recipe": "app", "node": node},  # attributes/default.rb: no pip listed
        ],
    )
    executes = {r["name"]: r for r in with_pip["resources"] if r["type"] == "execute"}
    assert sorted(executes) == [
        f"pip install pytest-cov-not-installed-xyz==1.0 with {pip}",
        f"pip install pytest=={have} with {pip}",
    ]
    installed = executes[f"pip install pytest=={have} with {pip}"]
    assert installed["props"]["command"] == [pip, "install", f"pytest=={have}"]
    assert installed["not_if"] == [True]  # pip show says it is there: skipped
    assert executes[f"pip install pytest-cov-not-installed-xyz==1.0 with {pip}"]["not_if"] == [
        False
    ]
    (warning,) = without_pip["resources"]
    assert warning["type"] == "log" and warning["props"]["level"] == "warn"
    assert warning["name"] == (
        "pinmgr app: 2 pip pins not installed: no pip executable in the node attribute pinmgr.pip"
    )


def test_check_reports_missing_stale_and_orphaned_recipes(tmp_path: Path) -> None:
    expected = emit_cookbook(LOCK, DIGEST)
    assert check(expected, tmp_path) == sorted(expected)
    write_tree(tmp_path, expected)
    assert check(expected, tmp_path) == []
    (tmp_path / "pinmgr" / "recipes" / "mine.rb").write_text("package 'x'\n")  # not ours
    assert check(expected, tmp_path) == []
    only_app = {k: v for k, v in expected.items() if not k.endswith("/db.rb")}
    assert check(only_app, tmp_path) == ["pinmgr/recipes/db.rb"]
    held = emit_cookbook(LOCK, DIGEST, hold=True)
    assert check(held, tmp_path) == ["pinmgr/recipes/app.rb", "pinmgr/recipes/db.rb"]


def test_golden() -> None:
    lock, digest = sample()
    for rel, text in emit_cookbook(lock, digest, hold=True).items():
        assert_golden(f"chef/cm-sample-hold/{rel}", text)
    for rel, text in emit_cookbook(LOCK, DIGEST).items():
        if "/recipes/" in rel:
            assert_golden(f"chef/lock/{rel}", text)


def test_cli_writes_checks_and_refuses(tmp_path: Path) -> None:
    """`pinmgr emit chef-recipe` in-process: files, --check exit codes, clear errors."""
    from typer.testing import CliRunner

    from pinmgr.cli.app import app

    lockfile = tmp_path / "pinmgr.toml"
    lockfile.write_bytes(SAMPLE.read_bytes())
    out = tmp_path / "cookbooks"
    base = ["emit", "chef-recipe", "--lockfile", str(lockfile), "--out", str(out)]
    runner = CliRunner()

    missing = runner.invoke(app, [*base, "--check"])
    assert missing.exit_code == 1
    assert f"pinmgr: missing: {out / 'pinmgr/recipes/web.rb'}" in missing.output

    wrote = runner.invoke(app, [*base, "--hold"])
    assert wrote.exit_code == 0, wrote.output
    assert f"wrote {out / 'pinmgr/recipes/web.rb'}" in wrote.output
    recipe = (out / "pinmgr/recipes/web.rb").read_text(encoding="utf-8")
    assert "apt_preference 'nginx' do" in recipe
    assert runner.invoke(app, [*base, "--hold", "--check"]).exit_code == 0

    stale = runner.invoke(app, [*base, "--check"])  # without --hold: other recipes
    assert stale.exit_code == 1
    assert f"pinmgr: stale: {out / 'pinmgr/recipes/web.rb'}" in stale.output
    assert f"run: pinmgr emit chef-recipe --out {out}\n" in stale.output

    # Role db removed from the lockfile: its generated recipe is reported as orphaned.
    text = SAMPLE.read_text(encoding="utf-8")
    lockfile.write_text(text[: text.index('[roles.db."debian-12".deb]')], encoding="utf-8")
    orphan = runner.invoke(app, [*base, "--hold", "--check"])
    assert orphan.exit_code == 1
    assert f"orphaned (its role is no longer in the lockfile): {out / 'pinmgr/recipes/db.rb'}" in (
        orphan.output
    )

    # The real entry point: an error is one line and exit 2, and nothing is written.
    bad = subprocess.run(
        [sys.executable, "-m", "pinmgr", *base, "--cookbook-version", "1.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr == (
        "pinmgr: error: cookbook version '1.0' is not MAJOR.MINOR.PATCH (like 1.0.0)\n"
    )
    assert (out / "pinmgr/recipes/web.rb").read_text(encoding="utf-8") == recipe  # untouched
