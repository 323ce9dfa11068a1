"""Geometry findings: every code on a defect and on a near miss that must pass.

Manifests are built by hand and, for realism, from real matplotlib (Agg) drawings whose text
boxes come from `get_window_extent` with y flipped to the PNG's top-left origin.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cocogen.checking import CheckSettings, check
from cocogen.checking.geometry import (
    dominant_color_fraction,
    empty_axes_findings,
    geometry_findings,
    overlap_fraction,
    text_clipped_findings,
    text_overlap_findings,
    text_too_small_findings,
)
from cocogen.types import Box, Commitments, Element, Finding, LayoutManifest, Role

GEOMETRY_ONLY = CheckSettings(ocr="off", pixel_checks=False)
"""These tests judge manifests drawn by hand over blank images: no pixels or OCR to judge."""

W, H = 400, 300


def el(id: str, role: Role, box: Box, text: str | None = None, **fields: Any) -> Element:
    if text is None and role in ("title", "axis_label", "tick", "legend", "annotation", "text"):
        text = id
    return Element(id=id, role=role, box=box, text=text, **fields)


def manifest(*elements: Element, width: int = W, height: int = H) -> LayoutManifest:
    return LayoutManifest(width=width, height=height, engine="test", elements=list(elements))


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def png_bytes(
    width: int = W, height: int = H, color: Any = (255, 255, 255), mode: str = "RGB"
) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, format="PNG")
    return out.getvalue()


# --------------------------------------------------------------------------- matplotlib helpers


def mpl_figure(width_in: float, height_in: float, dpi: int = 100) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def mpl_render(fig: Any) -> tuple[Any, bytes]:
    """Draw the figure once; return its renderer and PNG."""
    fig.canvas.draw()
    out = io.BytesIO()
    fig.canvas.print_png(out)
    return fig.canvas.get_renderer(), out.getvalue()


def mpl_text(fig: Any, renderer: Any, id: str, role: Role, text: Any, **fields: Any) -> Element:
    """A manifest element for a drawn matplotlib Text (box flipped to a top-left origin)."""
    bb = text.get_window_extent(renderer)
    height = fig.bbox.height
    return Element(
        id=id,
        role=role,
        box=(float(bb.x0), float(height - bb.y1), float(bb.x1), float(height - bb.y0)),
        text=text.get_text(),
        rotation=float(text.get_rotation()) % 360,
        font_size_px=float(text.get_fontsize()) * fig.dpi / 72,
        **fields,
    )


def mpl_manifest(fig: Any, elements: list[Element]) -> LayoutManifest:
    return LayoutManifest(
        width=round(fig.bbox.width),
        height=round(fig.bbox.height),
        engine="matplotlib",
        elements=elements,
    )


def tick_manifest(fig: Any, ax: Any, renderer: Any) -> LayoutManifest:
    ticks = [
        mpl_text(fig, renderer, f"xt{i}", "tick", t, kind="xtick", parent="ax0")
        for i, t in enumerate(ax.get_xticklabels())
        if t.get_visible() and t.get_text()
    ]
    return mpl_manifest(fig, ticks)


# --------------------------------------------------------------------------- text_overlap


def test_overlapping_texts_are_an_error_naming_both() -> None:
    a = el("a1", "annotation", (100, 100, 200, 120), "Peak sales")
    b = el("a2", "annotation", (150, 100, 250, 120), "Launch")
    [finding] = text_overlap_findings(manifest(a, b))
    assert finding.code == "text_overlap"
    assert finding.severity == "error"
    assert finding.element_ids == ["a1", "a2"]
    assert finding.boxes == [a.box, b.box]
    assert '"Peak sales"' in finding.message and '"Launch"' in finding.message
    assert "[100, 100, 200, 120]" in finding.message
    assert '"Peak sales"' in finding.llm_message and "50%" in finding.llm_message


def test_touching_boxes_do_not_overlap() -> None:
    a = el("a", "text", (100, 100, 200, 120))
    b = el("b", "text", (200, 100, 300, 120))  # shares the x=200 edge
    c = el("c", "text", (100, 120, 200, 140))  # shares the y=120 edge
    assert text_overlap_findings(manifest(a, b, c)) == []


def test_overlap_tolerance_is_a_fraction_of_the_smaller_box() -> None:
    big = el("big", "title", (0, 0, 400, 40), "A long title")
    # small box 20x10 = 200 px²; 2 px of its 10 px height inside the big box = 20%.
    small = el("small", "legend", (100, 38, 120, 48), "x")
    slight = el("slight", "legend", (200, 39, 220, 49), "y")  # 1 px = 10%: passes
    findings = text_overlap_findings(manifest(big, small, slight))
    assert [f.element_ids for f in findings] == [["big", "small"]]
    assert "move the legend" in findings[0].llm_message
    loose = CheckSettings(overlap_tolerance=0.25)
    assert text_overlap_findings(manifest(big, small, slight), loose) == []


def test_an_element_does_not_overlap_itself() -> None:
    a = el("a", "text", (10, 10, 100, 30), "Same")
    dup_id = el("a", "text", (20, 10, 110, 30), "Same moved")
    dup_record = el("b", "text", (10, 10, 100, 30), "Same")
    assert text_overlap_findings(manifest(a, dup_id)) == []
    assert text_overlap_findings(manifest(a, dup_record)) == []
    other = el("c", "text", (10, 10, 100, 30), "Different")
    assert codes(text_overlap_findings(manifest(a, other))) == ["text_overlap"]


def test_non_text_elements_are_ignored() -> None:
    axes = el("ax", "axes", (0, 0, 400, 300))
    bar = el("bar", "shape", (10, 10, 50, 300), kind="bar", parent="ax")
    label = el("t", "annotation", (10, 10, 60, 30), "12")
    assert text_overlap_findings(manifest(axes, bar, label)) == []


def test_crowded_tick_labels_get_one_finding_about_ticks() -> None:
    jan = el("t0", "tick", (100, 250, 160, 262), "January", kind="xtick", parent="ax0")
    feb = el("t1", "tick", (140, 250, 200, 262), "February", kind="xtick", parent="ax0")
    [finding] = text_overlap_findings(manifest(jan, feb))
    assert finding.code == "text_overlap"
    assert "crowded ticks" in finding.message
    assert finding.llm_message.startswith(
        'x tick labels "January" and "February" overlap by 33%: rotate the x tick labels'
    )


def test_many_crowded_ticks_are_reported_once_per_axis() -> None:
    ticks = [
        el(
            f"t{i}",
            "tick",
            (30 * i, 250, 30 * i + 45, 262),
            f"label {i}",
            kind="xtick",
            parent="ax0",
        )
        for i in range(6)
    ]
    yticks = [
        el(f"y{i}", "tick", (0, 20 * i, 25, 20 * i + 15), f"{i}", kind="ytick", parent="ax0")
        for i in range(3)
    ]
    findings = text_overlap_findings(manifest(*ticks, *yticks))
    assert len(findings) == 1
    assert findings[0].element_ids == [f"t{i}" for i in range(6)]
    assert "5 pairs" in findings[0].llm_message


def test_rotated_tick_labels_of_one_axis_get_a_larger_tolerance() -> None:
    # boxes 40x40: shifting by 8 px gives 8*40/1600 = 20% overlap, by 16 px 40%.
    def tick(id: str, x: float, rotation: float, parent: str = "ax0") -> Element:
        return el(
            id, "tick", (x, 200, x + 40, 240), id, kind="xtick", parent=parent, rotation=rotation
        )

    assert text_overlap_findings(manifest(tick("a", 0, 45), tick("b", 32, 45))) == []
    assert codes(text_overlap_findings(manifest(tick("a", 0, 45), tick("b", 24, 45)))) == [
        "text_overlap"
    ]
    assert text_overlap_findings(manifest(tick("a", 0, 315), tick("b", 32, 315))) == []
    # Not rotated, upright at 90° (the box is exact), only one rotated, or different axes:
    # the ordinary tolerance applies.
    for pair in (
        (tick("a", 0, 0), tick("b", 32, 0)),
        (tick("a", 0, 90), tick("b", 32, 90)),
        (tick("a", 0, 45), tick("b", 32, 0)),
        (tick("a", 0, 45), tick("b", 32, 45, parent="ax1")),
    ):
        assert codes(text_overlap_findings(manifest(*pair))) == ["text_overlap"]


def test_real_matplotlib_annotations_at_the_same_place_overlap() -> None:
    fig = mpl_figure(4, 3)
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 3, 2])
    first = ax.annotate("Record high", xy=(1, 3), xytext=(0.8, 2.5))
    second = ax.annotate("Product launch", xy=(1, 3), xytext=(0.8, 2.5))
    far = ax.annotate("Dip", xy=(2, 2), xytext=(1.8, 1.2))
    renderer, png = mpl_render(fig)
    elements = [
        mpl_text(fig, renderer, "n1", "annotation", first),
        mpl_text(fig, renderer, "n2", "annotation", second),
        mpl_text(fig, renderer, "n3", "annotation", far),
    ]
    report = check(mpl_manifest(fig, elements), png, Commitments(), GEOMETRY_ONLY)
    overlaps = [f for f in report.findings if f.code == "text_overlap"]
    assert [f.element_ids for f in overlaps] == [["n1", "n2"]]
    assert not report.passed
    assert report.scores["layout_ok"] == 0.0


def test_real_matplotlib_annotations_apart_pass() -> None:
    fig = mpl_figure(4, 3)
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 3, 2])
    first = ax.annotate("Record high", xy=(1, 3), xytext=(0.2, 2.6))
    second = ax.annotate("Product launch", xy=(1, 3), xytext=(1.1, 1.4))
    renderer, png = mpl_render(fig)
    elements = [
        mpl_text(fig, renderer, "n1", "annotation", first),
        mpl_text(fig, renderer, "n2", "annotation", second),
    ]
    report = check(mpl_manifest(fig, elements), png, Commitments(), GEOMETRY_ONLY)
    assert report.findings == []
    assert report.passed


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def test_real_matplotlib_crowded_month_ticks_overlap() -> None:
    fig = mpl_figure(4, 3)
    ax = fig.add_subplot()
    ax.bar(MONTHS, range(1, 13))
    renderer, _ = mpl_render(fig)
    findings = text_overlap_findings(tick_manifest(fig, ax, renderer))
    assert codes(findings) == ["text_overlap"]
    assert "rotate the x tick labels" in findings[0].llm_message
    assert "crowded" in findings[0].llm_message


def test_real_matplotlib_rotated_ticks_with_overlapping_boxes_pass() -> None:
    labels = [f"Region {i:02d}" for i in range(1, 9)]
    fig = mpl_figure(5, 3)
    ax = fig.add_subplot()
    ax.bar(labels, range(1, 9))
    ax.set_xticks(range(8), labels, rotation=45, ha="right", rotation_mode="anchor")
    fig.subplots_adjust(bottom=0.35)
    renderer, _ = mpl_render(fig)
    m = tick_manifest(fig, ax, renderer)
    worst = max(
        overlap_fraction(a.box, b.box) for a, b in zip(m.elements, m.elements[1:], strict=False)
    )
    assert 0.15 < worst < 0.35  # the boxes do overlap beyond the ordinary tolerance
    assert text_overlap_findings(m) == []
    # Upright, the same labels would be a defect at this width.
    ax.set_xticks(range(8), labels, rotation=0, ha="center")
    renderer, _ = mpl_render(fig)
    assert codes(text_overlap_findings(tick_manifest(fig, ax, renderer))) == ["text_overlap"]


# --------------------------------------------------------------------------- text_clipped


def test_text_past_the_right_edge_is_clipped() -> None:
    label = el("lbl", "annotation", (360, 100, 405, 115), "Outlier")
    [finding] = text_clipped_findings(manifest(label))
    assert finding.code == "text_clipped" and finding.severity == "error"
    assert "right edge" in finding.message and "5 px" in finding.llm_message
    assert finding.element_ids == ["lbl"] and finding.boxes == [label.box]


def test_text_touching_or_barely_past_the_edge_passes() -> None:
    exact = el("exact", "text", (0, 0, W, 20), "full width")
    within = el("within", "text", (-0.8, 280, 50, H + 0.9), "corner")
    assert text_clipped_findings(manifest(exact, within)) == []
    strict = CheckSettings(clip_tolerance_px=0.5)
    assert codes(text_clipped_findings(manifest(exact, within), strict)) == ["text_clipped"]


def test_text_entirely_outside_says_which_side() -> None:
    below = el("low", "text", (50, H + 10, 90, H + 30), "Footnote")
    left = el("lft", "axis_label", (-80, 100, -20, 120), "Revenue")
    findings = text_clipped_findings(manifest(below, left))
    assert codes(findings) == ["text_clipped", "text_clipped"]
    assert "entirely outside" in findings[0].message and "(bottom)" in findings[0].message
    assert "(left)" in findings[1].llm_message


def test_clipped_tick_labels_of_one_axis_are_grouped() -> None:
    ticks = [
        el(
            f"y{i}",
            "tick",
            (-12, 40 * i + 20, 20, 40 * i + 32),
            f"{i}000",
            kind="ytick",
            parent="ax0",
        )
        for i in range(4)
    ]
    [finding] = text_clipped_findings(manifest(*ticks))
    assert finding.element_ids == ["y0", "y1", "y2", "y3"]
    assert "4 y tick labels" in finding.llm_message and "left edge" in finding.llm_message


def _clip_figure(x: float) -> tuple[LayoutManifest, bytes]:
    fig = mpl_figure(3, 2)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.15, right=0.85, top=0.95, bottom=0.15)
    ax.plot([0, 1], [0, 1])
    note = ax.text(x, 0.5, "Target reached", transform=ax.transAxes)
    renderer, png = mpl_render(fig)
    return mpl_manifest(fig, [mpl_text(fig, renderer, "note", "text", note)]), png


def test_real_matplotlib_text_past_the_axes_on_a_tight_canvas_is_clipped() -> None:
    m, png = _clip_figure(1.05)
    report = check(m, png, Commitments(), GEOMETRY_ONLY)
    assert codes(report.findings) == ["text_clipped"]
    assert "right edge" in report.findings[0].message
    assert not report.passed


def test_real_matplotlib_text_inside_the_axes_passes() -> None:
    m, png = _clip_figure(0.3)
    assert check(m, png, Commitments(), GEOMETRY_ONLY).findings == []


# --------------------------------------------------------------------------- text_too_small


def test_small_text_is_a_warning_and_does_not_fail_the_check() -> None:
    small = el("s", "annotation", (10, 10, 40, 18), "tiny", font_size_px=7.5)
    ok = el("ok", "title", (10, 50, 200, 70), "Readable", font_size_px=9.0)
    unknown = el("u", "text", (10, 100, 200, 104), "no size")
    m = manifest(small, ok, unknown)
    [finding] = text_too_small_findings(m)
    assert finding.code == "text_too_small" and finding.severity == "warning"
    assert finding.element_ids == ["s"]
    assert '"tiny"' in finding.llm_message and "9 px" in finding.llm_message
    report = check(m, None, Commitments(), GEOMETRY_ONLY)
    assert report.passed and report.scores["layout_ok"] == 1.0
    assert report.count("warning") == 1
    assert text_too_small_findings(m, CheckSettings(min_text_px=7)) == []


def test_small_tick_labels_are_reported_together() -> None:
    ticks = [
        el(
            f"t{i}",
            "tick",
            (50 * i, 280, 50 * i + 20, 288),
            str(i),
            kind="xtick",
            font_size_px=6.0 + i / 10,
        )
        for i in range(5)
    ]
    [finding] = text_too_small_findings(manifest(*ticks))
    assert len(finding.element_ids) == 5
    assert "5 x tick labels" in finding.llm_message and "and 2 more" in finding.llm_message


# --------------------------------------------------------------------------- blank_canvas


def test_blank_png_without_elements_is_blank_canvas() -> None:
    report = check(manifest(), png_bytes(), Commitments(), GEOMETRY_ONLY)
    assert codes(report.findings) == ["blank_canvas"]
    assert report.findings[0].severity == "error"
    assert not report.passed and report.scores["layout_ok"] == 0.0


def test_blank_png_with_non_text_elements_and_no_text_is_blank() -> None:
    axes = el("ax", "axes", (40, 30, 380, 270))
    assert codes(geometry_findings(manifest(axes), png_bytes())) == ["blank_canvas"]


def test_blank_png_with_text_in_the_manifest_is_not_blank_canvas() -> None:
    title = el("t", "title", (100, 10, 300, 30), "White on white")
    assert geometry_findings(manifest(title), png_bytes()) == []


def test_a_small_drawing_is_not_blank() -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (W, H), "white")
    ImageDraw.Draw(image).rectangle((10, 10, 40, 40), fill="navy")  # ~1% of the pixels
    out = io.BytesIO()
    image.save(out, format="PNG")
    assert dominant_color_fraction(out.getvalue()) < 0.995
    assert geometry_findings(manifest(), out.getvalue()) == []


def test_near_uniform_noise_and_transparency_count_as_blank() -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    noise = rng.integers(244, 256, size=(H, W, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise).save(out, format="PNG")
    assert codes(geometry_findings(manifest(), out.getvalue())) == ["blank_canvas"]
    transparent = png_bytes(color=(0, 0, 0, 0), mode="RGBA")
    assert codes(geometry_findings(manifest(), transparent)) == ["blank_canvas"]


def test_no_png_gives_no_blank_finding_and_bad_png_is_reported() -> None:
    assert geometry_findings(manifest(), None) == []
    [finding] = geometry_findings(manifest(), b"not a png")
    assert finding.code == "png_unreadable" and finding.severity == "error"


def test_real_matplotlib_empty_figure_is_blank_and_a_plot_is_not() -> None:
    fig = mpl_figure(3, 2)
    _, png = mpl_render(fig)
    m = mpl_manifest(fig, [])
    assert codes(check(m, png, Commitments(), GEOMETRY_ONLY).findings) == ["blank_canvas"]

    fig = mpl_figure(3, 2)
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [0, 2, 1], linewidth=3)
    ax.set_axis_off()
    _, png = mpl_render(fig)
    assert check(mpl_manifest(fig, []), png, Commitments(), GEOMETRY_ONLY).findings == []


# --------------------------------------------------------------------------- empty_axes


def test_axes_without_marks_is_a_warning_naming_its_title() -> None:
    ax0 = el("ax0", "axes", (20, 20, 190, 280))
    ax1 = el("ax1", "axes", (210, 20, 380, 280))
    bar = el("b0", "shape", (40, 100, 60, 280), kind="bar", parent="ax0")
    title = el("t1", "title", (250, 5, 340, 18), "Costs", parent="ax1")
    [finding] = empty_axes_findings(manifest(ax0, ax1, bar, title))
    assert finding.code == "empty_axes" and finding.severity == "warning"
    assert finding.element_ids == ["ax1"] and finding.boxes == [ax1.box]
    assert '"Costs"' in finding.llm_message
    report = check(manifest(ax0, ax1, bar, title), None, Commitments(), GEOMETRY_ONLY)
    assert report.passed and report.scores["layout_ok"] == 1.0


def test_axes_with_marks_or_an_image_or_old_manifests_pass() -> None:
    ax0 = el("ax0", "axes", (20, 20, 190, 280))
    ax1 = el("ax1", "axes", (210, 20, 380, 280))
    line = el("l0", "shape", (30, 30, 180, 270), kind="line", parent="ax0")
    heat = el("i1", "image", (210, 20, 380, 280), parent="ax1")
    assert empty_axes_findings(manifest(ax0, ax1, line, heat)) == []
    # A manifest that records no marks at all (an older renderer) is not judged.
    assert empty_axes_findings(manifest(ax0, ax1)) == []


# --------------------------------------------------------------------------- check()


def test_check_scores_and_order() -> None:
    small = el("s", "annotation", (10, 10, 40, 18), "tiny", font_size_px=5)
    a = el("a", "text", (100, 100, 200, 120), "one")
    b = el("b", "text", (110, 100, 210, 120), "two")
    report = check(manifest(small, a, b), png_bytes(), Commitments(), GEOMETRY_ONLY)
    assert codes(report.findings) == ["text_overlap", "text_too_small"]  # errors first
    assert report.scores == {
        "layout_ok": 0.0,
        "commitments_satisfied": 1.0,
        "text_elements": 3.0,
    }
    assert not report.passed


def test_importing_the_checker_does_not_import_matplotlib() -> None:
    code = (
        "import sys, cocogen.checking, cocogen.checking.geometry, cocogen.checking.overlay; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root)},
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_settings_are_frozen_and_validated() -> None:
    settings = CheckSettings()
    with pytest.raises(ValueError):
        settings.min_text_px = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        CheckSettings(overlap_tolerance=1.5)


def _slanted_tick(id: str, left: float, angle: float = 40, width: float = 100) -> Element:
    """A tick label `width`×15 px turned by `angle`, as its axis-aligned box records it."""
    import math

    t = math.radians(angle)
    w = width * math.cos(t) + 15 * math.sin(t)
    h = width * math.sin(t) + 15 * math.cos(t)
    return el(
        id,
        "tick",
        (left, 150, left + w, 150 + h),
        f"label {id}",
        kind="xtick",
        parent="ax0",
        rotation=angle,
        font_size_px=12,
    )


def test_slanted_labels_overlap_only_where_their_glyphs_do() -> None:
    """Boxes of slanted labels overlap although the rotated text does not: judged by the
    rectangles the glyphs really occupy."""
    apart = manifest(_slanted_tick("a", 100), _slanted_tick("b", 140), _slanted_tick("c", 180))
    assert text_overlap_findings(apart) == []
    crowded = manifest(_slanted_tick("a", 100), _slanted_tick("b", 106))
    (finding,) = text_overlap_findings(crowded)
    assert finding.element_ids == ["a", "b"]
