"""Fleet benchmark: ``pinmgr check --snapshot ... -f json`` on a synthetic fleet of N hosts.

Generates, per size, a lockfile (5 roles x 3 releases x 300 pins: exact, glob and range), a
native inventory and a pinmgr snapshot directory (shards of 1,000 hosts, gzip, as ``pinmgr
collect --shard`` writes them), the same fleet as an Ansible ``jsonfile`` fact cache written by
ansible-core's own cache plugin (``s1_<host>`` files, facts wrapped in ``__payload__``), and an
inventory splitting the fleet into two halves for ``pinmgr diff``. It then runs the real CLI as
a subprocess, three ways per size (check from the snapshot, check from the fact cache, diff of
the two halves: 5,000 x 5,000 at 10,000 hosts), and prints its wall time, CPU time and peak
RSS (``os.wait4`` from a small fresh interpreter: that process's own rusage; one fresh process
per run).

Each host has ~1,500 deb packages with realistic version strings (epochs, ``~``, ``+debNuN``,
Ubuntu revisions, a few ``:i386`` and doubly-installed multi-arch packages); ~2% of a host's
packages differ from the fleet's version (drift on pinned ones, ``inconsistent`` on the rest).

There is no peer tool doing the same job on saved data, so there is no ratio here: the figures
are absolute and compared with the issue's targets (10,000 hosts under 20 s, under 2 GB).

    python benchmarks/fleet.py --hosts 1000 3000 --out /tmp/fleet
    python benchmarks/fleet.py --hosts 10000 --out /tmp/fleet --reps 1 --runs snapshot diff
    python benchmarks/fleet.py --hosts 1000 --out /tmp/fleet -- --no-ok   # extra check options

Generation writes the snapshot's JSON text directly (no model values) and is skipped when the
files exist; the fact cache needs ansible-core (the project's ``test`` extra installs it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROLES = ("web", "app", "db", "cache", "worker")
RELEASES = ("debian-12", "debian-11", "ubuntu-22.04")
OS_OF = {
    "debian-12": ("debian", "12"),
    "debian-11": ("debian", "11"),
    "ubuntu-22.04": ("ubuntu", "22.04"),
}
PACKAGES_PER_HOST = 1500
ROLE_PACKAGES = 100
PINS_PER_ROLE = 300
DRIFT = 0.02
SHARD_HOSTS = 1000
MULTIARCH = ("libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libssl3")


def _version(rng: random.Random, release: str) -> str:
    """A version string as dpkg prints them on ``release``."""
    upstream = ".".join(str(rng.randint(0, 30)) for _ in range(rng.choice((2, 3, 3, 4))))
    if rng.random() < 0.08:
        upstream += rng.choice(("+dfsg", "~rc1", "+ds", "+really1.2", "~beta2"))
    epoch = f"{rng.randint(1, 3)}:" if rng.random() < 0.1 else ""
    revision = str(rng.randint(1, 12))
    if release.startswith("ubuntu"):
        revision += rng.choice(("ubuntu1", "ubuntu0.22.04.1", "build1", "ubuntu3.4", ""))
    elif rng.random() < 0.2:
        n = release.split("-")[1]
        revision += rng.choice((f"+deb{n}u1", f"+deb{n}u3", f"~deb{n}u2"))
    return f"{epoch}{upstream}-{revision}"


def _bump(version: str) -> str:
    """A different (newer) version of the same package: drift."""
    return version + "+b1" if "+" not in version.rsplit("-", 1)[-1] else version + ".1"


def _universe(rng: random.Random) -> dict[str, dict[str, str]]:
    """Fleet baseline: release -> package name -> version."""
    base = [f"lib{w}{i}" for i, w in enumerate(("foo", "bar", "baz", "qux") * 350)]
    names = list(MULTIARCH) + base[: PACKAGES_PER_HOST - ROLE_PACKAGES - len(MULTIARCH)]
    names += [f"{r}-pkg{i}" for r in ROLES for i in range(ROLE_PACKAGES)] + ["dpkg"]
    return {rel: {n: _version(rng, rel) for n in names} for rel in RELEASES}


def host_packages(rng: random.Random, role: str, versions: dict[str, str]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for name, version in versions.items():
        if "-pkg" in name and not name.startswith(role + "-"):
            continue
        if rng.random() < DRIFT:
            version = _bump(version)
        out.append({"name": name, "version": version, "arch": "amd64"})
        if name in MULTIARCH[:3]:
            out.append({"name": f"{name}:i386", "version": version, "arch": "i386"})
    return out


def lockfile_text(universe: dict[str, dict[str, str]]) -> str:
    rng = random.Random(7)
    lines = ["schema = 1", ""]
    for role in ROLES:
        for release in RELEASES:
            versions = universe[release]
            names = [n for n in versions if n.startswith(role + "-")]
            names += [n for n in versions if "-pkg" not in n][: PINS_PER_ROLE - len(names)]
            lines.append(f'[roles.{role}."{release}".deb]')
            for name in names:
                v = versions[name]
                r = rng.random()
                if r < 0.1:
                    spec = v.rsplit("-", 1)[0] + "-*"
                elif r < 0.15:
                    spec = f">={v}, <{v}+zz"
                else:
                    spec = v
                lines.append(f"{json.dumps(name)} = {json.dumps(spec)}")
            lines.append("")
    return "\n".join(lines)


def _fleet(n_hosts: int) -> list[tuple[str, str, str, str]]:
    """(name, env, role, release) of every host, in order."""
    hosts = []
    for i in range(n_hosts):
        role = ROLES[i % len(ROLES)]
        release = RELEASES[(i // len(ROLES)) % len(RELEASES)]
        env = "production" if i % 4 else "staging"
        hosts.append((f"h{i:05d}", env, role, release))
    return hosts


# What ``setup`` reports for each release (ansible_distribution*), as on real hosts.
DISTRIBUTION = {
    "debian-12": ("Debian", "12.11", "12", "bookworm"),
    "debian-11": ("Debian", "11.11", "11", "bullseye"),
    "ubuntu-22.04": ("Ubuntu", "22.04", "22", "jammy"),
}


def _facts(name: str, release: str, packages: list[dict[str, str]]) -> dict[str, object]:
    """One host's cached facts: ``setup`` (a realistic share of its ~130 facts) and
    ``package_facts`` (apt's fields: name, version, arch, category, origin, source)."""
    dist, version, major, codename = DISTRIBUTION[release]
    origin = "Ubuntu" if dist == "Ubuntu" else "Debian"
    by_name: dict[str, list[dict[str, str]]] = {}
    for p in packages:
        entry = {
            "name": p["name"],
            "version": p["version"],
            "arch": p["arch"],
            "category": "libs" if p["name"].startswith("lib") else "admin",
            "origin": origin,
            "source": "apt",
        }
        by_name.setdefault(p["name"], []).append(entry)
    address = f"10.{len(name) % 250}.{int(name[1:]) // 250 % 250}.{int(name[1:]) % 250 + 1}"
    return {
        "ansible_architecture": "x86_64",
        "ansible_date_time": {"date": "2026-12-07", "epoch": "1796608800", "tz": "UTC"},
        "ansible_default_ipv4": {"address": address, "interface": "eth0", "gateway": "10.0.0.1"},
        "ansible_distribution": dist,
        "ansible_distribution_file_variety": "Debian",
        "ansible_distribution_major_version": major,
        "ansible_distribution_release": codename,
        "ansible_distribution_version": version,
        "ansible_env": {f"VAR{i}": f"/usr/local/share/value-{i}" for i in range(25)},
        "ansible_fqdn": f"{name}.example.internal",
        "ansible_hostname": name,
        "ansible_interfaces": ["lo", "eth0"],
        "ansible_kernel": "6.1.0-28-amd64",
        "ansible_memtotal_mb": 7951,
        "ansible_mounts": [
            {"mount": m, "device": f"/dev/vda{i}", "fstype": "ext4", "size_total": 10**10}
            for i, m in enumerate(("/", "/boot", "/var", "/srv"))
        ],
        "ansible_os_family": "Debian",
        "ansible_processor": ["0", "GenuineIntel", "Intel Xeon", "1", "GenuineIntel", "Intel Xeon"],
        "ansible_python_version": "3.11.2",
        "discovered_interpreter_python": "/usr/bin/python3",
        "gather_subset": ["all"],
        "module_setup": True,
        "packages": by_name,
    }


def generate_facts(n_hosts: int, where: Path) -> Path:
    """The same fleet (same packages, host by host) as an Ansible ``jsonfile`` fact cache.

    Written by ansible-core's own cache plugin, as ``ansible-playbook`` with
    ``ANSIBLE_CACHE_PLUGIN=jsonfile`` writes it (2.19: ``s1_<host>``, ``__payload__``).
    """
    cache = where / "facts"
    done = where / "facts-done"
    if done.exists():
        return cache
    from ansible.plugins.loader import cache_loader

    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    plugin = cache_loader.get("jsonfile", _uri=str(cache))
    rng = random.Random(n_hosts)  # the snapshot's sequence: the same packages per host
    universe = _universe(random.Random(1))
    for name, _env, role, release in _fleet(n_hosts):
        plugin.set(name, _facts(name, release, host_packages(rng, role, universe[release])))
        plugin.__wrapped__._cache.clear()  # the plugin keeps what it wrote: not 10,000 hosts
    done.write_text("")
    return cache


def halves_inventory(n_hosts: int, where: Path) -> Path:
    """The fleet split into environments ``left`` and ``right`` (every other host): ``diff``."""
    path = where / "inventory-halves.toml"
    if not path.exists():
        inv = ["schema = 1", ""]
        for i, (name, _env, role, _release) in enumerate(_fleet(n_hosts)):
            side = "left" if i % 2 == 0 else "right"
            inv.append(f'[environments.{side}.hosts.{name}]\nroles = ["{role}"]\n')
        path.write_text("\n".join(inv))
    return path


def generate(n_hosts: int, out: Path) -> Path:
    """Write lockfile, inventory and snapshot shards for ``n_hosts`` under ``out/N``."""
    where = out / str(n_hosts)
    done = where / "done"
    if done.exists():
        return where
    shutil.rmtree(where, ignore_errors=True)
    (where / "snapshot").mkdir(parents=True)
    rng = random.Random(n_hosts)
    universe = _universe(random.Random(1))
    (where / "pinmgr.toml").write_text(lockfile_text(universe))
    inv = ["schema = 1", ""]
    hosts = _fleet(n_hosts)
    for name, env, role, _release in hosts:
        inv.append(f'[environments.{env}.hosts.{name}]\nroles = ["{role}"]\n')
    (where / "inventory.toml").write_text("\n".join(inv))
    for start in range(0, n_hosts, SHARD_HOSTS):
        docs = []
        rows: dict[tuple[str, ...], int] = {}  # format 2: each distinct package once per file
        for name, env, role, release in hosts[start : start + SHARD_HOSTS]:
            os_id, version_id = OS_OF[release]
            docs.append(
                {
                    "name": name,
                    "env": env,
                    "roles": [role],
                    "collected_at": "2026-12-07T02:00:00Z",
                    "sources": ["deb", "rpm"],
                    "os_release": {"id": os_id, "version_id": version_id},
                    "packages": [
                        rows.setdefault(
                            ("deb", p["name"], p["version"], p.get("arch", ""), "installed", ""),
                            len(rows),
                        )
                        for p in host_packages(rng, role, universe[release])
                    ],
                    "warnings": [],
                }
            )
        # pinmgr writes the table sorted; this one is in order of first use, which readers
        # accept (they sort each host's packages then): sort it as pinmgr would.
        order = sorted(rows, key=lambda r: r)
        renumber = {rows[r]: i for i, r in enumerate(order)}
        for d in docs:
            d["packages"] = sorted(renumber[i] for i in d["packages"])
        doc = {
            "format": "pinmgr-snapshot",
            "format_version": 2,
            "package_table": [list(r) for r in order],
            "pinmgr_version": "bench",
            "started_at": "2026-12-07T02:00:00Z",
            "finished_at": "2026-12-07T02:10:00Z",
            "selection": {"envs": [], "roles": [], "shard": None},
            "hosts": docs,
        }
        data = json.dumps(doc, separators=(",", ":")).encode()
        shard = where / "snapshot" / f"shard-{start // SHARD_HOSTS + 1:03d}.json.gz"
        shard.write_bytes(gzip.compress(data, compresslevel=1, mtime=0))
    done.write_text("")
    return where


_MEASURE = """\
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (peak RSS in KiB)
sys.stderr.write(err.decode(errors="replace"))
print(json.dumps({"wall": time.perf_counter() - start, "rc": os.waitstatus_to_exitcode(status),
                  "cpu": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss}))
"""


def _pinmgr(*args: str) -> list[str]:
    return [sys.executable, "-m", "pinmgr", *args]


def commands(where: Path, runs: list[str], extra: list[str]) -> dict[str, list[str]]:
    """The measured command lines, by run name."""
    lock, inv = str(where / "pinmgr.toml"), str(where / "inventory.toml")
    out = {}
    for name in runs:
        if name == "snapshot":
            data = str(where / "snapshot")
        elif name == "facts":
            data = str(where / "facts")
        else:
            halves = str(where / "inventory-halves.toml")
            out[name] = _pinmgr(
                "diff",
                "left",
                "right",
                "-i",
                halves,
                "--snapshot",
                str(where / "snapshot"),
                "-f",
                "json",
                "-q",
            )
            continue
        out[name] = _pinmgr(
            "check", "-l", lock, "-i", inv, "--snapshot", data, "-f", "json", "-q", *extra
        )
    return out


def run(cmd: list[str]) -> dict[str, float]:
    """One fresh pinmgr process; its wall, CPU (user+sys) and peak RSS."""
    # Measured from a small fresh interpreter, not from this process: Linux carries the peak
    # RSS of the memory a process had before exec() into ru_maxrss, so a child forked from
    # this (large, fleet-generating) process would report this process's peak as its own.
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=False
    )
    result = json.loads(done.stdout)
    if result["rc"] not in (0, 1):
        raise SystemExit(f"pinmgr failed ({result['rc']}): {done.stderr}")
    wall, cpu, rss = result["wall"], result["cpu"], result["rss_kib"]
    return {"wall": wall, "cpu": cpu, "rss_mb": rss / 1024}


RUNS = ("snapshot", "facts", "diff")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--out", type=Path, default=Path("/tmp/pinmgr-fleet"))
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument(
        "--runs",
        nargs="+",
        choices=RUNS,
        default=list(RUNS),
        help="snapshot: check --snapshot DIR; facts: check --snapshot FACT_CACHE; "
        "diff: diff left right (the fleet's two halves) --snapshot DIR",
    )
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("extra", nargs="*", help="more pinmgr check arguments (after --)")
    args = parser.parse_args()
    print(f"{'hosts':>6} {'run':>9} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for n in sorted(args.hosts):
        t = time.perf_counter()
        where = generate(n, args.out)
        if "facts" in args.runs:
            generate_facts(n, where)
        halves_inventory(n, where)
        gen = time.perf_counter() - t
        if args.generate_only:
            print(f"{n:>6} generated in {gen:.1f}s: {where}")
            continue
        for name, cmd in commands(where, args.runs, args.extra).items():
            rows = [run(cmd) for _ in range(args.reps)]
            best = min(rows, key=lambda r: r["wall"])
            print(
                f"{n:>6} {name:>9} {best['wall']:8.1f} {best['cpu']:8.1f} {best['rss_mb']:8.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
