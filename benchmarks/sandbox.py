"""Sandbox speed: the warm pool against in-process rendering (the floor) and a fresh interpreter
per chart, on real matplotlib code, all in one run.

Charts: `--charts` scripts picked evenly from matplotlib's own gallery
(`../shared/corpora/get-matplotlib-gallery`; scripts that need GUI toolkits, LaTeX or packages
beyond matplotlib/numpy are left out, and so are the few that fail in-process), plus a 12-bar
1024x768 chart.  Every mode renders the same charts through the same renderer
(`renderers.matplotlib:render`, manifest capture included):

  (a) in-process   the renderer called in this (warm) process, one fresh cwd per chart (made
                   where the pool makes its job dirs, `sandbox.jobroot`)
  (b) fresh        `SubprocessRunner`: a new `python -I -m sandbox.child` per chart
  (c) pool         `WorkerPool` with every job layer the machine has, 1 worker and 2 workers
                   (2 client threads); plus, with 1 worker: no spare child (each job forked when
                   it arrives), no job layers, and 2 jobs in flight; and 2 workers with a spare
                   forked for every job (`spares="on"`; the default `auto` forks spares only in
                   a pool with fewer workers than cores)

One worker is fed two ways.  "1 worker" hands it one job at a time: the worker waits while the
host checks each result and prepares the next job (~2.5 ms a chart).  "1 worker, 2 jobs in flight"
keeps a second job waiting, as `cocogen batch` feeds the pool (`GatedRunner`: twice as many jobs
as workers), so the host checks one result while the worker runs the next job.  In-process
rendering has no such split to overlap.  The targets (>= 0.9x (a), >= 4x (b)) are reported for
both.

"CPU ms/chart" is the whole machine's busy CPU time (/proc/stat) over the mode's run, per chart:
what the mode costs, where the rate says how fast it is.

(a), (b) and the four 1-worker modes of (c) run `--rounds` times, interleaved (one round runs
each mode once, back to back).  Each of them shows its median round, and its ratios to (a) and
(b) are the medians of the per-round ratios: this machine is shared and its speed drifts by
10-15% between minutes, which a round's back-to-back modes share and best-of-rounds would not
cancel.

A second table compares one cold render as a CLI run does it: a new Python process that creates
the default runner (`COCOGEN_SANDBOX=subprocess` or `pool`) and renders one chart, alternated
`--cold` times each.

Run: .venv/bin/python benchmarks/sandbox.py [--charts 40] [--rounds 5] [--cold 5] [--gallery DIR]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# This file is named after the package it measures: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sandbox import Job, JobResult, Limits, SubprocessRunner  # noqa: E402
from sandbox.jobroot import job_root  # noqa: E402
from sandbox.pool import WorkerPool  # noqa: E402
from sandbox.runner import Runner  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FETCH = REPO.parent / "shared" / "corpora" / "get-matplotlib-gallery"
RENDERER = "renderers.matplotlib:render"
SKIP_DIRS = {"animation", "event_handling", "user_interfaces", "widgets"}
ALLOWED_IMPORTS = {"matplotlib", "mpl_toolkits", "numpy"} | set(sys.stdlib_module_names)
LIMITS = Limits(wall_s=60, cpu_s=30)

TWELVE_BARS = """
import matplotlib.pyplot as plt
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
values = [12, 15, 11, 18, 21, 25, 24, 22, 19, 16, 14, 20]
fig, ax = plt.subplots(figsize=(10.24, 7.68), dpi=100)
bars = ax.bar(months, values, color="#4c72b0")
ax.bar_label(bars)
ax.set_title("Monthly signups, 2024")
ax.set_xlabel("Month")
ax.set_ylabel("Signups (thousands)")
"""

COLD_SCRIPT = """
import sys, time
started = time.perf_counter()
from cocogen.rendering import default_runner
from sandbox import Job, Limits
runner = default_runner()
result = runner.run(Job(renderer=sys.argv[1], source=sys.argv[2], limits=Limits(wall_s=60)))
assert result.ok, result.failure
runner.close()
print(time.perf_counter() - started)
"""


def gallery_scripts(gallery: Path) -> list[Path]:
    found = []
    for path in sorted(gallery.rglob("*.py")):
        rel = path.relative_to(gallery)
        if rel.parts[1] in SKIP_DIRS or "sgskip" in path.name:
            continue
        source = path.read_text(encoding="utf-8")
        if "usetex" in source:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        tops = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                tops.add(node.module.split(".")[0])
        if not tops - ALLOWED_IMPORTS:
            found.append(path)
    return found


def fetch_gallery(dest: Path) -> Path:
    if not (dest / "examples").is_dir():
        if not FETCH.exists():
            sys.exit(f"no gallery: {FETCH} is missing; pass --gallery DIR")
        subprocess.run(["bash", str(FETCH), str(dest)], check=True, capture_output=True)
    return dest


def in_process(job: Job) -> JobResult:
    from renderers.matplotlib import render
    from sandbox.child import execute

    cwd = os.getcwd()
    output = io.StringIO()  # the pool captures a job's output too; a terminal would be slower
    with (
        tempfile.TemporaryDirectory(dir=job_root()) as tmp,  # where the pool makes job dirs
        contextlib.redirect_stdout(output),
        contextlib.redirect_stderr(output),
    ):
        os.chdir(tmp)
        try:
            return execute(job, Path(tmp), render)
        finally:
            os.chdir(cwd)


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores, not idle or waiting on I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(
    label: str, jobs: list[Job], call: Callable[[Job], JobResult], threads: int = 1
) -> dict[str, float | str]:
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def one(job: Job) -> None:
        nonlocal failures
        started = time.perf_counter()
        result = call(job)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            failures += not result.ok

    started, cpu = time.perf_counter(), busy_cpu_s()
    if threads == 1:
        for job in jobs:
            one(job)
    else:
        with ThreadPoolExecutor(threads) as executor:
            list(executor.map(one, jobs))
    total = time.perf_counter() - started
    cpu = busy_cpu_s() - cpu
    latencies.sort()
    return {
        "mode": label,
        "charts_s": len(jobs) / total,
        "median_ms": statistics.median(latencies) * 1000,
        "p90_ms": latencies[int(0.9 * (len(latencies) - 1))] * 1000,
        "total_s": total,
        "cpu_ms": cpu / len(jobs) * 1000,
        "failed": failures,
    }


def median_round(rows: list[dict[str, float | str]]) -> dict[str, float | str]:
    """The round with the median rate (of an even number, the lower middle one)."""
    return sorted(rows, key=lambda row: float(row["charts_s"]))[(len(rows) - 1) // 2]


def ratio(rows: list[dict[str, float | str]], base: list[dict[str, float | str]]) -> float:
    """Median over rounds of this mode's rate over the base mode's rate in the same round
    (a single run of either is compared with the other's median round)."""
    if len(rows) == len(base) > 1:
        return statistics.median(
            float(r["charts_s"]) / float(b["charts_s"]) for r, b in zip(rows, base, strict=True)
        )
    return float(median_round(rows)["charts_s"]) / float(median_round(base)["charts_s"])


def cold_runs(count: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"subprocess": [], "pool": []}
    for _ in range(count):
        for kind in times:
            env = {**os.environ, "COCOGEN_SANDBOX": kind}
            with tempfile.TemporaryDirectory() as tmp:
                proc = subprocess.run(
                    [sys.executable, "-c", COLD_SCRIPT, RENDERER, TWELVE_BARS],
                    capture_output=True,
                    text=True,
                    env=env,
                    cwd=tmp,
                    check=True,
                )
            times[kind].append(float(proc.stdout.strip().splitlines()[-1]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=40, help="gallery scripts (default 40)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold", type=int, default=5, help="cold renders per runner kind")
    parser.add_argument("--gallery", type=Path, default=None)
    args = parser.parse_args()

    gallery = args.gallery or fetch_gallery(Path(tempfile.gettempdir()) / "cocogen-mpl-gallery")
    candidates = gallery_scripts(gallery)
    from renderers.matplotlib import warm_up

    warm_up()
    # Untimed pass: drops scripts that fail in-process, and warms this process's imports (so
    # (a) is the tightest floor we can get).
    step = max(1, len(candidates) // (args.charts * 2))
    jobs: list[Job] = []
    names: list[str] = []
    for path in candidates[::step]:
        job = Job(renderer=RENDERER, source=path.read_text(encoding="utf-8"), limits=LIMITS)
        if in_process(job).ok:
            jobs.append(job)
            names.append(str(path.relative_to(gallery)))
        if len(jobs) == args.charts:
            break
    jobs.append(Job(renderer=RENDERER, source=TWELVE_BARS, limits=LIMITS))
    in_process(jobs[-1])
    print(f"{len(jobs)} charts: {len(jobs) - 1} gallery scripts + the 12-bar chart")

    rows: dict[str, list[dict[str, float | str]]] = {}
    fresh: Runner = SubprocessRunner()
    with (
        WorkerPool(1, prewarm=True, preload=[RENDERER]) as one,
        WorkerPool(1, prewarm=True, preload=[RENDERER], spares="off") as plain,
        WorkerPool(1, prewarm=True, preload=[RENDERER], layers=[]) as bare,
    ):
        layer_names = [n for n, s in one.layer_status().items() if s.active]
        for _ in range(args.rounds):
            rows.setdefault("a", []).append(measure("(a) in-process", jobs, in_process))
            rows.setdefault("c1", []).append(measure("(c) pool, 1 worker", jobs, one.run))
            rows.setdefault("c1p", []).append(
                measure("(c) pool, 1 worker, no spare child", jobs, plain.run)
            )
            rows.setdefault("c0", []).append(
                measure("(c) pool, 1 worker, no job layers", jobs, bare.run)
            )
            rows.setdefault("c1t", []).append(
                measure("(c) pool, 1 worker, 2 jobs in flight", jobs, one.run, threads=2)
            )
            rows.setdefault("b", []).append(measure("(b) fresh interpreter", jobs, fresh.run))
    with WorkerPool(2, prewarm=True, preload=[RENDERER]) as two:
        rows["c2"] = [measure("(c) pool, 2 workers", jobs, two.run, threads=2)]
    with WorkerPool(2, prewarm=True, preload=[RENDERER], spares="on") as eager:
        rows["c2s"] = [measure("(c) pool, 2 workers, a spare per job", jobs, eager.run, threads=2)]

    print(f"\nactive layers of the pool: {', '.join(layer_names)}\n")
    print("| mode | charts/s | median ms | p90 ms | CPU ms/chart | failed | vs (a) | vs (b) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in ("a", "b", "c1p", "c0", "c1", "c1t", "c2", "c2s"):
        row = median_round(rows[key])
        print(
            f"| {row['mode']} | {float(row['charts_s']):.2f} | {float(row['median_ms']):.0f} | "
            f"{float(row['p90_ms']):.0f} | {float(row['cpu_ms']):.0f} | {row['failed']} | "
            f"{ratio(rows[key], rows['a']):.2f}x | {ratio(rows[key], rows['b']):.2f}x |"
        )

    def rounds(key: str, base: str) -> str:
        return " ".join(
            f"{float(c['charts_s']) / float(b['charts_s']):.2f}"
            for c, b in zip(rows[key], rows[base], strict=True)
        )

    print()
    for key, fed in (("c1", "one job at a time"), ("c1t", "2 jobs in flight")):
        for base, target in (("a", 0.9), ("b", 4.0)):
            value = ratio(rows[key], rows[base])
            verdict = "met" if value >= target else "not met"
            print(
                f"(c) 1 worker, {fed} / ({base}): {value:.2f}x, the median of the rounds' "
                f"{rounds(key, base)} (target >= {target:g}: {verdict})"
            )

    if args.cold:
        cold = cold_runs(args.cold)
        print(f"\ncold single render in a new process (as one CLI run), {args.cold} runs each:\n")
        print("| runner | median s | min s | max s |")
        print("|---|---:|---:|---:|")
        for kind, times in cold.items():
            print(
                f"| {kind} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |"
            )


if __name__ == "__main__":
    main()
