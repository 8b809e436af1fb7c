"""Fleet collection benchmark: pinmgr vs plain OpenSSH fan-out vs Ansible, against lab hosts.

Starts N real sshd lab hosts (tests/hostlab; needs root), then times in the same run, as medians
over ``--reps`` repetitions:

  (a) ``pinmgr check`` - the real CLI (``-q``, ``-j N``), full probe, lockfile and report;
  (b) OpenSSH fan-out - one ``ssh -F lab_ssh_config host dpkg-query -W ...`` per host, all at
      once: the practical floor for "one round trip per host";
  (c) ``ansible all -m ansible.builtin.package_facts`` with ``--forks 50``.

Targets (from the issues): pinmgr within 1.2x of the OpenSSH fan-out at 50 and 100 hosts, at
least 25x faster than Ansible at 50, and within 1.1x of the fan-out at 200 and 250 hosts with
the client's peak memory (RSS, printed per size) growing no faster than the fleet. See
benchmarks/README.md and docs/benchmarks.md.

    sudo .venv/bin/python benchmarks/collect.py            # 50 hosts
    sudo .venv/bin/python benchmarks/collect.py --with-100 # 50, then 100 hosts
    sudo .venv/bin/python benchmarks/collect.py --sizes 50,200,250 --no-ansible

A lab holds at most 253 hosts (one /24 per lab, tests/hostlab); sizes above 100 run only
pinmgr and the OpenSSH fan-out (the reference rows cost minutes of a shared machine there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.hostlab import BASE_PACKAGES, BASE_PIP, Lab, fleet, packages_for  # noqa: E402

KEX = "curve25519-sha256"
DPKG_FORMAT = r"${binary:Package}\t${Version}\t${db:Status-Abbrev}\n"
PINNED = ("bash", "curl", "libc6", "openssl", "openssh-server", "systemd", "tzdata")
CONNECT_TIMEOUT = 10
"""Seconds the fan-out's ``ssh`` may take to connect and read the banner: pinmgr's default
``--connect-timeout``. The lab's ssh_config says 5, which 200 simultaneous handshakes on a
loaded 2-core machine exceed ("Connection timed out during banner exchange")."""
TARGET_VS_OPENSSH = 1.2
TARGET_AT_SCALE = 1.1
"""From 200 hosts on (issue #12, part 4): the per-host cost must not grow with the fleet."""
SCALE_FROM = 200
TARGET_VS_ANSIBLE = 25.0
MAX_LAB_HOSTS = 253


def target_for(hosts: int) -> float:
    return TARGET_AT_SCALE if hosts >= SCALE_FROM else TARGET_VS_OPENSSH


@dataclass
class Timing:
    """Per repetition: wall seconds, client CPU seconds, the lab hosts' CPU seconds, and the
    client's peak RSS in MiB (when the run reports it)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)

    def add(self, other: Timing) -> None:
        self.wall += other.wall
        self.cpu += other.cpu
        self.server += other.server
        self.rss += other.rss

    @property
    def rss_max(self) -> float:
        return max(self.rss) if self.rss else float("nan")

    @property
    def server_median(self) -> float:
        return statistics.median(self.server) if self.server else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_TICK = os.sysconf("SC_CLK_TCK")


def _settled_server_cpu(lab: Lab, deadline: float = 30.0) -> float:
    """CPU seconds of every finished session on every lab host.

    Each host's PID 1 is its sshd: it reaps its sessions, so their CPU (bash, sh, dpkg-query,
    python...) accumulates in its ``cutime``/``cstime``. Waits (polling, with a deadline) until
    no session is left, so a repetition's server cost is complete before it is read.
    """
    pids = [lab.pid1(h) for h in lab.hosts.values() if h.proc is not None]
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        busy = [p for p in pids if Path(f"/proc/{p}/task/{p}/children").read_text().strip()]
        if not busy:
            break
        time.sleep(0.01)  # poll interval, bounded by the deadline
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / _TICK


def timed(run: Callable[[], float | None], reps: int, label: str, lab: Lab) -> Timing:
    """Run ``run`` ``reps`` times: wall time, reaped children's CPU, lab hosts' CPU, and the
    peak RSS (MiB) ``run`` returns, if it measures one."""
    result = Timing()
    for i in range(reps):
        srv0 = _settled_server_cpu(lab)
        cpu0, t0 = _children_cpu(), time.perf_counter()
        rss = run()
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
        srv = _settled_server_cpu(lab) - srv0
        result.wall.append(wall)
        result.cpu.append(cpu)
        result.server.append(srv)
        if rss is not None:
            result.rss.append(rss)
        print(
            f"  {label} rep {i + 1}/{reps}: {wall:.2f}s wall, {cpu:.2f}s client CPU, "
            f"{srv:.2f}s host CPU" + (f", peak RSS {rss:.0f} MiB" if rss is not None else ""),
            flush=True,
        )
    return result


def run_measured(
    argv: Sequence[str], cwd: Path, env: dict[str, str]
) -> tuple[int, str, str, float]:
    """Run a command to the end: exit status, stdout, stderr, and its peak RSS in MiB (from
    ``wait4``, that process alone, not the other tools run before it)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    return proc.returncode, text[0], text[1], usage.ru_maxrss / 1024


def write_lockfile(path: Path) -> Path:
    """BASE versions of a few packages for every role/release, plus Django for app hosts."""
    lines = ["schema = 1", ""]
    for release, base in BASE_PACKAGES.items():
        for role in ("app", "db"):
            have = packages_for(release, role)
            lines.append(f'[roles.{role}."{release}".deb]')
            lines += [f'"{n}" = "{base[n]}"' for n in PINNED if n in have]
            if role == "app":
                lines += [f'[roles.app."{release}".pip]', f'Django = "{BASE_PIP["Django"]}"']
            lines.append("")
    path.write_text("\n".join(lines))
    return path


def write_ansible_inventory(lab: Lab, path: Path, known_hosts: Path) -> Path:
    common = f"-o UserKnownHostsFile={known_hosts} -o GlobalKnownHostsFile=/dev/null"
    lines = ["[fleet]"]
    for h in lab.hosts.values():
        lines.append(
            f"{h.name} ansible_host={h.address} ansible_user={lab.user} "
            f"ansible_ssh_private_key_file={lab.client_key} "
            f"ansible_python_interpreter=/usr/bin/python3 "
            f"ansible_ssh_common_args='{common} -o KexAlgorithms={KEX}'"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def run_pinmgr(lab: Lab, work: Path, n: int, *, pip: bool = True) -> Callable[[], float]:
    """The real CLI; ``pip=False`` drops the hosts' pip paths (the probe's Python part)."""
    lock = write_lockfile(work / "pinmgr.toml")
    inv = lab.write_inventory(work / ("inventory.toml" if pip else "inventory-deb.toml"))
    if not pip:
        inv.write_text(
            "".join(ln for ln in inv.read_text().splitlines(True) if not ln.startswith("pip ="))
        )
    argv = [
        sys.executable, "-m", "pinmgr", "check", "-l", str(lock), "-i", str(inv),
        "--known-hosts", str(lab.known_hosts), "-q", "-j", str(n), "-f", "json",
    ]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1", "HOME": str(work)}
    env.pop("SSH_AUTH_SOCK", None)

    def run() -> float:
        rc, stdout, stderr, rss = run_measured(argv, work, env)
        if rc == 3 or not stdout:
            raise SystemExit(f"pinmgr check failed ({rc}): {stderr[-2000:]}")
        summary = json.loads(stdout)["summary"]
        if summary["hosts_collected"] != n:
            raise SystemExit(f"pinmgr collected {summary['hosts_collected']} of {n} hosts")
        return rss

    return run


def run_openssh(lab: Lab) -> Callable[[], None]:
    names = list(lab.hosts)
    remote = f"dpkg-query -W -f '{DPKG_FORMAT}'"

    def run() -> None:
        procs = [
            subprocess.Popen(
                [
                    "ssh",
                    "-F",
                    str(lab.ssh_config),
                    "-o",
                    f"KexAlgorithms={KEX}",
                    "-o",
                    f"ConnectTimeout={CONNECT_TIMEOUT}",
                    name,
                    remote,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for name in names
        ]
        failed = []
        for name, proc in zip(names, procs, strict=True):
            out, err = proc.communicate()
            if proc.returncode != 0 or b"\tii " not in out:
                failed.append(f"{name}: {proc.returncode} {err.decode(errors='replace')[-200:]}")
        if failed:
            raise SystemExit("ssh fan-out failed: " + "; ".join(failed[:5]))

    return run


def run_paramiko_script(lab: Lab) -> Callable[[], None]:
    """benchmarks/bare_paramiko.py: the issue's "bare paramiko script with N threads"."""
    argv = [
        sys.executable, str(Path(__file__).with_name("bare_paramiko.py")),
        str(lab.known_hosts), str(lab.client_key), lab.user,
        *(h.address for h in lab.hosts.values()),
    ]  # fmt: skip

    def run() -> None:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"paramiko script failed: {done.stderr[-2000:]}")

    return run


def run_ansible(lab: Lab, work: Path, forks: int) -> Callable[[], None] | None:
    ansible = shutil.which("ansible") or str(Path(sys.executable).with_name("ansible"))
    if not Path(ansible).exists():
        print("  ansible not found: skipped (pip install ansible-core)")
        return None
    inv = write_ansible_inventory(lab, work / "hosts.ini", lab.known_hosts)
    argv = [ansible, "all", "-i", str(inv), "-m", "ansible.builtin.package_facts", "-f", str(forks)]
    rep = [0]

    def run() -> None:
        rep[0] += 1
        # A fresh control-socket dir per repetition: no SSH master carried over between runs.
        cp_dir = work / f"ansible-cp-{rep[0]}"
        env = {
            **os.environ,
            "HOME": str(work),
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(cp_dir),
            "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        }
        env.pop("SSH_AUTH_SOCK", None)
        done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, check=False)
        ok = done.stdout.count("| SUCCESS")
        if done.returncode != 0 or ok != len(lab.hosts):
            tail = (done.stdout + done.stderr)[-1500:]
            raise SystemExit(f"ansible failed ({done.returncode}, {ok} ok): {tail}")
        _close_masters(cp_dir)

    return run


def _close_masters(cp_dir: Path) -> None:
    """Stop the ControlPersist masters of one Ansible run so they cannot serve the next."""
    for sock in cp_dir.glob("*") if cp_dir.exists() else []:
        subprocess.run(
            ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "dummy"],
            capture_output=True,
            check=False,
            timeout=10,
        )


def login_cost(lab: Lab, samples: int = 5) -> tuple[float, float]:
    """Median seconds of ``ssh host true`` and ``ssh host dpkg-query -W`` (one at a time):
    shows what the lab user's shell start-up costs on the server side."""
    name = next(iter(lab.hosts))
    base = ["ssh", "-F", str(lab.ssh_config), "-o", f"KexAlgorithms={KEX}", name]
    out = []
    for remote in ("true", f"dpkg-query -W -f '{DPKG_FORMAT}' >/dev/null"):
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            subprocess.run([*base, remote], capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        out.append(statistics.median(times))
    return out[0], out[1]


@dataclass
class Result:
    hosts: int
    reps: int
    pinmgr: Timing
    pinmgr_deb: Timing | None
    openssh: Timing
    ansible: Timing | None
    paramiko: Timing | None
    ssh_true: float
    ssh_dpkg: float
    lab_start: float

    @property
    def vs_openssh(self) -> float:
        return self.pinmgr.median / self.openssh.median

    @property
    def ansible_vs_pinmgr(self) -> float | None:
        return self.ansible.median / self.pinmgr.median if self.ansible else None


def bench(n: int, reps: int, ansible_reps: int, with_ansible: bool) -> Result:
    print(f"\n== {n} hosts ==", flush=True)
    with tempfile.TemporaryDirectory(prefix="pinmgr-bench-") as tmp, Lab() as lab:
        work = Path(tmp)
        t0 = time.perf_counter()
        lab.start(fleet(n), timeout=max(180.0, 1.5 * n))
        lab_start = time.perf_counter() - t0
        print(f"  lab: {n} hosts ready in {lab_start:.1f}s", flush=True)
        ssh_true, ssh_dpkg = login_cost(lab)
        print(
            f"  one login: ssh true {ssh_true * 1000:.0f} ms, dpkg-query {ssh_dpkg * 1000:.0f} ms"
        )
        pin_run, ssh_run = run_pinmgr(lab, work, n), run_openssh(lab)
        pin_t, ssh_t = Timing(), Timing()
        runs = [(pin_run, pin_t, "pinmgr"), (ssh_run, ssh_t, "openssh")]
        deb_t = par_t = None
        if n <= 100:  # reference rows: not at scale, where each costs a shared machine minutes
            deb_t, par_t = Timing(), Timing()
            runs.insert(1, (run_pinmgr(lab, work, n, pip=False), deb_t, "pinmgr deb-only"))
            runs.append((run_paramiko_script(lab), par_t, "paramiko script"))
        for warm, _, _ in runs:  # page cache, .pyc files, sshd
            warm()
        # Interleaved, so background load on the shared machine hits all alike.
        for _ in range(reps):
            for run, into, label in runs:
                into.add(timed(run, 1, label, lab))
        ans_t = None
        if with_ansible:
            ans_run = run_ansible(lab, work, forks=50)
            if ans_run is not None:
                ans_t = timed(ans_run, ansible_reps, "ansible", lab)
        return Result(n, reps, pin_t, deb_t, ssh_t, ans_t, par_t, ssh_true, ssh_dpkg, lab_start)


def report(results: Sequence[Result]) -> str:
    lines = [
        f"machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        "shared by the client and every lab host; Python "
        f"{platform.python_version()}, {_ssh_version()}",
        f"OpenSSH fan-out: KexAlgorithms fixed to {KEX}, as pinmgr negotiates it (OpenSSH's "
        "default sntrup761x25519-sha512 costs ~80 ms more client CPU per connection)",
        "medians; client CPU = the tool's processes; host CPU = every session on the lab hosts",
        "",
        f"{'hosts':>5}  {'tool':<34} {'wall':>7}  {'client CPU':>10}  {'host CPU':>8}"
        f"  {'peak RSS':>10}",
    ]
    for r in results:
        rows = [
            ("pinmgr check (deb + pip)", r.pinmgr),
            ("pinmgr check (deb only, no pip)", r.pinmgr_deb),
            ("openssh fan-out (dpkg-query only)", r.openssh),
            (f"paramiko script ({r.hosts} threads)", r.paramiko),
        ]
        if r.ansible is not None:
            rows.append(("ansible package_facts, forks=50", r.ansible))
        for name, t in rows:
            if t is None:
                continue
            rss = f"  {t.rss_max:6.0f} MiB" if t.rss else ""
            lines.append(
                f"{r.hosts:>5}  {name:<34} {t.median:6.2f}s  {t.cpu_median:9.2f}s  "
                f"{t.server_median:7.2f}s{rss}"
            )
    lines.append("")
    for r in results:
        target = target_for(r.hosts)
        ok = r.vs_openssh <= target
        cpu = r.pinmgr.cpu_median / r.openssh.cpu_median
        deb = (
            f"; deb-only pinmgr/openssh = {r.pinmgr_deb.median / r.openssh.median:.2f}x"
            if r.pinmgr_deb
            else ""
        )
        lines.append(
            f"{r.hosts} hosts: pinmgr/openssh = {r.vs_openssh:.2f}x "
            f"(target <= {target}x: {'MET' if ok else 'MISSED'}); client CPU "
            f"pinmgr/openssh = {cpu:.2f}x{deb}"
        )
        if r.paramiko is not None:
            lines.append(
                f"{r.hosts} hosts: paramiko script/openssh = "
                f"{r.paramiko.median / r.openssh.median:.2f}x, pinmgr/paramiko script = "
                f"{r.pinmgr.median / r.paramiko.median:.2f}x (reference, no target)"
            )
        if r.ansible_vs_pinmgr is not None:
            ok = r.ansible_vs_pinmgr >= TARGET_VS_ANSIBLE
            target = f"target >= {TARGET_VS_ANSIBLE:g}x" if r.hosts == 50 else "no target"
            lines.append(
                f"{r.hosts} hosts: ansible/pinmgr = {r.ansible_vs_pinmgr:.1f}x "
                f"({target}{': MET' if r.hosts == 50 and ok else ''}"
                f"{': MISSED' if r.hosts == 50 and not ok else ''})"
            )
    lines += _memory_lines(results)
    r0 = results[0]
    lines.append(
        f"one login, serial: ssh true {r0.ssh_true * 1000:.0f} ms, "
        f"ssh dpkg-query {r0.ssh_dpkg * 1000:.0f} ms"
    )
    return "\n".join(lines)


def _memory_lines(results: Sequence[Result]) -> list[str]:
    """pinmgr's peak RSS per size, and what each host adds beyond the smallest size: linear
    growth shows as a steady per-host figure, a fixed part as the smallest size's RSS."""
    sized = sorted((r for r in results if r.pinmgr.rss), key=lambda r: r.hosts)
    if not sized:
        return []
    out = [
        "pinmgr peak RSS: "
        + ", ".join(f"{r.hosts} hosts {r.pinmgr.rss_max:.0f} MiB" for r in sized)
    ]
    base = sized[0]
    for r in sized[1:]:
        per_host = (r.pinmgr.rss_max - base.pinmgr.rss_max) * 1024 / (r.hosts - base.hosts)
        out.append(f"  {base.hosts} -> {r.hosts} hosts: {per_host:.0f} KiB more per added host")
    return out


def _ssh_version() -> str:
    done = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False)
    return (done.stderr or done.stdout).strip().split(",")[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50, help="fleet size (default 50)")
    parser.add_argument("--with-100", action="store_true", help="also run at 100 hosts")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(x) for x in text.split(",")],
        help=f"fleet sizes, comma-separated (e.g. 50,200,250; at most {MAX_LAB_HOSTS})",
    )
    parser.add_argument("--reps", type=int, default=5, help="repetitions per tool (default 5)")
    parser.add_argument("--ansible-reps", type=int, default=3, help="Ansible repetitions")
    parser.add_argument("--no-ansible", action="store_true", help="skip Ansible")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("the lab needs root (network namespaces)")
    # A pip install byte-compiles pinmgr; an editable checkout (or PYTHONDONTWRITEBYTECODE)
    # would otherwise compile every module on every run and time the compiler, not pinmgr.
    import compileall

    import pinmgr

    compileall.compile_dir(str(Path(pinmgr.__file__).parent), quiet=1)
    sizes = args.sizes or [args.hosts] + ([100] if args.with_100 and args.hosts != 100 else [])
    if max(sizes) > MAX_LAB_HOSTS:
        parser.error(f"a lab holds at most {MAX_LAB_HOSTS} hosts (one /24 per lab)")
    results = []
    for n in sizes:
        with_ansible = not args.no_ansible and n == sizes[0]
        results.append(bench(n, args.reps, args.ansible_reps, with_ansible))
    text = report(results)
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
