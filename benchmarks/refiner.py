"""Refiner speed: a stock diffusers img2img call in float32 vs cocogen's refiner defaults.

On a CUDA GPU: an SDXL-base-sized pipeline (2.6 B-parameter UNet, SDXL VAE, both CLIP text
encoders) built from its config with random weights — the cost of a forward pass does not depend
on the weights — refines a 1024×1024 draft at strength 0.4 with 30 steps (12 denoising steps):
1. stock: `StableDiffusionXLImg2ImgPipeline(...)` in float32, called directly;
2. cocogen: `DiffusersRefiner.refine()` with its defaults (float16, SDPA attention, channels-last)
   — end to end, structure lock, compositing and PNG encoding included;
3. cocogen + `torch.compile` of the UNet (compile time reported apart).

Without a CUDA device it says so and times the tiny random-weight pipeline on the CPU instead
(stock call with torch's default threads vs the refiner with its bounded threads): those numbers
are about cocogen's overhead around a model, not about GPU speed.

    .venv/bin/python benchmarks/refiner.py [--size PX] [--steps N] [--strength S]
        [--repeats N] [--sdxl | --tiny] [--no-compile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cocogen.types import Canvas, LayoutManifest, Program, RefineOptions, Request  # noqa: E402

CHART = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["North", "South", "East", "West"], [120, 95, 143, 80], color="#4477aa")
ax.set_title("Revenue by region, 2024", fontsize=22)
ax.set_ylabel("revenue (k$)", fontsize=16)
ax.tick_params(labelsize=14)
ax.grid(True, axis="y")
fig.savefig("out.png")
"""
PROMPT = "a hand-drawn watercolor infographic on textured paper, soft light"


def render_draft(size: int) -> tuple[bytes, LayoutManifest]:
    from cocogen.rendering import render_program

    request = Request(canvas=Canvas(width=size, height=size, dpi=max(10, size // 8)))
    draft, _ = render_program(Program(language="matplotlib", source=CHART), request)
    if not draft.ok or draft.png is None or draft.manifest is None:
        raise SystemExit(f"the draft did not render: {draft.failure}")
    return draft.png, draft.manifest


def timed(calls: list[Callable[[], Any]], repeats: int, cuda: bool) -> list[float]:
    """Median seconds of each call; the calls take turns, so a busy machine slows all alike."""
    import torch

    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for index, call in enumerate(calls):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            call()
            if cuda:
                torch.cuda.synchronize()
            times[index].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=None, help="draft side in px")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--strength", type=float, default=0.4)
    parser.add_argument("--repeats", type=int, default=3)
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--sdxl", action="store_true", help="SDXL-sized model even on the CPU")
    kind.add_argument("--tiny", action="store_true", help="tiny model even on a GPU")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    args = parser.parse_args(argv)

    import diffusers
    import torch
    from PIL import Image

    from refiners.diffusers import DiffusersRefiner
    from refiners.mask import decode_rgb
    from refiners.random_pipelines import sdxl_sized, tiny

    cuda = torch.cuda.is_available()
    use_sdxl = args.sdxl or (cuda and not args.tiny)
    size = args.size or (1024 if use_sdxl else 256)
    device = "cuda" if cuda else "cpu"
    if cuda:
        where = f"CUDA: {torch.cuda.get_device_name(0)}"
    else:
        where = "no CUDA device: running on the CPU"
        if not use_sdxl:
            where += (
                " with the tiny random-weight pipeline (UNet block_out_channels=(32, 64)); these "
                "numbers time cocogen's work around a model, not GPU speed"
            )
    model_name = "SDXL-sized (random weights)" if use_sdxl else "tiny SD (random weights)"
    print(where)
    print(
        f"model: {model_name}; {size}×{size} img2img, strength {args.strength}, "
        f"{args.steps} steps ({int(args.steps * args.strength)} denoising), "
        f"median of {args.repeats}; torch {torch.__version__}, diffusers {diffusers.__version__}"
    )
    png, manifest = render_draft(size)
    image = Image.fromarray(decode_rgb(png))
    options = RefineOptions(
        prompt=PROMPT, strength=args.strength, steps=args.steps, guidance=6.0, seed=0
    )
    request = Request(prompt=PROMPT)
    rows: list[tuple[str, str, float, str]] = []

    t0 = time.perf_counter()
    pipe = sdxl_sized(device=device) if use_sdxl else tiny("sd").to(device)
    pipe.set_progress_bar_config(disable=True)
    print(f"built the pipeline in {time.perf_counter() - t0:.1f} s")
    threads = torch.get_num_threads()

    def stock() -> Any:
        if not cuda:  # the refiner bounds torch's threads process-wide; stock gets the default
            torch.set_num_threads(threads)
        return pipe(
            prompt=PROMPT,
            image=image,
            strength=args.strength,
            num_inference_steps=args.steps,
            guidance_scale=6.0,
            generator=torch.Generator("cpu").manual_seed(0),
        ).images[0]

    note = "torch default" + ("" if cuda else f", torch threads: {threads}")
    if cuda:
        # Stock first, in float32; then the refiner takes the same pipeline to half precision.
        stock()  # warm-up
        (stock_s,) = timed([stock], args.repeats, cuda)
        ours = DiffusersRefiner(device=device, pipeline=pipe)
    else:
        # Same float32 weights on the CPU: one pipeline serves both, calls taking turns.
        ours = DiffusersRefiner(device=device, pipeline=pipe)
        stock()  # warm-up
    plan = ours.plan
    ours.refine(png, manifest, request, options)  # warm-up

    def refine() -> Any:
        return ours.refine(png, manifest, request, options)

    if cuda:
        (ours_s,) = timed([refine], args.repeats, cuda)
    else:
        stock_s, ours_s = timed([stock, refine], args.repeats, cuda)
    rows.append(("stock diffusers call", "float32", stock_s, note))
    detail = "lock + composite + PNG" + ("" if cuda else f", torch threads: {plan.threads}")
    rows.append(("cocogen refine()", plan.dtype, ours_s, detail))

    if cuda and not args.no_compile:
        compiled = DiffusersRefiner(device=device, pipeline=pipe, compile=True)
        t0 = time.perf_counter()
        compiled.refine(png, manifest, request, options)  # compiles
        compile_s = time.perf_counter() - t0
        (compiled_s,) = timed(
            [lambda: compiled.refine(png, manifest, request, options)], args.repeats, cuda
        )
        rows.append(
            (
                "cocogen refine() + torch.compile",
                plan.dtype,
                compiled_s,
                f"first call {compile_s:.0f} s",
            )
        )
    if cuda:
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")

    base = rows[0][2]
    print()
    print(f"| {'variant':<34} | {'precision':<9} | {'s / image':>9} | {'speed-up':>8} | notes")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 11}|{'-' * 10}|------")
    for name, precision, seconds, notes in rows:
        print(
            f"| {name:<34} | {precision:<9} | {seconds:>9.3f} | {base / seconds:>7.2f}× | {notes}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
