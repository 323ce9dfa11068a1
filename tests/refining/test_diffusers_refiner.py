"""The diffusers refiner running real pipeline code on tiny random-weight models on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from refining.helpers import Draft

from cocogen.types import RefineOptions, Request
from refiners.base import ModelNotFound, RefineError
from refiners.mask import box_mask, decode_rgb

STEPS = {"steps": 4, "strength": 0.5}
"""Two denoising steps: enough to run every part of the pipeline, quick on one thread."""


@pytest.fixture(scope="module")
def refiner(torch_one_thread: Any) -> Any:
    from refiners.diffusers import DiffusersRefiner

    return DiffusersRefiner(device="cpu", threads=1)


def _mask(result: Any) -> np.ndarray:
    return decode_rgb(result.mask_png)[..., 0] > 127


def test_lock_keeps_text_and_strokes_byte_identical(
    refiner: Any, models: dict[str, Path], draft: Draft
) -> None:
    options = RefineOptions(model=str(models["sd"]), prompt="a watercolor chart", **STEPS)
    result = refiner.refine(draft.png, draft.manifest, Request(seed=3), options)
    before, after = decode_rgb(draft.png), decode_rgb(result.png)
    assert after.shape == before.shape
    mask = _mask(result)
    texts = box_mask(before.shape, [e.box for e in draft.manifest.texts()], margin=2)
    assert mask[texts].all(), "every text box (with its margin) is protected"
    assert np.array_equal(after[mask], before[mask]), "protected pixels are the draft's, exactly"
    assert result.stroke_pixels > 0
    # Random weights changed everything the lock left free.
    free = ~dilated(mask, 4)
    assert (after[free] != before[free]).any(axis=-1).mean() > 0.5
    assert result.changed and result.pipeline == "StableDiffusionImg2ImgPipeline"
    assert result.device == "cpu" and result.dtype == "float32" and result.seed == 3
    assert set(result.protected_element_ids) == {e.id for e in draft.manifest.texts()}
    assert {"mask_s", "load_s", "infer_s", "composite_s", "total_s"} <= set(result.timings)


def dilated(mask: np.ndarray, radius: int) -> np.ndarray:
    from refiners.mask import dilate

    return dilate(mask, radius)


def test_without_the_lock_random_weights_destroy_text_and_the_draft_is_kept(
    refiner: Any, models: dict[str, Path], draft: Draft
) -> None:
    from refiners.stage import refine_draft

    options = RefineOptions(model=str(models["sd"]), lock=False, **STEPS)
    outcome = refine_draft(refiner, draft.png, draft.manifest, Request(), options)
    assert outcome.result is not None and outcome.result.changed
    assert not _mask(outcome.result).any()
    assert not outcome.accepted
    assert outcome.final_png == draft.png
    record = outcome.record
    assert record["final"] == "draft" and record["accepted"] is False
    title = next(e for e in draft.manifest.texts() if e.text == "Sales 2024")
    assert title.id in record["damaged_texts"]
    assert any('"Sales 2024"' in reason for reason in record["reasons"]), record["reasons"]
    assert record["edge"]["f1"] < options.min_edge_f1


def test_saved_and_loaded_pipeline_matches_the_one_in_memory(
    models: dict[str, Path], draft: Draft, torch_one_thread: Any
) -> None:
    from refiners.diffusers import DiffusersRefiner
    from refiners.random_pipelines import tiny

    options = RefineOptions(prompt="paper texture", **STEPS)
    in_memory = DiffusersRefiner(device="cpu", threads=1, pipeline=tiny("sd"))
    a = in_memory.refine(draft.png, draft.manifest, Request(), options)
    from_disk = DiffusersRefiner(device="cpu", threads=1)
    b = from_disk.refine(
        draft.png,
        draft.manifest,
        Request(),
        options.model_copy(update={"model": str(models["sd"])}),
    )
    pa, pb = decode_rgb(a.png).astype(int), decode_rgb(b.png).astype(int)
    assert np.abs(pa - pb).max() <= 1
    assert a.mask_png == b.mask_png


def test_same_seed_same_bytes_other_seed_other_bytes(
    refiner: Any, models: dict[str, Path], draft: Draft
) -> None:
    options = RefineOptions(model=str(models["sd"]), seed=11, **STEPS)
    first = refiner.refine(draft.png, draft.manifest, Request(), options)
    again = refiner.refine(draft.png, draft.manifest, Request(), options)
    other = refiner.refine(
        draft.png, draft.manifest, Request(), options.model_copy(update={"seed": 12})
    )
    assert first.png == again.png
    assert first.png != other.png
    # The request's seed is used when the options name none.
    by_request = refiner.refine(
        draft.png, draft.manifest, Request(seed=11), options.model_copy(update={"seed": None})
    )
    assert by_request.png == first.png


@pytest.mark.parametrize(
    ("model", "controlnet", "control", "pipeline"),
    [
        ("controlnet", None, "canny", "StableDiffusionControlNetImg2ImgPipeline"),
        ("sd", "controlnet-only", "lineart", "StableDiffusionControlNetImg2ImgPipeline"),
        ("sdxl", None, "canny", "StableDiffusionXLImg2ImgPipeline"),
        ("inpaint", None, "canny", "StableDiffusionInpaintPipeline"),
    ],
)
def test_other_pipeline_kinds_run_under_the_lock(
    refiner: Any,
    models: dict[str, Path],
    draft: Draft,
    model: str,
    controlnet: str | None,
    control: str,
    pipeline: str,
) -> None:
    options = RefineOptions(
        model=str(models[model]),
        controlnet=str(models[controlnet]) if controlnet else None,
        control=control,  # type: ignore[arg-type]
        **STEPS,
    )
    result = refiner.refine(draft.png, draft.manifest, Request(), options)
    assert result.pipeline == pipeline
    before, after = decode_rgb(draft.png), decode_rgb(result.png)
    mask = _mask(result)
    assert np.array_equal(after[mask], before[mask])
    assert result.changed


def test_regions_get_their_own_pass(refiner: Any, models: dict[str, Path], draft: Draft) -> None:
    bar = next(e for e in draft.manifest.elements if e.role == "shape" and e.kind == "bar")
    options = RefineOptions(
        model=str(models["sd"]), regions={bar.id: "a wooden bar"}, feather_px=2, **STEPS
    )
    result = refiner.refine(draft.png, draft.manifest, Request(), options)
    # No background prompt was given, so only the bar's region changed (plus its feather).
    assert result.regions == [bar.id]
    before, after = decode_rgb(draft.png), decode_rgb(result.png)
    changed = (after != before).any(axis=-1)
    assert changed[box_mask(before.shape, [bar.box])].any()
    assert not changed[~box_mask(before.shape, [bar.box], margin=3)].any()
    both = options.model_copy(update={"regions": {"background": "paper", bar.id: "wood"}})
    assert refiner.refine(draft.png, draft.manifest, Request(), both).regions == [
        "background",
        bar.id,
    ]
    with pytest.raises(RefineError, match="region 'nope' is not an element of the manifest"):
        refiner.refine(
            draft.png,
            draft.manifest,
            Request(),
            options.model_copy(update={"regions": {"nope": "x"}}),
        )


def test_batch_refines_each_draft(refiner: Any, models: dict[str, Path], draft: Draft) -> None:
    options = RefineOptions(model=str(models["sd"]), **STEPS)
    items = [
        (draft.png, draft.manifest, Request(seed=1)),
        (draft.png, draft.manifest, Request(seed=2)),
    ]
    results = refiner.refine_batch(items, options)
    assert len(results) == 2 and results[0].png != results[1].png
    for result in results:
        mask = _mask(result)
        assert np.array_equal(decode_rgb(result.png)[mask], decode_rgb(draft.png)[mask])


def test_missing_models_and_bad_options_are_clear_errors(
    refiner: Any, models: dict[str, Path], draft: Draft, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFound, match=f"no directory {missing}"):
        refiner.validate(RefineOptions(model=str(missing)))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFound, match=f"{empty} has no model_index.json"):
        refiner.refine(draft.png, draft.manifest, Request(), RefineOptions(model=str(empty)))
    with pytest.raises(ModelNotFound, match=r"not in the Hugging Face cache .*downloads are off"):
        refiner.validate(RefineOptions(model="cocogen-tests/not-cached"))
    with pytest.raises(RefineError, match="runs no denoising step"):
        refiner.validate(RefineOptions(model=str(models["sd"]), strength=0.04, steps=20))
    with pytest.raises(RefineError, match="ControlNet img2img works with"):
        refiner.refine(
            draft.png,
            draft.manifest,
            Request(),
            RefineOptions(model=str(models["inpaint"]), controlnet=str(models["controlnet-only"])),
        )


@pytest.mark.gpu
def test_cuda_half_precision_keeps_the_lock(models: dict[str, Path], draft: Draft) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from refiners.diffusers import DiffusersRefiner

    refiner = DiffusersRefiner(device="cuda")
    result = refiner.refine(
        draft.png, draft.manifest, Request(), RefineOptions(model=str(models["sd"]), **STEPS)
    )
    assert result.dtype == "float16" and "channels-last" in result.notes
    mask = _mask(result)
    assert np.array_equal(decode_rgb(result.png)[mask], decode_rgb(draft.png)[mask])
