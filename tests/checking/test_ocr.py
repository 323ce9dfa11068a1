"""OCR confirmation with the real rapidocr engine (models shipped in its wheel), one engine for
the session; and the text comparison rules, which need no engine.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from support import run_matplotlib

from cocogen.checking import CheckSettings, check
from cocogen.checking import ocr as ocr_module
from cocogen.checking.ocr import (
    attribute,
    confirms,
    full_pass,
    ocr_findings,
    plain_text,
    read_texts,
    recognize,
    run_ocr,
)
from cocogen.checking.raster import decode
from cocogen.checking.trace import ocr_contains, ocr_key, similarity
from cocogen.planning.commitments import extract_commitments
from cocogen.types import Commitments, LayoutManifest

ROTATED = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["North", "South", "East", "West"], [1200, 3400, 2100, 900])
ax.set_title("Quarterly revenue 2024")
ax.set_xlabel("Region")
ax.set_ylabel("Revenue (USD)")
plt.setp(ax.get_xticklabels(), rotation=30)
ax.text(2.6, 2900, "Two lines\\nof notes", fontsize=13)
ax.set_yscale("log")
"""

PATH_TEXT = """
import matplotlib.pyplot as plt
from matplotlib.patches import PathPatch
from matplotlib.textpath import TextPath
fig, ax = plt.subplots()
ax.plot([0, 10], [2, 8])
ax.set_xlim(0, 10)
ax.set_ylim(0, 10)
ax.set_title("Pipeline")
ax.add_patch(PathPatch(TextPath((1, 5), "Annual Budget 2025", size=0.9), color="black"))
"""


@pytest.fixture(scope="module")
def rotated_render() -> tuple[LayoutManifest, bytes]:
    result = run_matplotlib(ROTATED)
    assert result.ok and result.png is not None, result.failure
    return LayoutManifest.model_validate(result.manifest), result.png


@pytest.fixture(scope="module")
def path_render() -> tuple[LayoutManifest, bytes]:
    result = run_matplotlib(PATH_TEXT)
    assert result.ok and result.png is not None, result.failure
    return LayoutManifest.model_validate(result.manifest), result.png


# --------------------------------------------------------------------------- comparing texts


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("costs 5 dollars", "costs 5 dollars"),
        ("from $5 to $6", "from 5 to 6"),  # matplotlib reads paired dollars as math
        ("$\\mathdefault{10^{2}}$", "102"),
        ("$-0.5$", "-0.5"),
        ("$30^{\\circ}$", "30°"),
        ("$\\times 10^{-3}$", "× 10-3"),
        ("cost \\$5", "cost $5"),
        ("$\\alpha_i$", None),
        ("$\\frac{1}{2}$", None),
        ("$x_i$ values", None),
    ],
)
def test_plain_text_spells_out_simple_math_only(text: str, plain: str | None) -> None:
    assert plain_text(text) == plain


def test_ocr_keys_forgive_spacing_and_marks_not_digits() -> None:
    assert ocr_key("Revenue (USD), 2024") == "revenueusd2024"
    assert ocr_key("1.00") == "100" and ocr_key("−0.5") == "05"
    assert ocr_key("30°") == ocr_key("30º") == "300"  # a superscript 0 reads as a degree sign
    assert similarity("Quarterly revenue", "Quartery revenue") > 0.9
    assert confirms("Quarterly revenue 2024", "Quartery revenue 2024", 0.8)
    assert not confirms("Revenue 2024", "Revenue 2025", 0.8)
    assert not confirms("1000", "100", 0.8)
    assert not confirms("Quarterly revenue", "", 0.8)


@pytest.mark.parametrize(
    ("haystack", "needle", "hit"),
    [
        ("Quarterly revenue 2024", "revenue", True),
        ("QUARTERLY  REVENUE 2024", "Quarterly revenue", True),
        ("Quartery revenue 2024", "Quarterly revenue 2024", True),
        ("Quarterlyrevenue2024", "Quarterly revenue 2024", True),
        ("Quarterly revenue 2025", "Quarterly revenue 2024", False),
        ("Custom violin 10", "Custom violin 1", False),
        ("northeast", "east", False),
        ("Sales by region", "Annual budget", False),
    ],
)
def test_ocr_contains(haystack: str, needle: str, hit: bool) -> None:
    assert ocr_contains(haystack, needle) is hit


# --------------------------------------------------------------------------- the engine


def test_recognize_reads_drawn_lines_in_one_batch(ocr_engine: Any) -> None:
    font = ImageFont.load_default(size=28)
    lines = ["Revenue 2024", "North", "3,400", "-12.5%"]
    images = []
    for text in lines:
        image = Image.new("RGB", (260, 48), "white")
        ImageDraw.Draw(image).text((10, 8), text, fill="black", font=font)
        images.append(np.asarray(image))
    results = recognize(images)
    assert [confirms(t, r, 0.8) for t, (r, _) in zip(lines, results, strict=True)] == [True] * 4
    assert all(score > 0.5 for _, score in results)
    assert recognize([]) == []


def test_crops_at_known_boxes_confirm_rotated_and_multiline_texts(
    ocr_engine: Any, rotated_render: tuple[LayoutManifest, bytes]
) -> None:
    manifest, png = rotated_render
    readings, skipped = read_texts(manifest, decode(png), CheckSettings())
    by_text = {manifest.by_id(r.element_id).text: r for r in readings}  # type: ignore[union-attr]
    for text in ("North", "Quarterly revenue 2024", "Revenue (USD)", "Two lines\nof notes"):
        assert by_text[text].confirmed, by_text[text]
    assert by_text["North"].text == "North"  # rotated 30°, read upright
    log_ticks = [r for r in readings if r.expected.startswith("10")]
    assert log_ticks and all(r.confirmed for r in log_ticks)  # $\mathdefault{10^{3}}$ → 103
    confirmed = sum(r.confirmed for r in readings) / len(readings)
    assert confirmed >= 0.9, [r for r in readings if not r.confirmed]
    assert set(skipped.values()) <= {"no letters or digits", "math too rich to spell out"}


def test_full_pass_finds_text_the_manifest_does_not_know(
    ocr_engine: Any, path_render: tuple[LayoutManifest, bytes]
) -> None:
    manifest, png = path_render
    detections = attribute(full_pass(decode(png)), manifest)
    stamp = [d for d in detections if ocr_contains(d.text, "Annual Budget 2025")]
    assert stamp and stamp[0].element_ids == ()
    title = [d for d in detections if d.text == "Pipeline"]
    assert title and title[0].element_ids  # attributed to the manifest's title
    report = check(manifest, png, extract_commitments('a chart stamped "Annual Budget 2025"'))
    commitment = report.commitments.required_texts[0]
    assert commitment.status == "satisfied"
    assert commitment.evidence.ocr_text and "2025" in commitment.evidence.ocr_text
    assert "ocr_unknown_text" in {f.code for f in report.findings}


def test_check_reports_ocr_scores_and_evidence(
    ocr_engine: Any, rotated_render: tuple[LayoutManifest, bytes]
) -> None:
    manifest, png = rotated_render
    prompt = 'a chart titled "Quarterly revenue 2024" with a "Budget" label'
    report = check(manifest, png, extract_commitments(prompt))
    assert report.scores["text_confirmed"] >= 0.9
    assert report.scores["ocr_texts_read"] >= 10
    title, budget = report.commitments.required_texts
    assert title.status == "satisfied" and title.evidence.ocr_text
    assert budget.status == "violated"
    assert not report.passed  # the missing "Budget" label


def test_ocr_only_check_of_an_image_without_manifest(
    ocr_engine: Any, rotated_render: tuple[LayoutManifest, bytes]
) -> None:
    manifest, png = rotated_render
    bare = LayoutManifest(width=manifest.width, height=manifest.height)
    prompt = 'titled "Quarterly revenue 2024" with "Region" and "Revenue 2023"'
    report = check(bare, png, extract_commitments(prompt))
    statuses = {c.value: c.status for c in report.commitments.required_texts}
    assert statuses == {
        "Quarterly revenue 2024": "satisfied",
        "Region": "satisfied",
        "Revenue 2023": "violated",
    }
    unknown = next(f for f in report.findings if f.code == "ocr_unknown_text")
    assert "no layout manifest" in unknown.message


def test_a_hidden_text_is_unverified_not_satisfied(ocr_engine: Any) -> None:
    # The title is drawn, then painted over (all but 4%): the manifest has it, a reader not.
    source = """
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [3, 1, 2])
ax.set_title("Hidden headline text", fontsize=16)
fig.add_artist(
    Rectangle((0.2, 0.85), 0.6, 0.15, color="#335577", alpha=0.96, transform=fig.transFigure)
)
"""
    result = run_matplotlib(source)
    assert result.ok and result.png is not None
    manifest = LayoutManifest.model_validate(result.manifest)
    report = check(manifest, result.png, extract_commitments('titled "Hidden headline text"'))
    assert report.commitments.required_texts[0].status == "unverified"
    assert {"low_contrast"} <= {f.code for f in report.findings}


# --------------------------------------------------------------------------- when OCR cannot run


def test_ocr_off_unavailable_and_failing_are_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, rotated_render: tuple[LayoutManifest, bytes]
) -> None:
    manifest, png = rotated_render
    raster = decode(png)
    off = run_ocr(manifest, raster, CheckSettings(ocr="off"))
    assert not off.ran and ocr_findings(off, manifest, CheckSettings(ocr="off")) == []
    none = run_ocr(manifest, None, CheckSettings())
    assert not none.ran and "no readable image" in none.reason

    monkeypatch.setattr(ocr_module, "REQUIRED_MODULES", ("rapidocr", "no_such_ocr_module_x"))
    missing = run_ocr(manifest, raster, CheckSettings())
    assert not missing.ran and "no_such_ocr_module_x not installed" in missing.reason
    info = ocr_findings(missing, manifest, CheckSettings())
    assert [(f.code, f.severity) for f in info] == [("ocr_skipped", "info")]
    assert "cocogen[ocr]" in info[0].message
    wanted = ocr_findings(missing, manifest, CheckSettings(ocr="on"))
    assert [(f.code, f.severity) for f in wanted] == [("ocr_skipped", "warning")]
    report = check(manifest, png, Commitments())
    assert "text_confirmed" not in report.scores
    assert "ocr_skipped" in {f.code for f in report.findings}


def test_an_engine_failure_at_run_time_is_a_reason(
    monkeypatch: pytest.MonkeyPatch, rotated_render: tuple[LayoutManifest, bytes]
) -> None:
    manifest, png = rotated_render
    if ocr_module.ocr_unavailable() is not None:
        pytest.skip("OCR unavailable")

    def broken(images: Any, threads: int = 1) -> Any:
        raise RuntimeError("onnxruntime session died")

    monkeypatch.setattr(ocr_module, "recognize", broken)
    outcome = run_ocr(manifest, decode(png), CheckSettings())
    assert not outcome.ran and "session died" in outcome.reason


def test_importing_the_checker_loads_no_heavy_module() -> None:
    heavy = ("rapidocr", "onnxruntime", "cv2", "matplotlib", "numpy", "PIL")
    code = (
        "import sys, cocogen.checking, cocogen.checking.ocr, cocogen.checking.pixels, "
        f"cocogen.checking.command\nprint([m for m in {heavy!r} if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_engine_is_created_once_per_process(ocr_engine: Any) -> None:
    assert ocr_module.engine() is ocr_engine
    assert ocr_module.engine(1, "full") is ocr_module.engine(1, "full")
    assert ocr_module.engine(1, "full") is not ocr_engine
    out = io.BytesIO()
    Image.new("RGB", (64, 32), "white").save(out, format="PNG")
    assert full_pass(decode(out.getvalue())) == []  # nothing to read, no crash


def test_scripts_the_ocr_model_cannot_read_are_skipped_not_mismatched(ocr_engine: Any) -> None:
    """rapidocr's bundled recogniser reads Latin and CJK; Cyrillic, Greek or Hangul it reads as
    nothing, which must not turn into a warning that the text is wrong."""
    texts = [
        "Привет мир данные",
        "Ελληνικά κείμενο",
        "한국어 텍스트",
        "中文 数据",
        "Straße Ünïcödé",
    ]
    source = (
        "import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(8, 6), dpi=100)\n"
        + "".join(
            f"fig.text(0.05, {0.85 - i * 0.16:.2f}, {t!r}, fontsize=20)\n"
            for i, t in enumerate(texts)
        )
    )
    result = run_matplotlib(source)
    assert result.ok and result.png is not None and result.manifest is not None
    manifest = LayoutManifest.model_validate(result.manifest)
    readings, skipped = read_texts(manifest, decode(result.png), CheckSettings())
    by_text = {e.text: e.id for e in manifest.texts()}
    assert skipped[by_text[texts[0]]] == "Cyrillic script, which the OCR model does not read"
    assert "Greek" in skipped[by_text[texts[1]]] and "Hangul" in skipped[by_text[texts[2]]]
    read = {manifest.by_id(r.element_id).text: r.confirmed for r in readings}  # type: ignore[union-attr]
    assert read == {"中文 数据": True, "Straße Ünïcödé": True}
    report = check(manifest, result.png, Commitments(), CheckSettings(ocr="on"))
    assert not [f for f in report.findings if f.code == "ocr_mismatch"]
