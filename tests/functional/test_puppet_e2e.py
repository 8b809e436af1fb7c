"""The emitted Puppet module end to end, run by the real puppet inside real lab hosts.

The writable debian-12 host of the reconcile test (tests/functional/pmtest_host.py: a
local apt repository of tiny real .debs as its only source, pmtest-alpha too old, pmtest-beta
too new, pmtest-gamma missing; here also pmtest-epoch at 1:1.0-1, pinned to 1:1.1-1) runs, as a
user would:

    pinmgr check                                    -> the planted drift, exit 1
    pinmgr emit puppet-manifest --hold --out DIR
    puppet apply --noop --detailed-exitcodes ...    -> exactly that drift, dpkg database unchanged
    puppet apply --detailed-exitcodes ...           -> Puppet's apt provider fixes it, holds
    pinmgr check                                    -> clean, exit 0
    puppet apply --detailed-exitcodes ...           -> converged: no change (exit 0)

Puppet runs inside the host's namespaces (it shares the machine's /usr, where Debian's puppet
package is; apt-get and dpkg then work on the host's own overlays). An ubuntu-22.04 host checks
the release key from facts where Debian's differs (os.release.full) and the fail() of an
undeclared release. A rocky-9 host (VERSION_ID 9.3, which must fall under the lockfile's
rocky-9 as in ``pinmgr check``) with its own rpm database and a local dnf repository gets its
rpm pins from Puppet's dnf provider, epochs included. Every puppet run keeps its state
(vardir, confdir, ...) in the test's tmp dir.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.functional import pmtest_host
from tests.functional.debrepo import build_repo, tools_missing
from tests.functional.pmtest_host import START, host_setup_script, machine_has_pmtest, pinmgr
from tests.functional.rpmrepo import build_repo as build_rpm_repo
from tests.functional.rpmrepo import tools_missing as rpm_tools_missing
from tests.hostlab import Drift, HostSpec, Lab, LabFactory, LabHost, RpmEntry

pytestmark = pytest.mark.hosts

# One more package with an epoch, as dpkg-query prints it (1:...): ensure must say the same
# or Puppet would never see it in sync.
EPOCH = ("pmtest-epoch", "1:1.0-1", "1:1.1-1")
REPO = {**pmtest_host.REPO, EPOCH[0]: EPOCH[1:]}
PINS = {**pmtest_host.PINS, EPOCH[0]: EPOCH[2]}

# The rocky-9 host (VERSION_ID 9.3; base versions: tests/hostlab/rpmhost.py) starts with bash
# and vim-minimal older; its dnf's only repository has the pinned versions. bash is pinned
# with an explicit zero epoch, which the emitter drops (Puppet's rpm providers never print
# one); vim-minimal differs from its pin by the epoch alone.
RPM_START = {"bash": "5.1.8-6.el9", "vim-minimal": "1:8.2.2637-20.el9_1"}
RPM_PINS = {"bash": "0:5.1.8-9.el9", "vim-minimal": "2:8.2.2637-20.el9_1"}
RPM_REPO = [RpmEntry("bash", "5.1.8-9.el9"), RpmEntry("vim-minimal", "2:8.2.2637-20.el9_1")]

LOCKFILE = "\n".join(
    [
        "schema = 1",
        "",
        '[roles.app."debian-12".deb]',
        *(f'{name} = "{version}"' for name, version in sorted(PINS.items())),
        "",
        '[roles.app."rocky-9".rpm]  # the 9.3 host falls under it',
        *(f'{name} = "{version}"' for name, version in sorted(RPM_PINS.items())),
        "",
    ]
)


@dataclass
class World:
    lab: Lab
    host: LabHost
    dir: Path
    lockfile: Path
    inventory: Path

    def check(self, inventory: Path | None = None) -> tuple[int, dict[str, Any]]:
        done = pinmgr(
            "check",
            "-l",
            str(self.lockfile),
            "-i",
            str(inventory or self.inventory),
            "--known-hosts",
            str(self.lab.known_hosts),
            "-f",
            "json",
            "-q",
            cwd=self.dir,
        )
        assert done.returncode in (0, 1), done.stdout + done.stderr
        return done.returncode, json.loads(done.stdout)

    def puppet(self, host: LabHost, *args: str) -> subprocess.CompletedProcess[str]:
        """``puppet apply`` as root inside ``host``, its state kept in the test's tmp dir.

        In a mount namespace of its own with a tmpfs on /root: the host shares the machine's
        /root, and loading Puppet's aptrpm provider runs ``rpm -ql rpm``, which makes an rpm
        database in root's home (~/.rpmdb, Debian's rpm) whatever $HOME says.
        """
        state = self.dir / f"puppet-{host.name}"
        dirs = [f"--{d}dir={state / d}" for d in ("var", "conf", "code", "log", "run")]
        cmd = ["puppet", "apply", *dirs, "--color=false", "--modulepath", str(self.dir / "mods")]
        inner = (
            "mount -t tmpfs -o mode=0700 pinmgr-puppet-root /root && "
            f"HOME={shlex.quote(str(state))} exec {shlex.join([*cmd, *args])}"
        )
        return self.lab.exec(host, ["unshare", "--mount", "sh", "-c", inner])

    def in_host(self, script: str, host: LabHost | None = None) -> str:
        done = self.lab.exec(host or self.host, ["sh", "-c", script])
        assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
        return done.stdout


def _skip_reason() -> str | None:
    if shutil.which("puppet") is None:
        return "puppet is not installed (tests/apt-packages.txt: apt-get install puppet)"
    return tools_missing() or rpm_tools_missing()


@pytest.fixture(scope="module")
def world(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    assert not machine_has_pmtest(), "the machine itself has pmtest-alpha: refusing to run"
    work = tmp_path_factory.mktemp("puppet")
    repo = build_repo(work / "repo", REPO)
    rpm_repo = build_rpm_repo(work / "rpmrepo", RPM_REPO)
    for path in [work, *work.parents]:  # the rocky host's dnf reads it as the lab user too
        if path == Path(tempfile.gettempdir()):
            break
        path.chmod(path.stat().st_mode | 0o055)
    lab = hostlab(
        [
            HostSpec("pup1", role="app", os_release="debian-12", writable=True),
            HostSpec("pup2", role="app", os_release="ubuntu-22.04"),
            HostSpec(
                "pup3",
                role="app",
                os_release="rocky-9",
                drift=Drift(versions=RPM_START),
                dnf_repo=str(rpm_repo),
            ),
        ]
    )
    host = lab.hosts["pup1"]
    setup = host_setup_script(repo, host, lab.user)
    setup += f"\napt-get install -y -q {shlex.quote(f'{EPOCH[0]}={EPOCH[1]}')}\n"
    done = lab.exec(host, ["sh", "-c", setup])
    assert done.returncode == 0, done.stdout + done.stderr
    lockfile = work / "pinmgr.toml"
    lockfile.write_text(LOCKFILE)
    yield World(lab, host, work, lockfile, lab.write_inventory(work / "inventory.toml", [host]))
    assert not machine_has_pmtest(), "a pmtest package leaked onto the machine"


def _events(log: str) -> dict[tuple[str, str], str]:
    """(package, property) -> message, from puppet's JSON log (``--logdest FILE.json``: a
    JSON array that puppet leaves without its closing bracket)."""
    entries = json.loads(log.rstrip().rstrip(",") + "]")
    out = {}
    for entry in entries:
        source = entry.get("source", "")
        if "/Package[" not in source:
            continue
        package = source.split("/Package[", 1)[1].split("]", 1)[0]
        prop = source.rsplit("/", 1)[1]
        out[(package, prop)] = entry["message"]
    return out


def _dpkg_status(world: World) -> str:
    return hashlib.sha256(world.in_host("cat /var/lib/dpkg/status").encode()).hexdigest()


def test_puppet_module_end_to_end(world: World) -> None:
    machine_status = Path("/var/lib/dpkg/status").read_bytes()

    # 1. The drift as pinmgr sees it over SSH.
    rc, report = world.check()
    assert rc == 1
    drift = {
        (f["package"], f["actual"] or "purged", f["expected"])
        for f in report["findings"]
        if f["kind"] in ("drift", "missing")
    }
    assert drift == {
        ("pmtest-alpha", START["pmtest-alpha"], PINS["pmtest-alpha"]),
        ("pmtest-beta", START["pmtest-beta"], PINS["pmtest-beta"]),
        ("pmtest-gamma", "purged", PINS["pmtest-gamma"]),
        EPOCH,
    }

    # 2. The module.
    done = pinmgr(
        "emit", "puppet-manifest", "--hold", "--out", "mods", "-l", str(world.lockfile),
        cwd=world.dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (world.dir / "mods/pinmgr/manifests/app.pp").is_file()

    # 3. --noop reports exactly that drift and changes nothing (exit 0: nothing changed).
    before = _dpkg_status(world)
    log = world.dir / "noop.json"
    run = world.puppet(
        world.host, "--noop", "--detailed-exitcodes", "--logdest", str(log), "-e",
        "include pinmgr::app",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert _events(log.read_text()) == {
        (pkg, "ensure"): f"current_value '{actual}', should be '{expected}' (noop)"
        for pkg, actual, expected in drift
    }
    assert _dpkg_status(world) == before

    # 4. The real run: apt-get and dpkg inside the host.
    run = world.puppet(world.host, "--detailed-exitcodes", "-e", "include pinmgr::app")
    assert run.returncode == 2, run.stdout + run.stderr
    for name, version in PINS.items():
        assert world.in_host(f"cat /usr/share/pmtest/{name}") == f"{name} {version}\n"
    selections = world.in_host("dpkg --get-selections 'pmtest-*'").split()
    assert dict(zip(selections[::2], selections[1::2], strict=True)) == dict.fromkeys(PINS, "hold")

    # 5. Clean.
    rc, report = world.check()
    assert rc == 0, report
    assert {(f["package"], f["kind"]) for f in report["findings"]} == {
        (name, "ok") for name in PINS
    }

    # 6. Converged: nothing left to do.
    run = world.puppet(world.host, "--detailed-exitcodes", "-e", "include pinmgr::app")
    assert run.returncode == 0, run.stdout + run.stderr

    # 7. The machine never saw any of it.
    assert Path("/var/lib/dpkg/status").read_bytes() == machine_status
    assert not machine_has_pmtest()
    assert not Path("/usr/share/pmtest").exists()


def test_release_key_from_facts_matches_pinmgr(world: World) -> None:
    # Ubuntu: os.release.full is VERSION_ID; app declares no ubuntu release: fail(), naming it.
    ubuntu = world.lab.hosts["pup2"]
    run = world.puppet(ubuntu, "--noop", "-e", "notice(pinmgr::os_release()) include pinmgr::app")
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "Notice: Scope(Class[main]): ubuntu-22.04" in out
    assert (
        "pinmgr::app: OS release ubuntu-22.04 is not declared for role app "
        "(declared: debian-12, rocky-9)"
    ) in out


def test_rpm_pins_on_a_rocky_93_host(world: World) -> None:
    # Rocky 9.3: the key is rocky-9.3, the class takes the lockfile's rocky-9 branch, and
    # Puppet's dnf provider installs the pins with the host's own dnf and rpm database.
    rocky = world.lab.hosts["pup3"]
    query = "rpm -q --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n' bash vim-minimal"
    assert world.in_host(query, rocky).splitlines() == [
        "bash 0:5.1.8-6.el9",
        "vim-minimal 1:8.2.2637-20.el9_1",
    ]
    include = "notice(pinmgr::os_release()) include pinmgr::app"
    run = world.puppet(rocky, "--detailed-exitcodes", "-e", include)
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert "Notice: Scope(Class[main]): rocky-9.3" in out
    assert world.in_host(query, rocky).splitlines() == [
        "bash 0:5.1.8-9.el9",
        "vim-minimal 2:8.2.2637-20.el9_1",
    ]
    # Converged: ensure '5.1.8-9.el9' and '2:8.2.2637-20.el9_1' are what the provider reads.
    run = world.puppet(rocky, "--detailed-exitcodes", "-e", include)
    assert run.returncode == 0, run.stdout + run.stderr

    inventory = world.lab.write_inventory(world.dir / "rocky.toml", [rocky])
    rc, report = world.check(inventory)
    assert rc == 0, report
    assert {(f["package"], f["kind"]) for f in report["findings"]} == {
        (name, "ok") for name in RPM_PINS
    }
