"""Vega-Lite at scale: 500 nvBench specs through the `vegalite` renderer, with their axis titles.

Takes 500 cases spread evenly over `../shared/corpora/nvbench/cases.jsonl` (every chart type),
renders each spec with `renderers.vegalite.render` in this process (compile with vl-convert,
draw with cairo, manifest) at 800x600, and checks that every spec renders and that each x/y
axis title (and a colour legend's title) of the spec appears in the manifest with the right
role.  Prints a table per chart type and charts per second; the baseline in the same run is
vl-convert's own `vegalite_to_png` on the same specs (a PNG without any manifest).

    .venv/bin/python benchmarks/vegalite.py [--count 500]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from renderers import vegalite  # noqa: E402
from sandbox.wire import Job, RenderError  # noqa: E402

CASES = Path(os.environ.get("COCOGEN_CORPORA", ROOT.parent / "shared" / "corpora")) / (
    "nvbench/cases.jsonl"
)


def expected_titles(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, role) pairs the chart must show: x/y axis titles, a colour legend's title."""
    found = []
    encoding = spec.get("encoding") or {}
    for channel, role in (("x", "axis_label"), ("y", "axis_label"), ("color", "legend")):
        entry = encoding.get(channel)
        if isinstance(entry, dict) and entry.get("title"):
            found.append((str(entry["title"]), role))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args(argv)
    if not CASES.exists():
        print(f"skipped: {CASES} is absent (the shared corpora are not checked out)")
        return 0
    lines = CASES.read_text(encoding="utf-8").splitlines()
    step = max(1, len(lines) // args.count)
    cases = [json.loads(line) for line in lines[::step][: args.count]]
    workdir = Path(tempfile.mkdtemp(prefix="vl-bench-"))
    (workdir / "out").mkdir()
    os.chdir(workdir / "out")
    import vl_convert

    vegalite.warm_up()
    vl_convert.vegalite_to_svg(vegalite._WARM_SPEC, allowed_base_urls=[])
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    failures: list[str] = []
    started = time.perf_counter()
    for case in cases:
        chart = case.get("chart", "?")
        spec = case["vegalite_spec"]
        job = Job(
            renderer="renderers.vegalite:render",
            source=json.dumps(spec),
            language="vegalite",
            width=800,
            height=600,
        )
        row = stats[chart]
        row["specs"] += 1
        try:
            output = vegalite.render(job, workdir)
        except RenderError as exc:
            failures.append(f"{case['id']}: {exc.message}")
            continue
        row["rendered"] += 1
        texts = {(e.get("text"), e["role"]) for e in output.manifest["elements"] if e.get("text")}
        wanted = expected_titles(spec)
        row["titles"] += len(wanted)
        row["found"] += sum(1 for item in wanted if item in texts)
        for item in wanted:
            if item not in texts:
                failures.append(f"{case['id']}: title {item[0]!r} ({item[1]}) not in the manifest")
    ours = time.perf_counter() - started
    t0 = time.perf_counter()
    for case in cases:
        vl_convert.vegalite_to_png(case["vegalite_spec"], allowed_base_urls=[])
    baseline = time.perf_counter() - t0
    print(f"nvBench: {len(cases)} Vega-Lite specs (every {step}th case), 800x600, in-process")
    header = f"{'chart':<22}{'specs':>6}{'rendered':>10}{'titles found':>16}"
    print(header)
    print("-" * len(header))
    total: dict[str, int] = defaultdict(int)
    for chart, row in sorted(stats.items()):
        for key, value in row.items():
            total[key] += value
        print(
            f"{chart:<22}{row['specs']:>6}{row['rendered']:>10}{row['found']:>9}/{row['titles']:<6}"
        )
    print("-" * len(header))
    print(
        f"{'all':<22}{total['specs']:>6}{total['rendered']:>10}{total['found']:>9}/{total['titles']:<6}"
    )
    print(
        f"cocogen vegalite renderer (PNG + manifest): {len(cases) / ours:.1f} charts/s "
        f"({1000 * ours / len(cases):.0f} ms/chart)"
    )
    print(
        f"baseline vl-convert vegalite_to_png (PNG only): {len(cases) / baseline:.1f} charts/s "
        f"({1000 * baseline / len(cases):.0f} ms/chart)"
    )
    for line in failures[:15]:
        print(f"  {line}")
    if len(failures) > 15:
        print(f"  ... and {len(failures) - 15} more")
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
