"""The HTML renderer's browser: one warm browser for all pages vs a new browser per render.

The same 50 HTML pages (posters, tables, cards; some with CJK) are rendered three ways, in this
process, through `renderers.html.render` (page load, DOM manifest, screenshot):

- warm: one browser started once with its pages open (`warm_up()`, what a pool worker does);
- warm, forked job: the same, but each page in a child forked from this process, the way a pool
  job reaches the worker's browser over the inherited pipe;
- new browser per render: Chromium launched and closed for every page (what the one-shot sandbox
  child does, without its interpreter start).

Prints the median and 90th percentile ms per page and the speed-up of the warm paths.

    .venv/bin/python benchmarks/browser.py [--pages 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from renderers import html  # noqa: E402
from renderers._browser import HOST, chromium_path  # noqa: E402
from sandbox.wire import Job  # noqa: E402

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()
CJK = ["北京", "東京", "서울", "上海", "大阪"]


def page(n: int) -> str:
    kind = n % 3
    title = f"Report {n}: {WORDS[n % len(WORDS)]} {CJK[n % len(CJK)] if n % 4 == 0 else ''}"
    if kind == 0:
        cards = "".join(
            f'<div class="card"><h2>{WORDS[(n + i) % len(WORDS)].title()}</h2>'
            f"<p>{' '.join(WORDS[(n + i + j) % len(WORDS)] for j in range(18))}</p></div>"
            for i in range(6)
        )
        body = f'<h1>{title}</h1><div class="grid">{cards}</div>'
    elif kind == 1:
        rows = "".join(
            f"<tr><td>{WORDS[(n + r) % len(WORDS)]}</td><td>{(n * 37 + r * 11) % 1000}</td>"
            f"<td>{(n * 13 + r * 7) % 100}%</td></tr>"
            for r in range(14)
        )
        head = "<tr><th>name</th><th>value</th><th>share</th></tr>"
        body = f"<h1>{title}</h1><table>{head}{rows}</table>"
    else:
        body = (
            f'<div class="poster"><h1>{title}</h1><p class="big">'
            f"{' '.join(WORDS[(n + j) % len(WORDS)] for j in range(40))}</p>"
            f"<footer>{CJK[n % len(CJK)]} · {n}</footer></div>"
        )
    return (
        "<!DOCTYPE html><html><head><style>"
        "body{margin:24px;font-family:'DejaVu Sans',sans-serif;background:#f7f7fb}"
        ".grid{display:grid;grid-template-columns:repeat(3,1fr);gap:16px}"
        ".card{background:#fff;border:1px solid #ccd;border-radius:8px;padding:12px}"
        "table{border-collapse:collapse}td,th{border:1px solid #99a;padding:4px 12px}"
        ".poster{background:#123;color:#eef;padding:32px;height:600px}.big{font-size:28px}"
        f"</style></head><body>{body}</body></html>"
    )


def render(source: str, workdir: Path) -> None:
    job = Job(renderer="renderers.html:render", source=source, language="html")
    html.render(job, workdir)


def timed(pages: list[str], workdir: Path, how: str) -> list[float]:
    times = []
    for source in pages:
        t0 = time.perf_counter()
        if how == "forked":
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the forked job
                code = 1
                try:
                    render(source, workdir)
                    code = 0
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            if status != 0:
                raise SystemExit("a forked render failed")
        else:
            render(source, workdir)
            if how == "cold":
                HOST.close()
        times.append(1000 * (time.perf_counter() - t0))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50)
    args = parser.parse_args(argv)
    if chromium_path() is None:
        print("skipped: no Chromium here (Debian package chromium)")
        return 0
    pages = [page(n) for n in range(args.pages)]
    workdir = Path(tempfile.mkdtemp(prefix="browser-bench-"))
    (workdir / "out").mkdir()
    os.chdir(workdir / "out")
    html.warm_up()
    render(pages[0], workdir)  # the first page also loads fonts: not part of the comparison
    warm = timed(pages, workdir, "warm")
    forked = timed(pages, workdir, "forked")
    HOST.close()
    cold = timed(pages, workdir, "cold")
    print(f"{args.pages} HTML pages at 1024x768 (render + DOM manifest + screenshot), ms per page")
    header = f"{'how':<34}{'median':>8}{'p90':>8}{'speed-up':>10}"
    print(header)
    print("-" * len(header))
    base = statistics.median(cold)
    for label, times in (
        ("new browser per render", cold),
        ("warm browser, reused pages", warm),
        ("warm browser, forked job (pool)", forked),
    ):
        median = statistics.median(times)
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        print(f"{label:<34}{median:>8.0f}{p90:>8.0f}{base / median:>9.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
