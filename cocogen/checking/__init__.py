"""The checker: judge a render from its layout manifest, its PNG and the request's commitments.

`check()` is a pure function so that a run can be re-checked (and its report reproduced) from
the files it wrote.  It combines geometry read off the manifest (overlapping, clipped, tiny
texts, a blank canvas, empty axes: `geometry`), pixel checks (contrast, missing-glyph boxes:
`pixels`), OCR confirmation of every text at its known box plus a full-image pass for text the
manifest does not know (`ocr`), and the request's commitments traced to the drawn texts, marks
and OCR readings (`trace`).  `draw_overlay()` turns a report into a picture for people.

Importing this package is cheap: numpy and Pillow are imported only when pixels are needed,
rapidocr only when OCR runs, and matplotlib never.
"""

from __future__ import annotations

from cocogen.checking.geometry import (
    GEOMETRY_CODES,
    PNG_UNREADABLE,
    fmt_box,
    geometry_findings,
    quote,
)
from cocogen.checking.ocr import (
    OCR_CODES,
    Detection,
    OcrOutcome,
    ocr_findings,
    ocr_unavailable,
    run_ocr,
)
from cocogen.checking.overlay import draw_overlay
from cocogen.checking.pixels import PIXEL_CODES, pixel_findings
from cocogen.checking.raster import Raster, decode
from cocogen.checking.settings import CheckSettings
from cocogen.checking.trace import (
    OcrText,
    closest_text,
    entity_kinds,
    matching_texts,
    trace_commitments,
)
from cocogen.types import CheckReport, Commitment, Commitments, Finding, LayoutManifest

COMMITMENT_VIOLATED = "commitment_violated"
ALL_CODES: frozenset[str] = GEOMETRY_CODES | PIXEL_CODES | OCR_CODES | {COMMITMENT_VIOLATED}
"""Every finding code the checker can emit."""

__all__ = [
    "ALL_CODES",
    "COMMITMENT_VIOLATED",
    "GEOMETRY_CODES",
    "OCR_CODES",
    "PIXEL_CODES",
    "CheckSettings",
    "check",
    "commitment_findings",
    "draw_overlay",
    "ocr_unavailable",
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


def _ocr_texts(
    outcome: OcrOutcome, manifest: LayoutManifest, unreadable: frozenset[str]
) -> list[OcrText]:
    """What OCR read, as commitment evidence: crop readings, full-pass lines, and those lines
    joined row by row (a required phrase may be split over two detected boxes).

    Texts in `unreadable` (the pixel checks found them nearly invisible or with missing glyphs)
    count as not confirmed whatever OCR made of them: OCR reads fainter text than people do.
    """
    texts = []
    for reading in outcome.readings:
        element = manifest.by_id(reading.element_id)
        if element is None:
            continue
        if element.id in unreadable:
            texts.append(OcrText("", element.box, element.id, False))
        elif reading.text:
            texts.append(OcrText(reading.text, element.box, element.id, reading.confirmed))
    detections = outcome.detections or []
    for d in detections:
        texts.append(OcrText(d.text, d.box, d.element_ids[0] if d.element_ids else None))
    for row in _rows(detections):
        if len(row) > 1:
            box = (
                min(d.box[0] for d in row),
                min(d.box[1] for d in row),
                max(d.box[2] for d in row),
                max(d.box[3] for d in row),
            )
            texts.append(OcrText(" ".join(d.text for d in row), box))
    return texts


def _rows(detections: list[Detection]) -> list[list[Detection]]:
    """Detections grouped into text rows (vertical centres within half a line), left to right."""
    rows: list[list[Detection]] = []
    for d in sorted(detections, key=lambda d: ((d.box[1] + d.box[3]) / 2, d.box[0])):
        centre, height = (d.box[1] + d.box[3]) / 2, d.box[3] - d.box[1]
        last = rows[-1][-1] if rows else None
        if last is not None and abs((last.box[1] + last.box[3]) / 2 - centre) <= height / 2:
            rows[-1].append(d)
        else:
            rows.append([d])
    return [sorted(row, key=lambda d: d.box[0]) for row in rows]


def _needs_full_pass(
    manifest: LayoutManifest, commitments: Commitments, settings: CheckSettings
) -> bool:
    if settings.ocr_full_pass != "auto":
        return settings.ocr_full_pass == "always"
    if not manifest.texts():
        return True
    return any(
        c.kind in ("text", "number") and not matching_texts(c.value, manifest)
        for c in commitments.all()
    )


def _decode(png: bytes | None, already: list[Finding]) -> tuple[Raster | None, list[Finding]]:
    if png is None:
        return None, []
    try:
        return decode(png), []
    except ValueError as exc:
        if any(f.code == PNG_UNREADABLE for f in already):
            return None, []
        return None, [
            Finding(
                code=PNG_UNREADABLE,
                severity="error",
                message=f"the rendered PNG could not be decoded: {exc}",
                llm_message="the program produced no readable image: make sure it saves a PNG",
            )
        ]


def check(
    manifest: LayoutManifest,
    png: bytes | None,
    commitments: Commitments,
    settings: CheckSettings | None = None,
) -> CheckReport:
    """Judge one render; `passed` is True when no finding is an error.

    Geometry from the manifest, pixel checks (contrast, missing glyphs) and OCR confirmation
    from the PNG, commitments traced against the manifest's texts and what OCR read.  Scores:
    `layout_ok` (1.0 unless a geometry or pixel finding is an error), `commitments_satisfied`
    (fraction satisfied; 1.0 when there are none), `text_elements` (count), and when OCR ran
    `text_confirmed` (fraction of the texts OCR read that it confirms) and `ocr_texts_read`.
    A manifest with no elements (an image checked on its own) gets OCR-only judgement.
    """
    settings = settings or CheckSettings()
    geometry = geometry_findings(manifest, png, settings)
    raster, undecodable = _decode(png, geometry)
    pixel = pixel_findings(manifest, raster, settings) if raster and settings.pixel_checks else []
    full = _needs_full_pass(manifest, commitments, settings)
    outcome = run_ocr(manifest, raster, settings, full=full)
    layout_errors = [f for f in (*geometry, *undecodable, *pixel) if f.severity == "error"]
    explained = frozenset(i for f in layout_errors for i in f.element_ids)
    ocr = ocr_findings(outcome, manifest, settings, explained)
    unreadable = frozenset(i for f in pixel if f.severity == "error" for i in f.element_ids)
    traced = trace_commitments(
        commitments, manifest, _ocr_texts(outcome, manifest, unreadable) if outcome.ran else None
    )
    findings = [*geometry, *undecodable, *pixel, *ocr, *commitment_findings(traced, manifest)]
    findings.sort(key=lambda f: _SEVERITY_ORDER.get(f.severity, 3))
    every = traced.all()
    satisfied = sum(1 for c in every if c.status == "satisfied")
    scores = {
        "layout_ok": 0.0 if layout_errors else 1.0,
        "commitments_satisfied": satisfied / len(every) if every else 1.0,
        "text_elements": float(len(manifest.texts())),
    }
    if outcome.ran:
        scores["text_confirmed"] = round(outcome.confirmed_fraction(), 4)
        scores["ocr_texts_read"] = float(len(outcome.readings))
    return CheckReport(
        findings=findings,
        commitments=traced,
        scores=scores,
        passed=not any(f.severity == "error" for f in findings),
    )
