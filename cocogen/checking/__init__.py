"""The checker: judge a render from its layout manifest, its PNG and the request's commitments.

`check()` is a pure function so that a run can be re-checked (and its report reproduced) from
the files it wrote.  This first version is geometry-only: overlapping, clipped, tiny texts, a
blank canvas, empty axes (`geometry`), plus commitments traced to the drawn texts and marks
(`trace`).  `draw_overlay()` turns a report into a picture for people.

Importing this package is cheap: numpy and Pillow are imported only when pixels are needed, and
matplotlib never.
"""

from __future__ import annotations

from cocogen.checking.geometry import GEOMETRY_CODES, fmt_box, geometry_findings, quote
from cocogen.checking.overlay import draw_overlay
from cocogen.checking.settings import CheckSettings
from cocogen.checking.trace import closest_text, entity_kinds, trace_commitments
from cocogen.types import CheckReport, Commitment, Commitments, Finding, LayoutManifest

COMMITMENT_VIOLATED = "commitment_violated"

__all__ = [
    "COMMITMENT_VIOLATED",
    "GEOMETRY_CODES",
    "CheckSettings",
    "check",
    "commitment_findings",
    "draw_overlay",
    "trace_commitments",
]

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _violation(commitment: Commitment, manifest: LayoutManifest) -> Finding:
    evidence = commitment.evidence
    if commitment.kind == "text":
        near = closest_text(commitment.value, manifest)
        hint = (
            f" (closest text: {quote(near.text)} ({near.id}) at {fmt_box(near.box)})"
            if near
            else ""
        )
        return Finding(
            code=COMMITMENT_VIOLATED,
            severity="error",
            message=f"required text {quote(commitment.value, 80)} is not in the image{hint}",
            llm_message=(
                f"the text {quote(commitment.value, 80)} is missing: add it exactly as written"
                + (f" (closest drawn: {quote(near.text)})" if near else "")
            ),
            element_ids=[near.id] if near else [],
            boxes=[near.box] if near else [],
        )
    if commitment.kind == "entity":
        noun, _, _ = entity_kinds(commitment.value)
        found = len(evidence.element_ids)
        expected = commitment.count
        return Finding(
            code=COMMITMENT_VIOLATED,
            severity="error",
            message=(
                f"expected {expected} {noun} marks ({commitment.value!r}), the image has {found}: "
                + ", ".join(evidence.element_ids)
            ),
            llm_message=f"draw exactly {expected} {noun}s for {quote(commitment.value)} "
            f"(the image has {found})",
            element_ids=list(evidence.element_ids),
            boxes=list(evidence.boxes),
        )
    return Finding(
        code=COMMITMENT_VIOLATED,
        severity="error",
        message=f"{commitment.kind} commitment {quote(commitment.value, 80)} is not kept",
        llm_message=f"keep the {commitment.kind} {quote(commitment.value, 80)}",
        element_ids=list(evidence.element_ids),
        boxes=list(evidence.boxes),
    )


def commitment_findings(commitments: Commitments, manifest: LayoutManifest) -> list[Finding]:
    """A `commitment_violated` error for each traced commitment whose status is 'violated'."""
    return [_violation(c, manifest) for c in commitments.all() if c.status == "violated"]


def check(
    manifest: LayoutManifest,
    png: bytes | None,
    commitments: Commitments,
    settings: CheckSettings | None = None,
) -> CheckReport:
    """Judge one render; `passed` is True when no finding is an error.

    Scores: `layout_ok` (1.0 unless a geometry finding is an error), `commitments_satisfied`
    (fraction of commitments satisfied; 1.0 when there are none), `text_elements` (count).
    """
    settings = settings or CheckSettings()
    geometry = geometry_findings(manifest, png, settings)
    traced = trace_commitments(commitments, manifest)
    findings = [*geometry, *commitment_findings(traced, manifest)]
    findings.sort(key=lambda f: _SEVERITY_ORDER.get(f.severity, 3))
    every = traced.all()
    satisfied = sum(1 for c in every if c.status == "satisfied")
    scores = {
        "layout_ok": 0.0 if any(f.severity == "error" for f in geometry) else 1.0,
        "commitments_satisfied": satisfied / len(every) if every else 1.0,
        "text_elements": float(len(manifest.texts())),
    }
    return CheckReport(
        findings=findings,
        commitments=traced,
        scores=scores,
        passed=not any(f.severity == "error" for f in findings),
    )
