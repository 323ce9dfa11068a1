"""The structure lock's mask and compositing, on a real rendered chart."""

from __future__ import annotations

import numpy as np
import pytest
from refining.helpers import Draft

from cocogen.types import Element
from refiners.base import RefineError
from refiners.mask import (
    box_mask,
    composite,
    decode_rgb,
    feather_alpha,
    protect_mask,
    stroke_mask,
)


def test_text_boxes_with_margin_are_protected(draft: Draft) -> None:
    rgb = decode_rgb(draft.png)
    texts = draft.manifest.texts()
    assert {e.text for e in texts} >= {"Sales 2024", "A", "B", "C"}
    result = protect_mask(rgb, draft.manifest, margin_px=3, strokes=False)
    assert result.element_ids == [e.id for e in texts]
    for element in texts:
        grown = box_mask(rgb.shape, [element.box], margin=3)
        assert result.mask[grown].all(), element.id
    # Nothing but the grown text boxes when strokes are off.
    assert not (result.mask & ~box_mask(rgb.shape, [e.box for e in texts], margin=3)).any()


def test_thin_strokes_are_found_and_filled_shapes_left_free(draft: Draft) -> None:
    rgb = decode_rgb(draft.png)
    strokes = stroke_mask(rgb)
    axes = next(e for e in draft.manifest.elements if e.role == "axes")
    x0, y0, _x1, y1 = (round(v) for v in axes.box)
    # The left spine of the axes is a thin dark line: most of its pixels are strokes.
    spine = strokes[y0 + 2 : y1 - 2, max(0, x0 - 1) : x0 + 2].any(axis=1)
    assert spine.mean() > 0.9
    # The middle of the tallest bar is flat colour: not a stroke, so left to the refiner.
    bars = [e for e in draft.manifest.elements if e.role == "shape" and e.kind == "bar"]
    tallest = min(bars, key=lambda e: e.box[1])
    bx0, by0, bx1, by1 = (round(v) for v in tallest.box)
    inner = strokes[by0 + 6 : by1 - 6, bx0 + 6 : bx1 - 6]
    assert inner.size > 0
    # A grid line crosses the bar (drawn below it, hidden), so the bar's inside is stroke-free.
    assert inner.mean() < 0.05
    locked = protect_mask(rgb, draft.manifest, margin_px=2)
    assert locked.stroke_pixels > 0
    assert 0.05 < locked.mask.mean() < 0.9


def test_image_elements_are_free_of_stroke_protection(draft: Draft) -> None:
    rgb = decode_rgb(draft.png)
    axes = next(e for e in draft.manifest.elements if e.role == "axes")
    placeholder = Element(id="photo", role="image", box=axes.box)
    manifest = draft.manifest.model_copy(
        update={"elements": [*draft.manifest.elements, placeholder]}
    )
    plain = protect_mask(rgb, draft.manifest, margin_px=0)
    freed = protect_mask(rgb, manifest, margin_px=0)
    inside = box_mask(rgb.shape, [axes.box])
    texts = box_mask(rgb.shape, [e.box for e in draft.manifest.texts()])
    assert (plain.mask & inside & ~texts).sum() > 50
    assert not (freed.mask & inside & ~texts).any()


def test_manifest_of_another_size_is_refused(draft: Draft) -> None:
    rgb = decode_rgb(draft.png)
    other = draft.manifest.model_copy(update={"width": draft.manifest.width + 10})
    with pytest.raises(RefineError, match=r"202×128 image but the image is 192×128"):
        protect_mask(rgb, other, margin_px=2)


def test_composite_is_exact_inside_and_feathered_outside() -> None:
    rng = np.random.default_rng(3)
    draft = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    refined = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    mask = np.zeros((40, 60), dtype=bool)
    mask[10:20, 10:30] = True
    alpha = feather_alpha(mask, 3)
    assert (alpha[mask] == 255).all()
    # A ramp that falls with the distance from the mask, then nothing.
    row = alpha[15, 30:36].tolist()
    assert row == sorted(row, reverse=True) and row[0] < 255 and row[3] == 0
    out = composite(draft, refined, alpha)
    assert np.array_equal(out[mask], draft[mask])
    far = alpha == 0
    assert np.array_equal(out[far], refined[far])
    ring = (alpha > 0) & (alpha < 255)
    lo = np.minimum(draft, refined)[ring]
    hi = np.maximum(draft, refined)[ring]
    assert ((out[ring] >= lo) & (out[ring] <= hi)).all()
