"""Edge F1 and the verification gate, on a real rendered chart and images made from it."""

from __future__ import annotations

import numpy as np
import pytest
from refining.helpers import Draft, need_refine_extra

from cocogen.types import RefineOptions
from refiners.mask import box_mask, decode_rgb, encode_png, protect_mask


@pytest.fixture(autouse=True)
def _opencv() -> None:
    need_refine_extra()


def _noisy(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, rgb.shape)
    return np.clip(rgb.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def test_edge_f1_tolerates_texture_and_small_offsets_not_shifts(draft: Draft) -> None:
    from refiners.structure import canny, edge_score, image_edge_score

    rgb = decode_rgb(draft.png)
    same = image_edge_score(rgb, rgb)
    assert same.f1 == 1.0 and same.reference_edges > 100
    textured = image_edge_score(rgb, _noisy(rgb, 4.0))
    assert textured.f1 > 0.9
    by_one = image_edge_score(rgb, np.roll(rgb, 1, axis=1), tolerance_px=2)
    assert by_one.f1 > 0.9
    by_six = image_edge_score(rgb, np.roll(rgb, (6, 6), axis=(0, 1)), tolerance_px=2)
    assert by_six.f1 < 0.6 and by_six.recall < 0.6
    blurred = image_edge_score(rgb, np.full_like(rgb, 255))
    assert blurred.f1 == 0.0 and blurred.recall == 0.0
    empty = np.zeros(rgb.shape[:2], dtype=bool)
    assert edge_score(empty, empty).f1 == 1.0
    assert edge_score(empty, canny(rgb)).f1 == 0.0


def test_mild_texture_outside_the_mask_is_accepted(draft: Draft) -> None:
    from refiners.verify import verify

    rgb = decode_rgb(draft.png)
    options = RefineOptions()
    lock = protect_mask(rgb, draft.manifest, options.margin_px)
    refined = np.where(lock.mask[..., None], rgb, _noisy(rgb, 3.0))
    verdict = verify(draft.png, encode_png(refined), draft.manifest, lock.mask, options)
    assert verdict.accepted, verdict.reasons
    assert verdict.edge.f1 > 0.9
    assert set(verdict.text_similarity) == {e.id for e in draft.manifest.texts()}
    assert min(verdict.text_similarity.values()) == 1.0


def test_damaged_text_is_rejected_and_named(draft: Draft) -> None:
    from refiners.verify import verify

    rgb = decode_rgb(draft.png)
    title = next(e for e in draft.manifest.texts() if e.text == "Sales 2024")
    inside = box_mask(rgb.shape, [title.box])
    damaged = rgb.copy()
    # Scramble the title's pixels: same colours, no letters left.
    rows, cols = np.nonzero(inside)
    order = np.random.default_rng(1).permutation(len(rows))
    damaged[rows, cols] = rgb[rows[order], cols[order]]
    options = RefineOptions()
    verdict = verify(draft.png, encode_png(damaged), draft.manifest, None, options)
    assert not verdict.accepted
    assert title.id in verdict.damaged_texts
    assert any('"Sales 2024"' in r and title.id in r for r in verdict.reasons), verdict.reasons
    # Other texts were not touched and are not blamed.
    others = [e.id for e in draft.manifest.texts() if e.id != title.id]
    assert all(verdict.text_similarity[i] == 1.0 for i in others)


def test_shifted_structure_is_rejected(draft: Draft) -> None:
    from refiners.verify import verify

    rgb = decode_rgb(draft.png)
    options = RefineOptions()
    lock = protect_mask(rgb, draft.manifest, options.margin_px)
    moved = np.where(lock.mask[..., None], rgb, np.roll(rgb, 7, axis=0))
    verdict = verify(draft.png, encode_png(moved), draft.manifest, lock.mask, options)
    assert not verdict.accepted
    assert verdict.edge.f1 < options.min_edge_f1
    assert any(
        r.startswith("edge structure outside the protect mask drifted") for r in verdict.reasons
    )
