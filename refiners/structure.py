"""Did the structure survive?  Edge F1 between a draft and its refinement, with a pixel tolerance.

Canny edges of both images (the same fixed thresholds for both, so the maps are comparable) are
matched within `tolerance_px`: precision is the share of the refined image's edges that lie near
a draft edge, recall the share of the draft's edges that are still there.  A shift, a blur or a
redrawn letter loses recall; a few faint texture edges barely move either.  SSIM on edge maps was
measured to punish added texture (FIELD-NOTES), which is the point of refining, so it is not used.

OpenCV (`cv2`) is imported inside the functions: it comes with the `refine` extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cocogen.types import Model

CANNY_LOW = 50
CANNY_HIGH = 150


class EdgeScore(Model):
    precision: float
    recall: float
    f1: float
    reference_edges: int
    """Edge pixels of the draft inside the compared region."""
    candidate_edges: int
    """Edge pixels of the refined image inside the compared region."""


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the install
        from refiners.base import RefineError

        raise RefineError(
            f"edge checks need OpenCV ({exc}); install the extra: pip install 'cocogen[refine]'"
        ) from None
    return cv2


def canny(rgb: np.ndarray) -> np.ndarray:
    """bool (H, W): Canny edges of an RGB uint8 image (L2 gradient, fixed thresholds)."""
    cv2 = _cv2()
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.Canny(gray, CANNY_LOW, CANNY_HIGH, L2gradient=True) > 0)


def near(edges: np.ndarray, tolerance_px: int) -> np.ndarray:
    """bool (H, W): pixels within `tolerance_px` (Euclidean disk) of an edge pixel."""
    if tolerance_px <= 0:
        return edges.astype(bool)
    cv2 = _cv2()
    size = 2 * tolerance_px + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return np.asarray(cv2.dilate(edges.astype(np.uint8), kernel) > 0)


def edge_score(
    reference: np.ndarray,
    candidate: np.ndarray,
    tolerance_px: int = 2,
    region: np.ndarray | None = None,
) -> EdgeScore:
    """Precision/recall/F1 of `candidate` edges against `reference` edges inside `region`.

    Both maps are bool (H, W).  Edges are counted inside the region only but may be matched by an
    edge just outside it.  Two empty maps agree perfectly (F1 = 1).
    """
    if reference.shape != candidate.shape:
        raise ValueError(f"edge maps differ in shape: {reference.shape} vs {candidate.shape}")
    inside = np.ones(reference.shape, dtype=bool) if region is None else region.astype(bool)
    ref = reference.astype(bool) & inside
    cand = candidate.astype(bool) & inside
    n_ref, n_cand = int(ref.sum()), int(cand.sum())
    if n_ref == 0 and n_cand == 0:
        return EdgeScore(precision=1.0, recall=1.0, f1=1.0, reference_edges=0, candidate_edges=0)
    # An empty map has nothing to lose (recall 1) and nothing wrong (precision 1); the other side
    # then scores 0 against it, so edges appearing where the draft had none count as drift.
    precision = float((cand & near(reference, tolerance_px)).sum()) / n_cand if n_cand else 1.0
    recall = float((ref & near(candidate, tolerance_px)).sum()) / n_ref if n_ref else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return EdgeScore(
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        reference_edges=n_ref,
        candidate_edges=n_cand,
    )


def image_edge_score(
    draft: np.ndarray, refined: np.ndarray, tolerance_px: int = 2, region: np.ndarray | None = None
) -> EdgeScore:
    """`edge_score` of the two images' Canny edges."""
    return edge_score(canny(draft), canny(refined), tolerance_px, region)


def text_similarity(
    draft: np.ndarray, refined: np.ndarray, box: tuple[int, int, int, int]
) -> float:
    """How much a text's pixels still look like the draft's: best Pearson correlation of the grey
    values inside `box` (x0, y0, x1, y1 ints) over shifts of up to one pixel.

    Edge F1 with a tolerance is blind inside a text box (glyph edges are everywhere within two
    pixels), so texts are compared pixel by pixel: noise or texture lowers the correlation a
    little, scrambled or redrawn letters bring it near zero.  A box with no contrast in the draft
    scores 1.
    """
    x0, y0, x1, y1 = box
    height, width = draft.shape[:2]
    x0, y0, x1, y1 = max(x0, 1), max(y0, 1), min(x1, width - 1), min(y1, height - 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 1.0
    weights = np.array([0.299, 0.587, 0.114])
    ref = draft[y0:y1, x0:x1, :3].astype(np.float64) @ weights
    if ref.std() < 1.0:
        return 1.0
    gray = refined[..., :3].astype(np.float64) @ weights
    best = -1.0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            cand = gray[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
            if cand.std() < 1e-6:
                continue
            best = max(best, float(np.corrcoef(ref.ravel(), cand.ravel())[0, 1]))
    return round(max(best, 0.0), 4)
