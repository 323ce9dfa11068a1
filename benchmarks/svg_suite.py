"""SVG fidelity on the resvg test suite: cairosvg vs Chromium vs cocogen's automatic choice.

Renders every test of `../shared/corpora/resvg_test_suite` whose `results.csv` says Chrome passes,
through the SVG renderer's own code (`renderers.svg.draw_svg`: safety checks, cairo or Chromium,
manifest), in this process with one warm browser.  Each result and the suite's reference PNG are
composited on white and compared pixel by pixel: a test passes when at most 1% of its pixels
differ by more than 64 (of 255) in some channel.  Tests that reference the network are expected
to be refused and are counted apart.  'auto' is what the renderer does by default: cairo, or
Chromium when the SVG uses a feature cairo drops.

    .venv/bin/python benchmarks/svg_suite.py [--limit N] [--category filters] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SUITE = Path(os.environ.get("COCOGEN_CORPORA", ROOT.parent / "shared" / "corpora")) / (
    "resvg_test_suite"
)


def use_suite_fonts() -> None:
    """The text tests name the suite's own fonts (Noto Sans, ...): make fontconfig see them, for
    cairo in this process and for the Chromium it starts, before either loads fontconfig."""
    fonts = SUITE / "fonts"
    if not fonts.is_dir() or "FONTCONFIG_FILE" in os.environ:
        return
    conf_dir = Path(tempfile.mkdtemp(prefix="cocogen-svg-suite-fonts-"))
    (conf_dir / "fonts.conf").write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<include>/etc/fonts/fonts.conf</include><dir>{fonts}</dir>"
        f"<cachedir>{conf_dir / 'cache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    os.environ["FONTCONFIG_FILE"] = str(conf_dir / "fonts.conf")


use_suite_fonts()

from renderers._browser import HOST  # noqa: E402
from renderers.svg import draw_svg, needs_browser  # noqa: E402
from sandbox.wire import Job, RenderError  # noqa: E402

CHANNEL_TOLERANCE = 64
MAX_BAD_FRACTION = 0.01
PER_TEST_SECONDS = 20


class Timeout(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise Timeout


def on_white(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, image).convert("RGB")).astype(np.int16)


def compare(ours: bytes, reference: bytes) -> float:
    """Fraction of pixels that differ by more than the tolerance (1.0 when sizes differ)."""
    a, b = on_white(ours), on_white(reference)
    if a.shape != b.shape:
        return 1.0
    bad = np.abs(a - b).max(axis=2) > CHANNEL_TOLERANCE
    return float(bad.mean())


def render_one(svg_text: str, engine: str, workdir: Path, size: tuple[int, int]) -> bytes:
    job = Job(
        renderer="renderers.svg:render",
        source=svg_text,
        language="svg",
        width=size[0],
        height=size[1],
        options={"engine": engine},
    )
    output = draw_svg(svg_text, job, workdir)
    return Path(output.png_path).read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N tests")
    parser.add_argument("--category", default="", help="only this category (e.g. filters)")
    parser.add_argument("--csv", default="", help="write per-test results here")
    args = parser.parse_args(argv)
    if not (SUITE / "cases.json").exists():
        print(f"skipped: {SUITE} is absent (the shared corpora are not checked out)")
        return 0
    cases = [
        c
        for c in json.loads((SUITE / "cases.json").read_text())
        if c["renderer_results"]["chrome"] == 1
    ]
    if args.category:
        cases = [c for c in cases if c["category"] == args.category]
    if args.limit:
        cases = cases[: args.limit]
    workdir = Path(tempfile.mkdtemp(prefix="svg-suite-"))
    inputs = workdir / "inputs"
    inputs.mkdir()
    for resource in (SUITE / "resources").iterdir():
        if resource.is_file():
            shutil.copyfile(resource, inputs / resource.name)
    (workdir / "out").mkdir()
    os.chdir(workdir / "out")
    HOST.start("worker")
    signal.signal(signal.SIGALRM, _alarm)
    rows: list[dict[str, Any]] = []
    seconds: dict[str, float] = defaultdict(float)
    started = time.perf_counter()
    for n, case in enumerate(cases, 1):
        svg_text = (SUITE / case["svg"]).read_text(encoding="utf-8", errors="replace")
        reference = (SUITE / case["reference_png"]).read_bytes()
        ref_size = Image.open(io.BytesIO(reference)).size
        row: dict[str, Any] = {
            "svg": case["svg"],
            "category": case["category"],
            "text": bool(case["has_text"]),
            "network": bool(case["network_refs"]),
            "browser_feature": needs_browser(svg_text) or "",
        }
        for engine in ("cairo", "chromium"):
            t0 = time.perf_counter()
            signal.alarm(PER_TEST_SECONDS)
            try:
                png = render_one(svg_text, engine, workdir, (ref_size[0], ref_size[1]))
                diff = compare(png, reference)
                row[engine] = "pass" if diff <= MAX_BAD_FRACTION else "fail"
                row[f"{engine}_diff"] = round(diff, 4)
            except RenderError as exc:
                row[engine] = "refused" if exc.kind in ("refused", "limit") else "error"
                row[f"{engine}_diff"] = exc.message[:120]
            except Timeout:
                row[engine] = "error"
                row[f"{engine}_diff"] = "timeout"
            except Exception as exc:  # noqa: BLE001 - a crash of one test is a failed test
                row[engine] = "error"
                row[f"{engine}_diff"] = f"{type(exc).__name__}: {exc}"[:120]
            finally:
                signal.alarm(0)
            seconds[engine] += time.perf_counter() - t0
        # What the renderer does by default: Chromium for the features cairo drops, and for
        # SVG that cairosvg cannot parse at all (its error), cairo for the rest.
        use_browser = row["browser_feature"] or row["cairo"] == "error"
        row["auto"] = row["chromium"] if use_browser else row["cairo"]
        rows.append(row)
        if n % 200 == 0:
            print(f"... {n}/{len(cases)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    HOST.close()
    shutil.rmtree(workdir, ignore_errors=True)
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    report(rows, seconds)
    return 0


def _rate(rows: list[dict[str, Any]], engine: str) -> str:
    if not rows:
        return "-"
    passed = sum(1 for r in rows if r[engine] == "pass")
    return f"{passed}/{len(rows)} {100 * passed / len(rows):5.1f}%"


def report(rows: list[dict[str, Any]], seconds: dict[str, float]) -> None:
    print(
        f"resvg test suite, tests Chrome passes: {len(rows)}; pass = at most "
        f"{MAX_BAD_FRACTION:.0%} of pixels differ by more than {CHANNEL_TOLERANCE}/255 on white"
    )
    network = [r for r in rows if r["network"]]
    local = [r for r in rows if not r["network"]]
    header = (
        f"{'category':<16}{'text':<6}{'tests':>6}  {'cairosvg':>16}  {'chromium':>16}  {'auto':>16}"
    )
    print(header)
    print("-" * len(header))
    groups: dict[tuple[str, bool], list[dict[str, Any]]] = defaultdict(list)
    for row in local:
        groups[(row["category"], row["text"])].append(row)
    for (category, text), members in sorted(groups.items()):
        print(
            f"{category:<16}{'yes' if text else 'no':<6}{len(members):>6}  "
            f"{_rate(members, 'cairo'):>16}  {_rate(members, 'chromium'):>16}  "
            f"{_rate(members, 'auto'):>16}"
        )
    print("-" * len(header))
    for label, members in (
        ("all non-text", [r for r in local if not r["text"]]),
        ("all text", [r for r in local if r["text"]]),
        ("all", local),
    ):
        print(
            f"{label:<22}{len(members):>6}  {_rate(members, 'cairo'):>16}  "
            f"{_rate(members, 'chromium'):>16}  {_rate(members, 'auto'):>16}"
        )
    refused = sum(1 for r in network if r["cairo"] == "refused" and r["chromium"] == "refused")
    print(f"network references: {refused}/{len(network)} refused by both engines")
    for row in network:
        if not (row["cairo"] == "refused" and row["chromium"] == "refused"):
            # <a href>, namespace URIs: a URL that is never fetched needs no refusal.
            print(f"  drawn, nothing fetched (a link or namespace URL): {row['svg']}")
    errors = [r for r in local if r["auto"] == "error"]
    print(f"errors under 'auto': {len(errors)}")
    for row in errors[:10]:
        print(
            f"  {row['svg']}: "
            f"{row['cairo_diff'] if row['cairo'] == 'error' else row['chromium_diff']}"
        )
    sent = sum(1 for r in local if r["browser_feature"])
    print(f"'auto' sent {sent} of {len(local)} SVGs to Chromium")
    n = max(1, len(rows))
    print(
        f"time per SVG: cairosvg {1000 * seconds['cairo'] / n:.0f} ms, "
        f"chromium (warm) {1000 * seconds['chromium'] / n:.0f} ms"
    )


if __name__ == "__main__":
    raise SystemExit(main())
