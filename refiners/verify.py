"""Verification after refining: the refined image must still say everything the draft said.

Three gates, all against the draft the refiner started from:
1. The checker (`cocogen.checking.check`, with OCR when it has it) runs on the refined image with
   the draft's manifest.  Any error finding the draft did not have — above all a text that passed
   on the draft and no longer reads — rejects the result; so does a commitment that was satisfied
   and no longer is.
2. Every text element that passed on the draft must keep its look: the grey values inside its
   box must still correlate with the draft's (`structure.text_similarity`; an OCR-free guard, so
   that a checker without OCR still catches damaged text).
3. The edge structure outside the protect mask must not drift: edge F1 (Canny, tolerance in px)
   at least `options.min_edge_f1`.  Boxes of `image` elements refined with their own prompt are
   left out, since they are meant to change.

The verdict says which gate failed and by how much; the caller keeps the draft when it is not
accepted.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import Field

from cocogen.checking import CheckSettings, check
from cocogen.checking.geometry import quote
from cocogen.types import (
    Box,
    CheckReport,
    Commitments,
    Finding,
    LayoutManifest,
    Model,
    RefineOptions,
)
from refiners.mask import box_mask, decode_rgb
from refiners.structure import EdgeScore, canny, edge_score, text_similarity

TEXT_MIN_SIMILARITY = 0.7
"""Least `text_similarity` of a text that passed on the draft (a 1 px blur scores ~0.8, a 2 px
shift or a 2 px blur ~0.5, scrambled letters ~0)."""


class Verdict(Model):
    accepted: bool
    reasons: list[str] = Field(default_factory=list)
    edge: EdgeScore
    """Edge agreement outside the protect mask (and outside freely refined image boxes)."""
    text_similarity: dict[str, float] = Field(default_factory=dict)
    """Per text element that passed on the draft: `structure.text_similarity` inside its box."""
    damaged_texts: list[str] = Field(default_factory=list)
    new_errors: list[str] = Field(default_factory=list)
    lost_commitments: list[str] = Field(default_factory=list)
    report: CheckReport
    """The checker's report on the refined image."""


def _key(finding: Finding) -> tuple[str, tuple[str, ...]]:
    return finding.code, tuple(sorted(finding.element_ids))


def _errors(report: CheckReport) -> list[Finding]:
    return [f for f in report.findings if f.severity == "error"]


def verify(
    draft_png: bytes,
    refined_png: bytes,
    manifest: LayoutManifest,
    mask: np.ndarray | None,
    options: RefineOptions,
    *,
    commitments: Commitments | None = None,
    draft_report: CheckReport | None = None,
    settings: CheckSettings | None = None,
    free_boxes: Iterable[Box] = (),
    min_text_similarity: float = TEXT_MIN_SIMILARITY,
) -> Verdict:
    """Judge a refinement of `draft_png`; `mask` is the protect mask used (None: nothing kept)."""
    commitments = commitments or Commitments()
    if draft_report is None:
        draft_report = check(manifest, draft_png, commitments, settings)
    report = check(manifest, refined_png, commitments, settings)
    draft = decode_rgb(draft_png, "draft")
    refined = decode_rgb(refined_png, "refined image")
    if draft.shape != refined.shape:
        raise ValueError(
            f"the refined image is {refined.shape[1::-1]}, the draft {draft.shape[1::-1]}"
        )
    reasons: list[str] = []

    # 1. The checker: new errors, texts that stopped passing, commitments that were lost.
    before = {_key(f) for f in _errors(draft_report)}
    failed_on_draft = {i for f in _errors(draft_report) for i in f.element_ids}
    passing_texts = [e for e in manifest.texts() if e.id not in failed_on_draft]
    passing_ids = {e.id for e in passing_texts}
    new_errors = [f for f in _errors(report) if _key(f) not in before]
    damaged: list[str] = []
    for finding in new_errors:
        hit = [i for i in finding.element_ids if i in passing_ids]
        if hit:
            element = manifest.by_id(hit[0])
            name = quote(element.text) if element and element.text else hit[0]
            reasons.append(
                f"text {name} ({hit[0]}) passed on the draft but not after refining: "
                f"{finding.code}: {finding.message}"
            )
            damaged.extend(i for i in hit if i not in damaged)
        else:
            reasons.append(f"new error after refining: {finding.code}: {finding.message}")
    kept = {(c.kind, c.value) for c in draft_report.commitments.all() if c.status == "satisfied"}
    lost = [
        c.value
        for c in report.commitments.all()
        if (c.kind, c.value) in kept and c.status != "satisfied"
    ]
    reasons.extend(
        f"commitment {quote(v, 60)} was kept by the draft, not after refining" for v in lost
    )

    # 2. Each passing text keeps its look.
    similarity: dict[str, float] = {}
    for element in passing_texts:
        x0, y0, x1, y1 = element.box
        box = (int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)))
        score = text_similarity(draft, refined, box)
        similarity[element.id] = score
        if score < min_text_similarity and element.id not in damaged:
            damaged.append(element.id)
            reasons.append(
                f"text {quote(element.text or '')} ({element.id}) no longer looks like the "
                f"draft: similarity {score:.2f} < {min_text_similarity:.2f} inside its box"
            )

    # 3. Structure outside the mask.
    draft_edges, refined_edges = canny(draft), canny(refined)
    outside = ~box_mask(draft.shape, free_boxes)
    if mask is not None:
        outside &= ~mask.astype(bool)
    edge = edge_score(draft_edges, refined_edges, options.edge_tolerance_px, outside)
    if edge.f1 < options.min_edge_f1:
        reasons.append(
            f"edge structure outside the protect mask drifted: edge F1 {edge.f1:.2f} < "
            f"{options.min_edge_f1:.2f} (precision {edge.precision:.2f}, recall {edge.recall:.2f},"
            f" tolerance {options.edge_tolerance_px} px)"
        )
    return Verdict(
        accepted=not reasons,
        reasons=reasons,
        edge=edge,
        text_similarity=similarity,
        damaged_texts=damaged,
        new_errors=[f"{f.code}: {f.message}" for f in new_errors],
        lost_commitments=lost,
        report=report,
    )
