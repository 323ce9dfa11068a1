"""OCR confirmation: does each text the manifest claims actually read as that text?

The manifest comes from the drawing library, so it says what was *asked* to be drawn; OCR says
what a reader sees.  They disagree when a text is hidden under a data mark, drawn in a colour
that vanishes, replaced by missing-glyph boxes, or cut off.  Because the manifest knows every
text's box and rotation, recognition runs on each text's own crop, turned upright (see
`raster.upright_crop`), in batches — no detection step, which is what makes it several times
faster than reading the whole image.  One full-image pass (detection + recognition) finds text
the manifest does not know, e.g. text drawn as paths or inside a picture; it runs when it can
change the verdict (see `CheckSettings.ocr_full_pass`).

The engine is rapidocr 3 (PP-OCR models shipped in its wheel; nothing is downloaded) on
onnxruntime, created once per process and kept: creating it is the slow part.  It is optional:
`ocr_unavailable()` says why it cannot run, and the checker then reports OCR as skipped.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cocogen.checking.geometry import area, describe, fmt_box, intersection, quote
from cocogen.checking.raster import (
    Raster,
    clamp_box,
    line_count,
    split_lines,
    upright_crop,
    with_margin,
)
from cocogen.checking.settings import CheckSettings
from cocogen.checking.trace import digits, ocr_key, similarity
from cocogen.types import Box, Element, Finding, LayoutManifest

if TYPE_CHECKING:
    import numpy as np

OCR_MISMATCH = "ocr_mismatch"
OCR_SKIPPED = "ocr_skipped"
OCR_UNKNOWN_TEXT = "ocr_unknown_text"
OCR_CODES: frozenset[str] = frozenset({OCR_MISMATCH, OCR_SKIPPED, OCR_UNKNOWN_TEXT})

REQUIRED_MODULES = ("rapidocr", "onnxruntime", "cv2")
"""What must be importable for OCR (`pip install 'cocogen[ocr]'`)."""

CROP_MARGIN = 0.5
"""Background margin around each upright crop, as a fraction of its height."""
DET_LIMIT_SIDE = 1280
"""Full pass: the detector sees the image at up to this many pixels a side (small text)."""
DET_BOX_THRESH = 0.3
UNKNOWN_MIN_SCORE = 0.8
"""A full-pass detection the manifest does not know is reported only when read this surely."""


# --------------------------------------------------------------------------- the engine


def ocr_unavailable() -> str | None:
    """Why OCR cannot run here (a one-line reason), or None when it can.  Imports nothing."""
    missing = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        names = ", ".join("opencv-python-headless" if m == "cv2" else m for m in missing)
        return f"{names} not installed (pip install 'cocogen[ocr]')"
    return None


_ENGINE_LOCK = threading.Lock()

CROP_REC_WIDTH = 128
"""Crops: the recogniser pads every line to at least this width (rapidocr's default, 320, pads
a tick label like '0.5' to eight times its size; 128 reads 2-4× faster at the same accuracy
on gallery charts, see benchmarks/checker.py)."""
CROP_BATCH = 8


@functools.cache
def _engine(threads: int, purpose: str) -> Any:
    from rapidocr import RapidOCR

    params: dict[str, Any] = {
        "Global.log_level": "error",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    if purpose == "crops":
        params["Rec.rec_img_shape"] = [3, 48, CROP_REC_WIDTH]
        params["Rec.rec_batch_num"] = CROP_BATCH
    else:
        params["Det.limit_side_len"] = DET_LIMIT_SIDE
        params["Det.box_thresh"] = DET_BOX_THRESH
    return RapidOCR(params=params)


def engine(threads: int = 1, purpose: str = "crops") -> Any:
    """The process's rapidocr engine (created on first use, then kept).

    `purpose`: 'crops' (recognition of known text lines) or 'full' (detection + recognition
    with rapidocr's own recogniser settings).  Models load lazily: a crops engine never loads
    the detector.
    """
    with _ENGINE_LOCK:
        return _engine(threads, purpose)


def recognize(images: Sequence[np.ndarray], threads: int = 1) -> list[tuple[str, float]]:
    """(text, confidence) for each upright RGB line image, recognised in batches, no detection.

    Batches go straight to the recogniser, which sorts them by width so padding stays small.
    """
    import numpy as np

    if not images:
        return []
    ocr = engine(threads)
    bgr = [np.ascontiguousarray(image[..., ::-1]) for image in images]
    load_rec = getattr(ocr, "_load_rec_model", None)
    if load_rec is not None:
        from rapidocr.ch_ppocr_rec import TextRecInput

        out = load_rec()(TextRecInput(img=bgr))
        return [(str(t), float(s)) for t, s in zip(out.txts, out.scores, strict=True)]
    # Another rapidocr 3.x layout: one public call per line.  The per-call flags are passed
    # every time because rapidocr keeps them for later calls.
    results = []
    for image in bgr:
        out = ocr(image, use_det=False, use_cls=False, use_rec=True)
        texts = getattr(out, "txts", None) or ("",)
        scores = getattr(out, "scores", None) or (0.0,)
        results.append((str(texts[0]), float(scores[0])))
    return results


@dataclass(frozen=True)
class Detection:
    """One line of text found by the full-image pass; `element_ids`: manifest texts under it."""

    text: str
    score: float
    box: Box
    element_ids: tuple[str, ...] = ()


def full_pass(raster: Raster, threads: int = 1) -> list[Detection]:
    """Detect and read every line of text in the image (slow: ~1 s for a 1024×768 chart)."""
    import numpy as np

    ocr = engine(threads, "full")
    out = ocr(np.ascontiguousarray(raster.rgb[..., ::-1]), use_det=True, use_cls=True, use_rec=True)
    boxes = getattr(out, "boxes", None)
    texts = getattr(out, "txts", None)
    scores = getattr(out, "scores", None)
    if boxes is None or texts is None or scores is None:
        return []
    found = []
    for quad, text, score in zip(boxes, texts, scores, strict=True):
        points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
        box = (
            float(points[:, 0].min()),
            float(points[:, 1].min()),
            float(points[:, 0].max()),
            float(points[:, 1].max()),
        )
        found.append(Detection(text=str(text), score=float(score), box=box))
    return found


# --------------------------------------------------------------------------- comparing


_MATH_WRAPPERS = re.compile(
    r"\\(?:mathdefault|mathrm|mathbf|mathit|mathsf|mathtt|mathcal|text|textbf|textit|"
    r"operatorname|boldsymbol|mathregular|bf|it|rm|sf|tt|cal|displaystyle)\b"
)
_MATH_SYMBOLS = {
    "times": "×", "cdot": "·", "pm": "±", "mp": "∓", "circ": "°", "degree": "°", "prime": "′",
    "approx": "≈", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠",
    "infty": "∞", "rightarrow": "→", "to": "→", "leftarrow": "←", "sum": "Σ", "int": "∫",
    "sqrt": "√", "partial": "∂", "nabla": "∇", "ldots": "...", "dots": "...", "cdots": "...",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ",
    "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ",
    "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ",
    "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "%": "%", "$": "$", "_": "_", "&": "&", "#": "#",
    ",": " ", ";": " ", ":": " ", "!": "", " ": " ", "quad": " ", "qquad": " ",
    "left": "", "right": "", "{": "{", "}": "}",
}  # fmt: skip
_MATH_COMMAND = re.compile(r"\\([A-Za-z]+|[%$_&#,;:! {}])")
_PLAIN_MATH = re.compile(r"[0-9A-Za-z .,:+\-−×·±°%()/=<>≤≥≈]*")
"""Math that reads as plain characters (numbers, powers of ten, units); richer math (Greek
letters, subscripts, roots) is not compared: OCR cannot spell it reliably."""


def plain_text(text: str) -> str | None:
    """The text as a reader sees it: mathtext (`$...$`) turned into plain characters.

    Superscripts are written inline (`10^{2}` → '102', as OCR reads it).  None when the math is
    too rich to spell out (Greek, subscripts, fractions, unknown commands): such texts are not
    compared with what OCR reads.
    """
    parts = re.split(r"(?<!\\)\$", text)
    if len(parts) < 3:
        return text.replace(r"\$", "$")
    out = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(part.replace(r"\$", "$"))
            continue
        if "\\frac" in part or "\\over" in part or "\\begin" in part:
            return None
        part = _MATH_WRAPPERS.sub("", part)
        unknown = False

        def symbol(match: re.Match[str]) -> str:
            nonlocal unknown
            name = match.group(1)
            if name in _MATH_SYMBOLS:
                return _MATH_SYMBOLS[name]
            unknown = True
            return ""

        part = _MATH_COMMAND.sub(symbol, part)
        part = re.sub(r"[{}^]", "", part)
        if unknown or not _PLAIN_MATH.fullmatch(part):
            return None
        out.append(part)
    return "".join(out)


def confirms(expected: str, read: str, threshold: float) -> bool:
    """True when `read` is `expected` up to OCR noise: similar enough, and the same digits."""
    a, b = ocr_key(expected), ocr_key(read)
    if a == b:
        return True
    return digits(a) == digits(b) and similarity(expected, read) >= threshold


# --------------------------------------------------------------------------- reading texts


@dataclass(frozen=True)
class Reading:
    """What OCR read in one manifest text's crop, and whether that confirms the text."""

    element_id: str
    expected: str
    text: str
    score: float
    similarity: float
    confirmed: bool


@dataclass
class OcrOutcome:
    """Everything OCR found for one image."""

    ran: bool
    reason: str = ""
    """Why OCR did not run (when `ran` is False)."""
    readings: list[Reading] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """element id → why that text was not read (too small, math, off the canvas)."""
    detections: list[Detection] | None = None
    """The full-image pass's lines; None when the pass did not run."""
    timings: dict[str, float] = field(default_factory=dict)

    def by_element(self) -> dict[str, Reading]:
        return {r.element_id: r for r in self.readings}

    def confirmed_fraction(self) -> float:
        return (
            sum(r.confirmed for r in self.readings) / len(self.readings) if self.readings else 1.0
        )


_READ_SCRIPTS: tuple[tuple[int, int], ...] = (
    (0x0000, 0x024F),  # Latin, with accents
    (0x1E00, 0x1EFF),  # Latin extended additional
    (0x2E80, 0x9FFF),  # CJK radicals and punctuation, kana, CJK ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width forms
)
"""Where the letters lie that rapidocr's bundled recogniser (PP-OCR, Chinese + Latin) reads.
Greek, Cyrillic, Hangul, Arabic and other scripts it reads as nothing or noise."""


def unread_script(text: str) -> str | None:
    """The name of the first script in `text` that the OCR model cannot read, else None."""
    for char in text:
        if not unicodedata.category(char).startswith("L"):
            continue
        point = ord(char)
        if not any(lo <= point <= hi for lo, hi in _READ_SCRIPTS):
            name = unicodedata.name(char, "")
            return name.split(" ")[0].title() if name else f"U+{point:04X}"
    return None


def _why_not_read(element: Element, raster: Raster, settings: CheckSettings) -> str | None:
    if element.font_size_px is not None and element.font_size_px < settings.ocr_min_text_px:
        return f"smaller than {settings.ocr_min_text_px:g} px"
    box = clamp_box(element.box, raster.width, raster.height)
    if box is None:
        return "outside the canvas"
    x0, y0, x1, y1 = element.box
    if x0 < -1 or y0 < -1 or x1 > raster.width + 1 or y1 > raster.height + 1:
        return "cut off by the canvas edge"
    plain = plain_text(element.text or "")
    if plain is None:
        return "math too rich to spell out"
    if not ocr_key(plain):
        return "no letters or digits"
    script = unread_script(plain)
    if script is not None:
        return f"{script} script, which the OCR model does not read"
    return None


def read_texts(
    manifest: LayoutManifest, raster: Raster, settings: CheckSettings | None = None
) -> tuple[list[Reading], dict[str, str]]:
    """OCR of every manifest text at its known box: (readings, skipped ids with reasons)."""
    settings = settings or CheckSettings()
    skipped: dict[str, str] = {}
    jobs: list[tuple[Element, str, int]] = []  # element, plain text, how many line images
    images: list[np.ndarray] = []
    for element in manifest.texts():
        reason = _why_not_read(element, raster, settings)
        cut = None if reason else upright_crop(raster, element)
        if reason or cut is None:
            skipped[element.id] = reason or "too small to crop"
            continue
        upright, background = cut
        lines = split_lines(upright, line_count(element))
        images.extend(with_margin(line, background, CROP_MARGIN) for line in lines)
        jobs.append((element, plain_text(element.text or "") or "", len(lines)))
    results = recognize(images, settings.ocr_threads)
    readings: list[Reading] = []
    at = 0
    for element, plain, count in jobs:
        parts = results[at : at + count]
        at += count
        text = " ".join(t for t, _ in parts if t).strip()
        score = min((s for _, s in parts), default=0.0)
        readings.append(
            Reading(
                element_id=element.id,
                expected=plain,
                text=text,
                score=round(score, 4),
                similarity=round(similarity(plain, text), 4),
                confirmed=confirms(plain, text, settings.ocr_similarity),
            )
        )
    return readings, skipped


def attribute(detections: list[Detection], manifest: LayoutManifest) -> list[Detection]:
    """Each detection with the manifest texts it lies on (≥ 30% of its area under their boxes)."""
    texts = manifest.texts()
    out = []
    for detection in detections:
        own = area(detection.box)
        ids = tuple(
            e.id
            for e in texts
            if own > 0 and intersection(detection.box, e.box) >= 0.3 * min(own, area(e.box))
        )
        out.append(Detection(detection.text, detection.score, detection.box, ids))
    return out


def run_ocr(
    manifest: LayoutManifest,
    raster: Raster | None,
    settings: CheckSettings | None = None,
    full: bool = False,
) -> OcrOutcome:
    """Read the manifest's texts (and the whole image when `full`), or say why OCR did not run.

    Never raises for OCR's own failures: a broken or missing engine is a reason, not a crash.
    """
    settings = settings or CheckSettings()
    if settings.ocr == "off":
        return OcrOutcome(ran=False, reason="turned off in the check settings")
    if raster is None:
        return OcrOutcome(ran=False, reason="there is no readable image")
    reason = ocr_unavailable()
    if reason is not None:
        return OcrOutcome(ran=False, reason=reason)
    outcome = OcrOutcome(ran=True)
    try:
        t0 = time.perf_counter()
        outcome.readings, outcome.skipped = read_texts(manifest, raster, settings)
        outcome.timings["ocr_crops_s"] = round(time.perf_counter() - t0, 4)
        if full:
            t1 = time.perf_counter()
            outcome.detections = attribute(full_pass(raster, settings.ocr_threads), manifest)
            outcome.timings["ocr_full_s"] = round(time.perf_counter() - t1, 4)
    except Exception as exc:  # noqa: BLE001 - OCR is optional at run time: report, don't crash
        return OcrOutcome(ran=False, reason=f"the OCR engine failed: {type(exc).__name__}: {exc}")
    return outcome


# --------------------------------------------------------------------------- findings


def ocr_findings(
    outcome: OcrOutcome,
    manifest: LayoutManifest,
    settings: CheckSettings | None = None,
    explained: frozenset[str] = frozenset(),
) -> list[Finding]:
    """`ocr_mismatch` warnings and `ocr_unknown_text` (info); `ocr_skipped` when OCR was wanted
    but could not run (info for 'auto', a warning for 'on'; nothing when turned off).

    Texts in `explained` (ids already in an error finding: overlapping, clipped, invisible)
    get no mismatch warning of their own; their defect is already named.
    """
    settings = settings or CheckSettings()
    if not outcome.ran and settings.ocr == "off":
        return []  # asked for: nothing to report
    if not outcome.ran:
        severity = "warning" if settings.ocr == "on" else "info"
        return [
            Finding(
                code=OCR_SKIPPED,
                severity=severity,
                message=f"OCR was skipped: {outcome.reason}; texts were not confirmed by reading",
                llm_message="",
            )
        ]
    findings: list[Finding] = []
    for reading in outcome.readings:
        if reading.confirmed or reading.element_id in explained:
            continue
        element = manifest.by_id(reading.element_id)
        if element is None:
            continue
        seen = f"reads {quote(reading.text)}" if reading.text else "reads nothing"
        findings.append(
            Finding(
                code=OCR_MISMATCH,
                severity="warning",
                message=(
                    f"{describe(element)} ({element.id}) at {fmt_box(element.box)}: OCR {seen} "
                    f"(similarity {reading.similarity:.2f})"
                ),
                llm_message=(
                    f"{describe(element)} does not read as written (OCR {seen}): make sure "
                    "nothing covers it and it stands out from its background"
                ),
                element_ids=[element.id],
                boxes=[element.box],
            )
        )
    unknown = [
        d
        for d in outcome.detections or []
        if not d.element_ids and d.score >= UNKNOWN_MIN_SCORE and len(ocr_key(d.text)) >= 2
    ]
    if unknown:
        named = ", ".join(f"{quote(d.text)} at {fmt_box(d.box)}" for d in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        what = (
            "the layout does not list (drawn as paths or inside an image?)"
            if manifest.elements
            else "(there is no layout manifest to compare them with)"
        )
        findings.append(
            Finding(
                code=OCR_UNKNOWN_TEXT,
                severity="info",
                message=f"OCR read {len(unknown)} text line(s) {what}: {named}{more}",
                llm_message="",
                boxes=[d.box for d in unknown],
            )
        )
    return findings
