"""Batch rendering: what `cocogen batch` costs on top of the sandbox alone, and whether its memory
stays flat as the batch grows.

Charts: nvBench cases (`../shared/corpora/nvbench/cases.jsonl`, real chart requests with their
data) in file order, each twice: its Vega-Lite spec through the `vegalite` renderer, and the same
data (grouped series summed per label) as a request to the offline planner, drawn with
matplotlib.  Canvas 640x480, OCR off (the checker's own cost is not orchestration; `--ocr` adds
one run with it on).

Measured in one run, the same jobs each way:
- pool alone: the runner the batch would use (the warm pool when it starts here), fed by
  `workers` threads with the pre-planned jobs: the floor;
- pipeline alone: the same rows through `cocogen.pipeline.Pipeline` on threads (plan, render,
  check, run dir; overlays as the batch draws them): the host's per-chart work without the
  batch around it;
- `cocogen batch`: the CLI in a subprocess (plan, render, check, record, thumbnails,
  results.jsonl), its throughput from its own summary;
for 1 and 2 workers, `--rounds` times each, interleaved (the median run of each side is shown,
and every round's rate beside it), then the batch at two sizes for the driver's peak memory
(VmHWM) and the whole process tree's (driver + sandbox workers, sampled).  Timings on a shared
machine are noisy: compare ratios taken in the same run.

The batch writes ~12 files a chart and the pool alone none, so the disk under `--out` counts:
on ext4 without a journal, creating a file in a directory whose block group holds many freed
inodes costs up to ~0.6 ms of kernel time (the allocator checks each candidate inode's deletion
time); the system temp dir of the VM this was written on is such a place.

    .venv/bin/python benchmarks/batch.py                      # 200 charts, memory at 100/1000
    .venv/bin/python benchmarks/batch.py --throughput 1000 --memory 100 1000
    .venv/bin/python benchmarks/batch.py --out ~/bench        # outputs on another disk or dir
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This folder holds `sandbox.py` (another benchmark): keep it from shadowing the sandbox package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
CASES = ROOT.parent / "shared" / "corpora" / "nvbench" / "cases.jsonl"
CANVAS = "640x480"
KINDS = {
    "Bar": "bar",
    "Stacked Bar": "bar",
    "Pie": "pie",
    "Line": "line",
    "Grouping Line": "line",
    "Scatter": "scatter",
    "Grouping Scatter": "scatter",
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def planner_row(case: dict[str, Any]) -> dict[str, Any] | None:
    """The case's data as a request the offline planner draws with matplotlib."""
    spec = case["vegalite_spec"]
    values = spec["data"]["values"]
    kind = KINDS.get(case["chart"], "bar")
    encoding = spec.get("encoding", {})
    y_title = (encoding.get("y") or encoding.get("theta") or {}).get("title", "value")
    x_title = (encoding.get("x") or encoding.get("color") or {}).get("title", "")
    title = f"{y_title} by {x_title}" if x_title else y_title
    if kind == "scatter" and all(_number(v["x_data"]) and _number(v["y_data"]) for v in values):
        data: dict[str, Any] = {
            "x": [v["x_data"] for v in values],
            "y": [v["y_data"] for v in values],
        }
    else:
        kind = "bar" if kind == "scatter" else kind
        totals: dict[str, float] = {}
        for value in values:
            if not _number(value["y_data"]):
                return None
            label = str(value["x_data"])
            totals[label] = totals.get(label, 0) + value["y_data"]
        if not totals:
            return None
        data = {"labels": list(totals), "values": list(totals.values())}
    return {
        "output": f"{case['id']}-mpl",
        "prompt": f'{kind} chart titled "{title}"',
        "data": data,
        "language": "matplotlib",
        "canvas": CANVAS,
    }


def load_rows(
    count: int, languages: tuple[str, ...] = ("vegalite", "matplotlib")
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with open(CASES, encoding="utf-8") as fh:
        for line in fh:
            case = json.loads(line)
            planned = planner_row(case)
            if planned is None:
                continue
            if "vegalite" in languages:
                rows.append({"output": f"{case['id']}-vl", "program": case["vegalite_spec"]})
                rows[-1]["canvas"] = CANVAS
            if "matplotlib" in languages:
                rows.append(planned)
            if len(rows) >= count:
                return rows[:count]
    return rows


def renders_here(language: str) -> str | None:
    """None when one chart of `language` renders in the runner the batch uses, else why not."""
    from cocogen.batching.runners import make_runner

    job = jobs_for(load_rows(1, (language,)))[0]
    runner, _kind = make_runner(1)
    try:
        result = runner.run(job)
    finally:
        runner.close()
    return None if result.ok else (result.failure or {}).get("message", "no image")


def jobs_for(rows: list[dict[str, Any]]) -> list[Any]:
    """The sandbox jobs the batch will run: the same parsing, the same (deterministic) planner."""
    from cocogen.batching.spec import parse_fields
    from cocogen.planning.base import GenerationRequest
    from cocogen.planning.offline import OfflineBackend
    from cocogen.rendering import make_job

    planner = OfflineBackend()
    jobs = []
    for row in rows:
        request, program, _name = parse_fields(row, ROOT)
        if program is None:
            program = planner.generate(
                GenerationRequest(request=request, language="matplotlib", canvas=request.canvas)
            )
        jobs.append(make_job(program, request))
    return jobs


def pool_alone(jobs: list[Any], workers: int) -> dict[str, Any]:
    from cocogen.batching.runners import make_runner

    started = time.perf_counter()
    runner, kind = make_runner(workers)
    try:
        with ThreadPoolExecutor(workers) as threads:
            results = list(threads.map(runner.run, jobs))
    finally:
        runner.close()
    elapsed = time.perf_counter() - started
    failed = sum(1 for r in results if not r.ok)  # no image
    return {"rate": len(jobs) / elapsed, "elapsed": elapsed, "failed": failed, "runner": kind}


def pipeline_alone(rows: list[dict[str, Any]], workers: int, work: Path) -> dict[str, Any]:
    """The same rows through the library's `Pipeline` (plan, render, check, overlay, run dir),
    `2 × workers` rows at a time on threads: what a batch costs per chart without the batch
    (no keys, no results.jsonl, no thumbnails or gallery, no resume)."""
    from concurrent.futures import ThreadPoolExecutor as Threads

    from cocogen.batching.options import BatchOptions
    from cocogen.batching.runners import make_runner
    from cocogen.batching.spec import parse_fields
    from cocogen.checking.settings import CheckSettings
    from cocogen.pipeline import Pipeline
    from cocogen.planning.offline import OfflineBackend

    out = fresh(work, f"pipeline-{len(rows)}-{workers}")
    parsed = [parse_fields(row, ROOT) for row in rows]
    started = time.perf_counter()
    runner, _kind = make_runner(workers)
    pipeline = Pipeline(
        backend=OfflineBackend(),
        runner=runner,
        check_settings=CheckSettings(ocr="off"),
        overlays=BatchOptions().overlays,  # as the batch draws them
    )

    def one(item: tuple[int, Any]) -> bool:
        number, (request, program, _name) = item
        image, run_dir = out / f"{number}.png", out / "runs" / str(number)
        if program is None:
            result = pipeline.generate(request, output=image, run_dir=run_dir)
        else:
            result = pipeline.render(program, request, output=image, run_dir=run_dir)
        return result.image is not None

    try:
        with Threads(2 * workers) as threads:
            made = list(threads.map(one, enumerate(parsed)))
    finally:
        runner.close()
    elapsed = time.perf_counter() - started
    return {"rate": len(rows) / elapsed, "elapsed": elapsed, "failed": made.count(False)}


_runs = itertools.count(1)


def fresh(work: Path, name: str) -> Path:
    """A new output dir.  Outputs are all removed at the end, not between runs: on a file system
    that checks new inodes against recently deleted ones (ext4 without a journal), thousands of
    files deleted just before a run slow that run's file creation for the next ~10 s."""
    return work / f"{name}-{next(_runs)}"


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate (of an even number, the lower middle one)."""
    return sorted(runs, key=lambda run: float(run["rate"]))[(len(runs) - 1) // 2]


def rates(runs: list[dict[str, Any]]) -> str:
    return "/".join(f"{float(run['rate']):.1f}" for run in runs)


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def batch_run(rows: list[dict[str, Any]], workers: int, work: Path, ocr: str) -> dict[str, Any]:
    spec = work / f"spec-{len(rows)}-{workers}-{ocr}.jsonl"
    spec.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = fresh(work, f"out-{len(rows)}-{workers}-{ocr}")
    command = [sys.executable, "-m", "cocogen.cli", "batch", str(spec), "--out", str(out)]
    command += ["--workers", str(workers), "--ocr", ocr, "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peaks = {"driver_kb": 0, "tree_kb": 0}

    def sample() -> None:
        while proc.poll() is None:
            peaks["driver_kb"] = max(peaks["driver_kb"], _status_kb(proc.pid, "VmHWM"))
            tree = [proc.pid, *_descendants(proc.pid)]
            peaks["tree_kb"] = max(peaks["tree_kb"], sum(_status_kb(p, "VmRSS") for p in tree))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    sampler.join()
    summary = json.loads(stdout)
    return {
        "rate": summary["rows_per_s"],
        "elapsed": summary["elapsed_s"],
        "failed": summary["render_failed"] + summary["errors"],  # no image
        "runner": summary["runner"],
        **peaks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--throughput", type=int, default=200, help="charts for 1 vs 2 workers")
    parser.add_argument("--memory", type=int, nargs="+", default=[100, 1000], help="batch sizes")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--rounds", type=int, default=3, help="pool-alone and batch runs per worker count"
    )
    parser.add_argument("--ocr", action="store_true", help="also one batch with OCR on")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the runs write their outputs (default: a new dir in the system temp dir)",
    )
    args = parser.parse_args()
    if not CASES.exists():
        sys.exit(f"skipped: {CASES} not found (the shared corpora live at ../shared)")
    os.environ.setdefault("COCOGEN_CACHE_DIR", str(Path(tempfile.gettempdir()) / "cocogen-bench"))
    largest = max([args.throughput, *args.memory])
    languages = []
    for language in ("vegalite", "matplotlib"):
        problem = renders_here(language)
        if problem is None:
            languages.append(language)
        else:
            print(f"note: {language} charts fail in this sandbox ({problem}); left out")
    if not languages:
        sys.exit("no language renders here")
    rows = load_rows(largest, tuple(languages))
    print(f"nvBench charts: {len(rows)} ({' + '.join(languages)}, cases in file order)")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cocogen-batch-bench-", dir=args.out))
    print(f"outputs under {work} (removed at the end)")
    try:
        throughput = rows[: args.throughput]
        jobs = jobs_for(throughput)
        print(f"\nThroughput, {len(throughput)} charts (canvas {CANVAS}, OCR off)")
        print(
            f"{'workers':>7} | {'runner':>10} | {'pool alone':>12} | {'pipeline alone':>14} | "
            f"{'cocogen batch':>14} | {'overhead':>8} | {'vs pipeline':>11} | failed"
        )
        for workers in args.workers:
            floors, middles, runs = [], [], []
            for _ in range(args.rounds):  # interleaved: a noisy moment hits every side alike
                floors.append(pool_alone(jobs, workers))
                middles.append(pipeline_alone(throughput, workers, work))
                runs.append(batch_run(throughput, workers, work, "off"))
            floor, middle, ours = median_run(floors), median_run(middles), median_run(runs)
            overhead = 1 - ours["rate"] / floor["rate"]
            orchestration = 1 - ours["rate"] / middle["rate"]
            print(
                f"{workers:>7} | {floor['runner']:>10} | {floor['rate']:>8.2f} c/s | "
                f"{middle['rate']:>10.2f} c/s | {ours['rate']:>10.2f} c/s | {overhead:>7.1%} | "
                f"{orchestration:>10.1%} | {floor['failed']}/{middle['failed']}/{ours['failed']}"
            )
            if args.rounds > 1:
                print(f"          rounds: {rates(floors)} | {rates(middles)} | {rates(runs)}")
        if args.ocr:
            ours = batch_run(throughput, max(args.workers), work, "auto")
            print(f"  with OCR (auto), {max(args.workers)} workers: {ours['rate']:.2f} c/s")

        workers = max(args.workers)
        print(f"\nMemory, cocogen batch with {workers} workers")
        print(
            f"{'charts':>6} | {'charts/s':>8} | {'driver peak RSS':>15} | "
            f"{'tree peak RSS':>13} | {'pool alone':>10}"
        )
        for size in args.memory:
            subset = rows[:size]
            ours = batch_run(subset, workers, work, "off")
            floor = pool_alone(jobs_for(subset), workers) if size == max(args.memory) else None
            floor_text = f"{floor['rate']:.2f} c/s" if floor else "-"
            print(
                f"{len(subset):>6} | {ours['rate']:>8.2f} | "
                f"{ours['driver_kb'] / 1024:>11.0f} MiB | "
                f"{ours['tree_kb'] / 1024:>9.0f} MiB | {floor_text:>10}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
