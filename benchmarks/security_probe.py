"""Host CPU of the probe's apt section: counting indexes (before #18) vs listing them (after).

Before issue #18 the section ran ``apt-cache policy | grep -c ' Packages$'`` then ``apt-cache
madison``; now it prints the index and ``release`` lines (``grep -E``) so each offered version
maps to its suite. Same processes; the question is whether printing instead of counting costs
anything measurable. Runs both shell snippets against this machine's own apt lists (read-only)
and prints the CPU seconds of the children per run (user + sys), medians of ``--runs``.

    python benchmarks/security_probe.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import time

NAMES = (
    "bash coreutils dpkg libc6 libssl3 openssl curl tzdata apt gzip tar util-linux "
    "perl-base login grep sed findutils mawk ca-certificates openssh-client"
)
BEFORE = (
    "printf 'sources %s\\n' \"$(apt-cache policy </dev/null 2>/dev/null | grep -c ' Packages$')\"\n"
    f"apt-cache madison -- {NAMES} </dev/null\n"
)
AFTER = (
    "apt-cache policy </dev/null 2>/dev/null | grep -E ' Packages$|^ +release '\n"
    "printf '%s\\n' madison:\n"
    f"apt-cache madison -- {NAMES} </dev/null\n"
)


def cpu_of(script: str) -> tuple[float, int]:
    """Children's user+sys CPU seconds for one run, and the bytes it printed."""
    before = os.times()
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return cpu, len(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"before": [], "after": []}
    sizes: dict[str, int] = {}
    start = time.perf_counter()
    for _ in range(args.runs):  # interleaved: the machine's load hits both alike
        for name, script in (("before", BEFORE), ("after", AFTER)):
            cpu, size = cpu_of(script)
            results[name].append(cpu)
            sizes[name] = size
    for name, cpus in results.items():
        print(
            f"{name:6}: median {statistics.median(cpus) * 1000:.1f} ms CPU, "
            f"{sizes[name]} bytes of output ({shlex.quote(str(len(cpus)))} runs)"
        )
    ratio = statistics.median(results["after"]) / statistics.median(results["before"])
    print(f"after / before: {ratio:.2f}x  ({time.perf_counter() - start:.1f} s wall)")


if __name__ == "__main__":
    main()
