"""The refine stage as the pipeline and the CLI run it: refine, verify, keep the draft if needed.

`refine_draft()` returns the image to deliver — the refined one only when `refiners.verify`
accepts it — and a plain dict for `RunRecord.refine` saying what ran, what was protected and,
when the draft was kept, why.  A refiner that fails at run time (a CUDA out-of-memory, a broken
model file) does not lose the run: the verified draft is delivered and the record names the
error.  Bad options and missing models are the user's to fix and raise `RefineError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cocogen.checking import CheckSettings
from cocogen.errors import CocogenError
from cocogen.types import CheckReport, Commitments, LayoutManifest, RefineOptions, Request
from refiners.base import Refiner, RefineResult

REFINE_DIR = "refine"


@dataclass
class RefineOutcome:
    final_png: bytes
    accepted: bool
    record: dict[str, Any]
    result: RefineResult | None = None
    report: CheckReport | None = None
    """The checker's report on the refined image (None when the refiner failed)."""
    files: dict[str, str] = field(default_factory=dict)


def refiner_for(options: RefineOptions, refiner: Refiner | None = None) -> Refiner:
    """The given refiner, else `diffusers` when a model is named, else `none` (by entry point)."""
    if refiner is not None:
        return refiner
    from cocogen.registry import load_refiner

    name = "diffusers" if options.model or options.controlnet else "none"
    loaded: Refiner = load_refiner(name)
    return loaded


def validate(refiner: Refiner, options: RefineOptions) -> None:
    """Let the refiner refuse bad options or a missing model before anything is rendered."""
    check = getattr(refiner, "validate", None)
    if callable(check):
        check(options)


def refine_draft(
    refiner: Refiner,
    png: bytes,
    manifest: LayoutManifest,
    request: Request,
    options: RefineOptions,
    *,
    commitments: Commitments | None = None,
    draft_report: CheckReport | None = None,
    settings: CheckSettings | None = None,
) -> RefineOutcome:
    """Refine one draft and verify the result; the draft is delivered unless it is accepted."""
    from refiners.mask import decode_rgb
    from refiners.verify import verify

    started = time.perf_counter()
    record: dict[str, Any] = {
        "refiner": refiner.name,
        "options": options.model_dump(mode="json"),
        "accepted": False,
        "final": "draft",
    }
    try:
        result = refiner.refine(png, manifest, request, options)
    except CocogenError:
        raise
    except Exception as exc:  # noqa: BLE001 - a refiner crash must not lose a verified draft
        record["error"] = f"{type(exc).__name__}: {exc}"[:500]
        record["reasons"] = [f"the refiner failed ({record['error']}); kept the draft"]
        record["timings"] = {"refine_s": round(time.perf_counter() - started, 4)}
        return RefineOutcome(final_png=png, accepted=False, record=record)
    record.update(
        {
            "model": result.model,
            "pipeline": result.pipeline,
            "device": result.device,
            "dtype": result.dtype,
            "seed": result.seed,
            "regions": result.regions,
            "protected_element_ids": result.protected_element_ids,
            "stroke_pixels": result.stroke_pixels,
            "notes": result.notes,
            "timings": dict(result.timings),
        }
    )
    if not result.changed:
        record.update(
            accepted=True, final="draft", reasons=["the refiner left the draft as it was"]
        )
        return RefineOutcome(final_png=png, accepted=True, record=record, result=result)
    t0 = time.perf_counter()
    mask = decode_rgb(result.mask_png, "mask")[..., 0] > 127 if result.mask_png else None
    free = [
        e.box
        for name in result.regions
        if (e := manifest.by_id(name)) is not None and e.role == "image"
    ]
    verdict = verify(
        png,
        result.png,
        manifest,
        mask,
        options,
        commitments=commitments,
        draft_report=draft_report,
        settings=settings,
        free_boxes=free,
    )
    record["timings"]["verify_s"] = round(time.perf_counter() - t0, 4)
    record.update(
        {
            "accepted": verdict.accepted,
            "final": "refined" if verdict.accepted else "draft",
            "reasons": verdict.reasons,
            "edge": verdict.edge.model_dump(),
            "text_similarity_min": min(verdict.text_similarity.values(), default=1.0),
            "damaged_texts": verdict.damaged_texts,
            "new_errors": verdict.new_errors,
            "lost_commitments": verdict.lost_commitments,
        }
    )
    return RefineOutcome(
        final_png=result.png if verdict.accepted else png,
        accepted=verdict.accepted,
        record=record,
        result=result,
        report=verdict.report,
    )


def write_files(outcome: RefineOutcome, write: Callable[[str, bytes | str], str]) -> None:
    """Put the refined image, its mask and its check report into the run dir (`refine/`)."""
    from cocogen.record import dump

    files: dict[str, str] = {}
    if outcome.result is not None:
        files["refined"] = write(f"{REFINE_DIR}/refined.png", outcome.result.png)
        if outcome.result.mask_png is not None:
            files["mask"] = write(f"{REFINE_DIR}/mask.png", outcome.result.mask_png)
    if outcome.report is not None:
        files["check"] = write(f"{REFINE_DIR}/check.json", dump(outcome.report))
    outcome.files = files
    outcome.record["files"] = files
