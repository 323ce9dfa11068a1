"""The `diffusers` refiner: img2img (or ControlNet img2img, or inpainting) under a structure lock.

Steps for one draft:
1. The protect mask (`refiners.mask`): text boxes from the manifest plus thin strokes from the
   pixels, grown by `options.margin_px`.
2. Passes: the whole canvas ('background') with the main prompt, then every region of
   `options.regions` (an element id → its own prompt) cropped with some context, refined alone
   and pasted back with a feathered edge.  Images are padded to a multiple of 8 (never resized),
   so every output pixel stays where the draft had it.
3. The draft's exact pixels are pasted back inside the mask, feathered outside it.

Inpainting pipelines are told to paint outside the mask only; ControlNet pipelines get a control
image made from the draft (Canny edges, or 'lineart': the draft's thin strokes).  Loaded
pipelines are kept for the next call with the same model.  torch/diffusers load lazily.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cocogen.types import Box, LayoutManifest, RefineOptions, Request
from refiners.base import RefineError, RefineResult
from refiners.devices import DevicePlan, apply_threads, optimize, plan_device, torch_dtype
from refiners.loading import Loaded, Mode
from refiners.mask import (
    composite,
    decode_rgb,
    encode_png,
    feather_alpha,
    protect_mask,
    stroke_mask,
)

log = logging.getLogger("cocogen.refiners")

BACKGROUND = "background"
CONTEXT_PX = 16
"""Context around a region's box that its pass sees (and blends into)."""
MULTIPLE = 8


@dataclass
class _Pass:
    name: str
    box: tuple[int, int, int, int]
    """Integer (x0, y0, x1, y1) of what is replaced."""
    crop: tuple[int, int, int, int]
    """What the model sees: the box plus context."""
    prompt: str


def _int_box(box: Box, width: int, height: int, pad: int = 0) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return (
        max(0, int(np.floor(x0)) - pad),
        max(0, int(np.floor(y0)) - pad),
        min(width, int(np.ceil(x1)) + pad),
        min(height, int(np.ceil(y1)) + pad),
    )


def _pad_to_multiple(rgb: np.ndarray, multiple: int = MULTIPLE) -> np.ndarray:
    height, width = rgb.shape[:2]
    extra_h, extra_w = (-height) % multiple, (-width) % multiple
    if not extra_h and not extra_w:
        return rgb
    pads = [(0, extra_h), (0, extra_w)] + [(0, 0)] * (rgb.ndim - 2)
    return np.pad(rgb, pads, mode="edge")


def control_image(rgb: np.ndarray, kind: str) -> np.ndarray:
    """The ControlNet condition from the draft: white edges on black, RGB uint8."""
    if kind == "lineart":
        lines = stroke_mask(rgb)
    else:
        from refiners.structure import canny

        lines = canny(rgb)
    gray = np.where(lines, 255, 0).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def check_options(options: RefineOptions) -> None:
    """Options that would make diffusers fail half-way, refused up front."""
    if options.strength > 0 and int(options.steps * options.strength) < 1:
        raise RefineError(
            f"strength {options.strength} with {options.steps} steps runs no denoising step "
            "(img2img runs steps × strength of them): raise the strength or the steps"
        )


class DiffusersRefiner:
    """Refines drafts with a local diffusers pipeline; see the module docstring."""

    name = "diffusers"

    def __init__(
        self,
        *,
        device: str = "auto",
        dtype: str = "auto",
        threads: int | None = None,
        compile: bool = False,
        channels_last: bool | None = None,
        allow_download: bool = False,
        pipeline: Any = None,
    ) -> None:
        """`pipeline`: an already built img2img pipeline, used when the options name no model."""
        self.device = device
        self.dtype = dtype
        self.threads = threads
        self.compile = compile
        self.channels_last = channels_last
        self.allow_download = allow_download
        self._plan: DevicePlan | None = None
        self._loaded: Loaded | None = None
        self._optimized: list[str] = []
        self._warned = False
        if pipeline is not None:
            self._loaded = Loaded(
                pipe=pipeline,
                pipeline=type(pipeline).__name__,
                mode=_mode_of(pipeline),
                model="<in memory>",
            )
            self._optimized = optimize(
                pipeline, self.plan, channels_last=channels_last, compile_unet=compile
            )
        self._given = self._loaded

    # -- setup ------------------------------------------------------------------------------------

    @property
    def plan(self) -> DevicePlan:
        if self._plan is None:
            self._plan = plan_device(self.device, self.dtype, self.threads)
            for note in self._plan.notes:
                log.warning(note)
        return self._plan

    def validate(self, options: RefineOptions) -> None:
        """Fail early (before any rendering) when the model cannot be found."""
        from refiners.loading import resolve

        check_options(options)
        if options.model is None and self._given is None:
            raise RefineError("no refiner model given: pass a diffusers directory (--refine PATH)")
        if options.model is not None:
            resolve(options.model, allow_download=self.allow_download)
        if options.controlnet is not None:
            resolve(
                options.controlnet, index_file="config.json", allow_download=self.allow_download
            )

    def load(self, options: RefineOptions) -> Loaded:
        """The pipeline for `options` (loaded once, then kept while the model stays the same)."""
        from refiners.loading import load

        if options.model is None:
            if self._given is None:
                raise RefineError("no refiner model given: pass a diffusers directory or model id")
            return self._given
        current = self._loaded
        if (
            current is not None
            and current.model == options.model
            and current.controlnet == options.controlnet
        ):
            return current
        self._loaded = None  # let the old pipeline go before the new one loads
        plan = self.plan
        loaded = load(
            options.model,
            torch_dtype=torch_dtype(plan.dtype),
            controlnet=options.controlnet,
            allow_download=self.allow_download,
        )
        self._optimized = optimize(
            loaded.pipe, plan, channels_last=self.channels_last, compile_unet=self.compile
        )
        self._loaded = loaded
        return loaded

    # -- refining ---------------------------------------------------------------------------------

    def refine(
        self, image: bytes, manifest: LayoutManifest, request: Request, options: RefineOptions
    ) -> RefineResult:
        return self.refine_batch([(image, manifest, request)], options)[0]

    def refine_batch(
        self, items: Sequence[tuple[bytes, LayoutManifest, Request]], options: RefineOptions
    ) -> list[RefineResult]:
        """Refine several drafts; drafts of one size without regions share pipeline calls."""
        started = time.perf_counter()
        check_options(options)
        prepared = [
            self._prepare(png, manifest, request, options) for png, manifest, request in items
        ]
        t_load = time.perf_counter()
        loaded = self.load(options)
        load_s = time.perf_counter() - t_load
        apply_threads(self.plan)
        # Group whole-canvas passes of same-sized drafts into batched calls.
        groups: dict[tuple[int, int], list[int]] = {}
        for index, item in enumerate(prepared):
            if len(item.passes) == 1 and item.passes[0].name == BACKGROUND:
                groups.setdefault(item.rgb.shape[:2], []).append(index)
        done: set[int] = set()
        for indices in groups.values():
            t0 = time.perf_counter()
            outs = self._run(
                loaded,
                [prepared[i].rgb for i in indices],
                [prepared[i].passes[0].prompt for i in indices],
                [prepared[i].seed for i in indices],
                [prepared[i].mask for i in indices],
                options,
            )
            per_item = (time.perf_counter() - t0) / len(indices)
            for i, out in zip(indices, outs, strict=True):
                prepared[i].working = out
                prepared[i].timings["infer_s"] = per_item
                done.add(i)
        for index, item in enumerate(prepared):
            if index not in done:
                t0 = time.perf_counter()
                self._run_passes(loaded, item, options)
                item.timings["infer_s"] = time.perf_counter() - t0
        results = []
        for item in prepared:
            t0 = time.perf_counter()
            alpha = feather_alpha(item.mask, options.feather_px)
            final = composite(item.rgb, item.working, alpha)
            item.timings["composite_s"] = time.perf_counter() - t0
            item.timings["load_s"] = load_s / len(prepared)
            item.timings["total_s"] = (time.perf_counter() - started) / len(prepared)
            results.append(
                RefineResult(
                    png=encode_png(final),
                    mask_png=encode_png(item.mask),
                    protected_element_ids=item.protected_ids,
                    stroke_pixels=item.stroke_pixels,
                    regions=[p.name for p in item.passes],
                    timings={k: round(v, 4) for k, v in item.timings.items()},
                    changed=bool((final != item.rgb).any()),
                    refiner=self.name,
                    model=options.model or loaded.model,
                    pipeline=loaded.pipeline,
                    device=self.plan.device,
                    dtype=self.plan.dtype,
                    seed=item.seed,
                    notes=[*self.plan.notes, *self._optimized],
                )
            )
        return results

    def _prepare(
        self, png: bytes, manifest: LayoutManifest, request: Request, options: RefineOptions
    ) -> _Item:
        t0 = time.perf_counter()
        rgb = decode_rgb(png, "draft")
        height, width = rgb.shape[:2]
        passes = self._passes(manifest, request, options, width, height)
        free = [
            e.box for p in passes if (e := manifest.by_id(p.name)) is not None and e.role == "image"
        ]
        if options.lock:
            protect = protect_mask(rgb, manifest, options.margin_px, free_boxes=free)
        else:
            from refiners.mask import ProtectMask, check_fits

            check_fits(rgb, manifest)
            protect = ProtectMask(np.zeros((height, width), dtype=bool), [], 0)
        seed = options.seed if options.seed is not None else request.seed
        return _Item(
            rgb=rgb,
            working=rgb.copy(),
            mask=protect.mask,
            protected_ids=protect.element_ids,
            stroke_pixels=protect.stroke_pixels,
            passes=passes,
            seed=seed,
            timings={"mask_s": time.perf_counter() - t0},
        )

    @staticmethod
    def _passes(
        manifest: LayoutManifest, request: Request, options: RefineOptions, width: int, height: int
    ) -> list[_Pass]:
        whole = (0, 0, width, height)
        regions = dict(options.regions)
        background = regions.pop(BACKGROUND, None) or options.prompt
        if background is None and not regions:
            background = request.prompt
        passes: list[_Pass] = []
        if background is not None:
            passes.append(_Pass(BACKGROUND, whole, whole, background))
        for element_id, prompt in regions.items():
            element = manifest.by_id(element_id)
            if element is None:
                known = ", ".join(e.id for e in manifest.elements if not e.is_text)[:300]
                raise RefineError(
                    f"region {element_id!r} is not an element of the manifest "
                    f"(use 'background' or one of: {known or 'none'})"
                )
            box = _int_box(element.box, width, height)
            if box[2] - box[0] < 8 or box[3] - box[1] < 8:
                raise RefineError(f"region {element_id!r} is too small to refine: {element.box}")
            passes.append(
                _Pass(element_id, box, _int_box(element.box, width, height, CONTEXT_PX), prompt)
            )
        return passes

    def _run_passes(self, loaded: Loaded, item: _Item, options: RefineOptions) -> None:
        height, width = item.rgb.shape[:2]
        for number, step in enumerate(item.passes):
            x0, y0, x1, y1 = step.crop
            crop = item.working[y0:y1, x0:x1]
            out = self._run(
                loaded,
                [crop],
                [step.prompt],
                [item.seed + number],
                [item.mask[y0:y1, x0:x1]],
                options,
            )[0]
            if step.crop == (0, 0, width, height):
                item.working = out
                continue
            inside = np.zeros((height, width), dtype=bool)
            bx0, by0, bx1, by1 = step.box
            inside[by0:by1, bx0:bx1] = True
            alpha = feather_alpha(inside, min(options.feather_px, CONTEXT_PX))[y0:y1, x0:x1]
            item.working[y0:y1, x0:x1] = composite(out, crop, alpha)

    def _run(
        self,
        loaded: Loaded,
        images: list[np.ndarray],
        prompts: list[str],
        seeds: list[int],
        masks: list[np.ndarray],
        options: RefineOptions,
    ) -> list[np.ndarray]:
        """One pipeline call over same-sized images; outputs have the inputs' sizes."""
        import torch
        from PIL import Image

        height, width = images[0].shape[:2]
        if options.strength <= 0:
            return [img.copy() for img in images]
        padded = [_pad_to_multiple(img) for img in images]
        ph, pw = padded[0].shape[:2]
        kwargs: dict[str, Any] = {
            "prompt": prompts,
            "image": [Image.fromarray(p) for p in padded],
            "strength": options.strength,
            "num_inference_steps": options.steps,
            "guidance_scale": options.guidance,
            "generator": [torch.Generator("cpu").manual_seed(s) for s in seeds],
            "output_type": "np",
        }
        if options.negative_prompt:
            kwargs["negative_prompt"] = [options.negative_prompt] * len(prompts)
        if loaded.mode == "controlnet":
            kwargs["control_image"] = [
                Image.fromarray(control_image(p, options.control)) for p in padded
            ]
        elif loaded.mode == "inpaint":
            # White = repaint: everything outside the protect mask.
            kwargs["mask_image"] = [
                Image.fromarray(np.where(_pad_to_multiple(m), 0, 255).astype(np.uint8))
                for m in masks
            ]
            kwargs["height"], kwargs["width"] = ph, pw
        with torch.inference_mode():
            output = loaded.pipe(**kwargs)
        frames = np.asarray(output.images)
        if frames.shape[1:3] != (ph, pw):
            raise RefineError(
                f"the pipeline returned {frames.shape[2]}×{frames.shape[1]} for a {pw}×{ph} input"
            )
        rgb = np.clip(np.rint(np.nan_to_num(frames) * 255), 0, 255).astype(np.uint8)
        return [frame[:height, :width, :3].copy() for frame in rgb]


@dataclass
class _Item:
    rgb: np.ndarray
    working: np.ndarray
    mask: np.ndarray
    protected_ids: list[str]
    stroke_pixels: int
    passes: list[_Pass]
    seed: int
    timings: dict[str, float]


def _mode_of(pipe: Any) -> Mode:
    name = type(pipe).__name__
    if "ControlNet" in name:
        return "controlnet"
    if "Inpaint" in name:
        return "inpaint"
    return "img2img"
