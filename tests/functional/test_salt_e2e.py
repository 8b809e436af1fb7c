"""Salt states from pinmgr, applied by the real salt-call inside a real lab host.

The host is set up as the reconcile test's (tests/functional/pmtest_host.py): a writable lab host
whose ONLY apt source is a local repository of tiny real .debs, started drifted (pmtest-alpha
too old, pmtest-beta too new, pmtest-gamma missing). Then, as a Salt user would:

    pinmgr emit salt-state                     -> top.sls + pinmgr/app/{init,debian-12}.sls
    pinmgr emit salt-state --drift-only        -> pinmgr_fix/{init,fix1}.sls
    salt-call --local state.apply test=True    -> reports exactly the planted drift (highstate
                                                  via the pinmgr_role grain, and pinmgr_fix),
                                                  the host's dpkg database unchanged
    salt-call --local state.apply pinmgr_fix   -> real apt/dpkg inside the host
    salt-call --local state.apply              -> the highstate holds the pins (--hold); again:
                                                  nothing left to change
    pinmgr check                               -> exit 0

salt-call runs inside the host through the lab's nsenter (all of the host's namespaces): a
masterless minion needs no SSH, and the host shares the machine's /usr (overlaid), so Salt's
own virtualenv is visible there. Salt's pkg module calls apt-get and dpkg, which then act on
the host's /var and /etc overlays, never the machine's: the machine's dpkg database is
fingerprinted by the suite (tests/machine_state.py) and has no pmtest package after.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.functional.debrepo import build_repo, tools_missing
from tests.functional.pmtest_host import (
    PINS,
    REPO,
    START,
    host_setup_script,
    machine_has_pmtest,
    pinmgr,
    write_lockfile,
)
from tests.functional.saltcall import salt_argv, salt_call_path, write_config
from tests.hostlab import HostSpec, Lab, LabFactory, LabHost
from tests.machine_state import Guarded, changes, fingerprint

pytestmark = pytest.mark.hosts

HOST = "salt1"
MACHINE_DPKG = [Guarded(Path("/var/lib/dpkg/status"), "file")]
DEB_STATE = "pinmgr app debian-12 deb"
FIX_STATE = f"pinmgr fix {HOST} deb"


@dataclass
class World:
    lab: Lab
    host: LabHost
    dir: Path
    lockfile: Path
    inventory: Path
    salt_call: str
    config: Path
    roots: Path

    def pinmgr(self, *args: str, hosts: bool = False) -> tuple[int, str]:
        """The pinmgr CLI on this lockfile; ``hosts``: with the lab's inventory and keys."""
        reach = ("-i", str(self.inventory), "--known-hosts", str(self.lab.known_hosts), "-q")
        done = pinmgr(*args, "-l", str(self.lockfile), *(reach if hosts else ()), cwd=self.dir)
        return done.returncode, done.stdout + done.stderr

    def salt(self, *args: str) -> dict[str, Any]:
        """salt-call inside the host; its per-state results (``--out=json``'s ``local``)."""
        done = self.lab.exec(self.host, salt_argv(self.salt_call, self.config, self.roots, args))
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        local = json.loads(done.stdout)["local"]
        assert isinstance(local, dict), local
        return local

    def dpkg_status(self) -> str:
        done = self.lab.exec(self.host, ["cat", "/var/lib/dpkg/status"])
        assert done.returncode == 0, done.stderr
        return hashlib.sha256(done.stdout.encode()).hexdigest()

    def installed(self) -> dict[str, str]:
        done = self.lab.exec(
            self.host, ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", "pmtest-*"]
        )
        return dict(line.split(" ", 1) for line in done.stdout.splitlines() if line)


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (lab hosts run in network namespaces)"
    if salt_call_path() is None:
        return "salt-call not installed: run tests/run.sh (installs salt into .venv-test-salt)"
    return tools_missing()


@pytest.fixture(scope="module")
def world(hostlab: LabFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    salt_call = salt_call_path()
    assert salt_call is not None
    assert not machine_has_pmtest(), "the machine itself has pmtest-alpha: refusing to run"
    work = tmp_path_factory.mktemp("salt")
    repo = build_repo(work / "repo", REPO)
    lab = hostlab([HostSpec(HOST, role="app", os_release="debian-12", writable=True)])
    host = lab.hosts[HOST]
    done = lab.exec(host, ["sh", "-c", host_setup_script(repo, host, lab.user)])
    assert done.returncode == 0, done.stdout + done.stderr
    # The minion id is the pinmgr host name; the role grain is what top.sls matches.
    config = write_config(work / "salt", minion_id=HOST, grains={"pinmgr_role": ["app"]})
    yield World(
        lab=lab,
        host=host,
        dir=work,
        lockfile=write_lockfile(work / "pinmgr.toml"),
        inventory=lab.write_inventory(work / "inventory.toml"),
        salt_call=salt_call,
        config=config,
        roots=work / "roots",
    )
    assert not machine_has_pmtest(), "a pmtest package leaked onto the machine"


def _would_change(result: dict[str, Any]) -> dict[str, str]:
    """Package -> version a test=True pkg.installed would install or move it to."""
    assert result["result"] is None, result  # None: test mode with changes pending
    changes = {name: change["new"] for name, change in result["changes"].items()}
    listed = result["comment"].split("would be installed/updated: ", 1)[1]
    assert sorted(p.strip() for p in listed.split(",")) == sorted(changes), result
    return changes


def test_salt_states_fix_the_planted_drift(world: World) -> None:
    machine_before = fingerprint(MACHINE_DPKG)
    # 1. The drifted start, as pinmgr sees it.
    rc, out = world.pinmgr("check", hosts=True)
    assert rc == 1, out

    # 2. Both forms of states, written into one file_roots directory.
    rc, out = world.pinmgr("emit", "salt-state", "--hold", "--out", str(world.roots))
    assert rc == 0, out
    rc, out = world.pinmgr(
        "emit", "salt-state", "--drift-only", "--out", str(world.roots), hosts=True
    )
    assert rc == 0, out
    assert sorted(p.relative_to(world.roots).as_posix() for p in world.roots.rglob("*.sls")) == [
        "pinmgr/app/debian-12.sls",
        "pinmgr/app/init.sls",
        "pinmgr_fix/init.sls",
        f"pinmgr_fix/{HOST}.sls",
        "top.sls",
    ]

    # 3. test=True: exactly the planted drift, and nothing changes on the host.
    drifted = {"pmtest-alpha": PINS["pmtest-alpha"], "pmtest-beta": PINS["pmtest-beta"]}
    missing = {"pmtest-gamma": PINS["pmtest-gamma"]}
    before = world.dpkg_status()
    high = world.salt("state.apply", "test=True")
    assert list(high) == [next(k for k in high if DEB_STATE in k)], high
    assert _would_change(next(iter(high.values()))) == drifted | missing
    fix = world.salt("state.apply", "pinmgr_fix", "test=True")
    assert len(fix) == 1 and FIX_STATE in next(iter(fix)), fix
    assert _would_change(next(iter(fix.values()))) == drifted | missing
    assert world.dpkg_status() == before
    assert world.installed() == START

    # 4. For real: the drift form, inside the host (apt downgrades beta, installs gamma).
    fix = world.salt("state.apply", "pinmgr_fix")
    (result,) = fix.values()
    assert result["result"] is True, result
    assert set(result["changes"]) == set(PINS), result
    assert world.installed() == PINS
    for name, version in PINS.items():
        done = world.lab.exec(world.host, ["cat", f"/usr/share/pmtest/{name}"])
        assert done.stdout == f"{name} {version}\n"

    # 5. The highstate (lockfile form, --hold): versions already right, so it only holds them.
    high = world.salt("state.apply")
    (result,) = high.values()
    assert result["result"] is True, result
    assert world.installed() == PINS
    selections = world.lab.exec(world.host, ["dpkg", "--get-selections", "pmtest-*"]).stdout
    assert sorted(selections.split()) == sorted([*PINS, *["hold"] * len(PINS)]), selections
    # Converged: applying again changes nothing.
    again = world.salt("state.apply")
    assert [r["changes"] for r in again.values()] == [{}], again

    # 6. Clean, and the machine never saw any of it.
    rc, out = world.pinmgr("check", hosts=True)
    assert rc == 0, out
    assert not machine_has_pmtest()
    assert not Path("/usr/share/pmtest").exists()
    # Salt's apt and dpkg ran inside the host only: the machine's dpkg database is untouched.
    assert changes(machine_before, fingerprint(MACHINE_DPKG)) == []
