"""How fast the HTML report opens and filters for a big fleet, in Debian's real Chromium.

Builds a report of HOSTS hosts x PINS pins (2 environments x 2 roles, every 7th cell drifted:
``tests/functional/html_reports.many_hosts``), renders it with ``reporters.html.render``
(timed), writes it, then opens it REPS times in headless ``/usr/bin/chromium`` (Playwright,
fresh profile, the tests' flags) and reads Chromium's performance API:

- load: navigation start to the script's ``pinmgr-rendered`` mark (HTML parsed, JSON parsed,
  filters built, first matrix page and list in the DOM), then to the next frame painted;
- filter: one change event (finding = drift; then environment = staging; then a text search)
  from dispatch to the DOM updated and laid out (``performance.now()`` around the handler and
  a forced layout), and to the next frame.

Prints medians and the targets (load < 3 s, filter < 500 ms). Reproduce:

    .venv/bin/python benchmarks/report.py                   # 1,000 hosts x 300 pins, 5 reps
    .venv/bin/python benchmarks/report.py --hosts 200 --pins 50 --reps 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pinmgr.reporters import html  # noqa: E402
from tests.functional import browser  # noqa: E402
from tests.functional.html_reports import many_hosts  # noqa: E402

LOAD_TARGET_MS = 3000.0
FILTER_TARGET_MS = 500.0

# One filter change timed in the page: handler + forced layout, then to the next frame.
FILTER_JS = """async ([id, value]) => {
  const el = document.getElementById(id);
  const t0 = performance.now();
  el.value = value;
  el.dispatchEvent(new Event(id === 'f-q' ? 'input' : 'change'));
  const t1 = performance.now();
  void document.body.offsetHeight;
  const t2 = performance.now();
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const last = (name) => performance.getEntriesByName(name).pop().startTime;
  return [t2 - t0, performance.now() - t0, last('pinmgr-computed') - last('pinmgr-filter'),
          last('pinmgr-matrix') - last('pinmgr-computed'), t1 - last('pinmgr-matrix'),
          t2 - t1];
}"""

LOAD_JS = """async () => {
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const at = (name) => performance.getEntriesByName(name)[0].startTime;
  return [at('pinmgr-rendered'), performance.now(), at('pinmgr-start'),
          at('pinmgr-parsed') - at('pinmgr-start'), at('pinmgr-computed') - at('pinmgr-filter'),
          at('pinmgr-matrix') - at('pinmgr-computed'), at('pinmgr-listed') - at('pinmgr-matrix')];
}"""

# Where the load time goes: HTML received and parsed up to the script, JSON.parse, the filter
# pass over every finding, the matrix page and the list built (DOM only, before layout).
PHASES = ("script starts", "JSON.parse", "filter pass", "matrix DOM", "list DOM")

FILTERS = (("f-kind", "drift"), ("f-env", "staging"), ("f-q", "host07"))


def thread_time(cdp: object) -> float:
    """CPU seconds the page's main thread has used (Chromium's Performance.getMetrics).

    Wall times on a machine shared with other work grow with its load; this does not.
    """
    metrics = cdp.send("Performance.getMetrics")["metrics"]  # type: ignore[attr-defined]
    return float(next(m["value"] for m in metrics if m["name"] == "ThreadTime"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--pins", type=int, default=300)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    why = browser.missing()
    if why:
        sys.exit(f"cannot run: {why}")

    report = many_hosts(args.hosts, args.pins)
    t0, c0 = time.perf_counter(), time.process_time()
    page_text = html.render(report)
    render_s, render_cpu = time.perf_counter() - t0, time.process_time() - c0
    work = Path(tempfile.mkdtemp(prefix="pinmgr-bench-report-"))
    path = work / "report.html"
    path.write_text(page_text, encoding="utf-8")
    size_mb = path.stat().st_size / 1e6
    print(
        f"{args.hosts} hosts x {args.pins} pins = {len(report.findings):,} findings; "
        f"render {render_s:.2f} s in Python ({render_cpu:.2f} s CPU); file {size_mb:.1f} MB"
    )

    loads: list[tuple[float, ...]] = []
    cpu_load: list[float] = []
    cpu_filter: dict[str, list[float]] = {f"{k}={v}": [] for k, v in FILTERS}
    filters: dict[str, list[tuple[float, ...]]] = {f"{k}={v}": [] for k, v in FILTERS}
    with browser.chromium() as context:
        sessions: list[object] = []

        def metrics_on(page: object) -> None:
            """CPU metrics from before the page navigates, so its load counts."""
            cdp = context.new_cdp_session(page)  # type: ignore[arg-type]
            cdp.send("Performance.enable")
            sessions.append(cdp)

        for _ in range(args.reps):
            sessions.clear()
            opened = browser.open_report(context, path, before=metrics_on)
            loads.append(tuple(opened.page.evaluate(LOAD_JS)))  # type: ignore[arg-type]
            (cdp,) = sessions
            cpu_load.append(thread_time(cdp))
            for key, value in FILTERS:
                before = thread_time(cdp)
                result = opened.page.evaluate(FILTER_JS, [key, value])
                cpu_filter[f"{key}={value}"].append(thread_time(cdp) - before)
                filters[f"{key}={value}"].append(tuple(result))  # type: ignore[arg-type]
            cdp.detach()  # type: ignore[attr-defined]
            opened.assert_quiet()
            opened.page.close()

    def med(values: list[tuple[float, ...]], i: int) -> float:
        return statistics.median(v[i] for v in values)

    load, painted = med(loads, 0), med(loads, 1)
    print(f"load (median of {args.reps}): rendered {load:.0f} ms, painted {painted:.0f} ms")
    phases = ", ".join(f"{name} {med(loads, 2 + n):.0f}" for n, name in enumerate(PHASES))
    print(f"  of which (ms): {phases}")
    print(
        f"  renderer main-thread CPU (Chromium's ThreadTime, load-independent): "
        f"{statistics.median(cpu_load) * 1000:.0f} ms"
    )
    worst = 0.0
    for name, values in filters.items():
        done, frame = med(values, 0), med(values, 1)
        worst = max(worst, frame)
        print(f"filter {name} (cumulative): DOM updated {done:.0f} ms, painted {frame:.0f} ms")
        parts = ", ".join(
            f"{label} {med(values, 2 + n):.0f}"
            for n, label in enumerate(("filter pass", "matrix DOM", "list DOM", "layout"))
        )
        print(f"  of which (ms): {parts}")
        print(f"  renderer main-thread CPU: {statistics.median(cpu_filter[name]) * 1000:.0f} ms")
    cpu_worst = max(statistics.median(v) for v in cpu_filter.values()) * 1000
    cpu_open = statistics.median(cpu_load) * 1000
    print(
        f"targets (wall): load {painted:.0f}/{LOAD_TARGET_MS:.0f} ms "
        f"(ratio {painted / LOAD_TARGET_MS:.2f}), slowest filter {worst:.0f}/"
        f"{FILTER_TARGET_MS:.0f} ms (ratio {worst / FILTER_TARGET_MS:.2f})"
    )
    print(
        f"targets (main-thread CPU): load {cpu_open:.0f}/{LOAD_TARGET_MS:.0f} ms "
        f"(ratio {cpu_open / LOAD_TARGET_MS:.2f}), slowest filter {cpu_worst:.0f}/"
        f"{FILTER_TARGET_MS:.0f} ms (ratio {cpu_worst / FILTER_TARGET_MS:.2f})"
    )


if __name__ == "__main__":
    main()
