"""The SVG renderer: boxes from cairo match the pixels, rotation, CJK glyphs, svgwrite programs,
the Chromium fallback, and bad documents named by line.

Every document draws its text, and only its text, in #ff0000, so the red pixels of the PNG are
exactly the text and can be compared with the manifest's boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import check_text_boxes, in_ci, pixels, run_renderer

from renderers._browser import chromium_path
from sandbox.wire import Job

needs_chromium = pytest.mark.skipif(
    chromium_path() is None and not in_ci(), reason="no Chromium here (Debian package chromium)"
)

RED_SVG = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400" viewBox="0 0 320 200">
  <rect width="320" height="200" fill="#f0f4ff"/>
  <rect x="20" y="120" width="60" height="60" fill="#3060c0"/>
  <text id="title" x="160" y="30" text-anchor="middle" font-size="20"
        fill="#ff0000">Quarterly report</text>
  <text class="axis-label" x="30" y="110" font-size="12"
        fill="#ff0000">Count <tspan font-weight="bold">(k)</tspan></text>
  <g transform="translate(290 160) rotate(-90)">
    <text x="0" y="0" font-size="14" fill="#ff0000">Vertical</text>
  </g>
  <text x="120" y="150" font-size="16" fill="#ff0000" transform="rotate(30 120 150)">Slanted</text>
  <text x="10" y="190" font-size="10" fill="#ff0000" visibility="hidden">hidden</text>
</svg>
"""


def test_boxes_match_pixels_with_viewbox_scaling_and_rotation() -> None:
    result = run_renderer("svg", RED_SVG)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    assert result.engine == "cairosvg"
    assert (result.manifest["width"], result.manifest["height"]) == (640, 400)
    check_text_boxes(result.png, result.manifest)
    texts = {e["text"]: e for e in result.manifest["elements"] if e.get("text")}
    assert set(texts) == {"Quarterly report", "Count (k)", "Vertical", "Slanted"}
    assert texts["Quarterly report"]["role"] == "title"
    assert texts["Count (k)"]["role"] == "axis_label"
    assert texts["Quarterly report"]["font_size_px"] == pytest.approx(40.0)  # viewBox x2
    assert texts["Quarterly report"]["color"] == "#ff0000"
    assert texts["Quarterly report"]["background"] == "#f0f4ff"
    assert texts["Vertical"]["rotation"] == pytest.approx(90.0)
    assert texts["Slanted"]["rotation"] == pytest.approx(330.0)
    x0, y0, x1, y1 = texts["Vertical"]["box"]
    assert (y1 - y0) > 2 * (x1 - x0), "a vertical text's box is tall and narrow"
    shapes = [e for e in result.manifest["elements"] if e["role"] == "shape"]
    assert [s["box"] for s in shapes] == [[40.0, 240.0, 160.0, 360.0]]  # the background is left out


def test_same_document_same_bytes() -> None:
    first, second = run_renderer("svg", RED_SVG), run_renderer("svg", RED_SVG)
    assert first.png == second.png and first.manifest == second.manifest


def test_cjk_text_renders_with_real_glyphs() -> None:
    """cairo has no per-glyph fallback: the renderer must switch the family to a CJK one."""
    chars = ["北", "京", "東", "語"]
    texts = "".join(
        f'<text x="{20 + i * 70}" y="60" font-family="sans-serif" font-size="40">{c}</text>'
        for i, c in enumerate(chars)
    )
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="320" height="100">{texts}</svg>'
    result = run_renderer("svg", svg)
    assert result.ok and result.png is not None and result.manifest is not None
    rgb = pixels(result.png)
    crops = []
    for element in result.manifest["elements"]:
        x0, y0, x1, y1 = (round(v) for v in element["box"])
        crops.append(rgb[y0:y1, x0:x1].mean(axis=2) < 128)
    assert len(crops) == 4
    if not in_ci() and not any("fallback" in note for note in result.notes):
        pytest.skip("no CJK font installed here (Debian fonts-noto-cjk); CI installs it")
    assert all(e["font_family"].startswith("Noto Sans CJK") for e in result.manifest["elements"])
    for i in range(4):
        for j in range(i + 1, 4):
            assert crops[i].shape != crops[j].shape or not np.array_equal(crops[i], crops[j])


def test_svgwrite_program() -> None:
    program = (
        "import svgwrite\n"
        "d = svgwrite.Drawing('chart.svg', size=(300, 120))\n"
        "d.add(d.rect((0, 0), (300, 120), fill='white'))\n"
        "d.add(d.text('Made with svgwrite', insert=(10, 60), font_size=22, fill='#ff0000'))\n"
        "d.save()\n"
    )
    result = run_renderer("svg", program)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    assert [e["text"] for e in result.manifest["elements"]] == ["Made with svgwrite"]
    check_text_boxes(result.png, result.manifest)


def test_svgwrite_program_error_names_the_line() -> None:
    result = run_renderer("svg", "import svgwrite\nd = svgwrite.Drawing()\nd.add(d.nope())\n")
    assert result.failure is not None
    assert "AttributeError" in result.failure["message"]
    assert "line 3" in result.failure["traceback_tail"]


@needs_chromium
def test_foreign_object_is_drawn_by_chromium() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200">'
        '<rect width="400" height="200" fill="white"/>'
        '<foreignObject x="20" y="20" width="300" height="100">'
        '<div xmlns="http://www.w3.org/1999/xhtml" style="color:#ff0000;font-size:24px">'
        "Wrapped HTML text</div></foreignObject>"
        '<text x="20" y="180" font-size="20" fill="#ff0000">SVG text</text></svg>'
    )
    result = run_renderer("svg", svg)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    assert result.engine == result.manifest["engine"] == "chromium"
    assert any("foreignObject" in note for note in result.notes)
    assert {e["text"] for e in result.manifest["elements"] if e.get("text")} == {
        "Wrapped HTML text",
        "SVG text",
    }
    check_text_boxes(result.png, result.manifest, pad=2)


@needs_chromium
def test_svg_that_cairosvg_cannot_parse_is_drawn_by_chromium(cache_dir: Path) -> None:
    """In the pool (the default runner) the worker's warm browser takes over; the one-shot
    child starts a browser only when the SVG's features call for one."""
    from sandbox.pool import WorkerPool

    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="120">'
        '<rect width="300" height="120" fill="white"/>'
        '<rect x="10" y="10" width="280" height="40" fill="#0000ff" opacity="50%"/>'
        '<text x="20" y="100" font-size="24" fill="#ff0000">Half opaque</text></svg>'
    )
    with WorkerPool(1, cache_dir=cache_dir) as pool:
        result = pool.run(Job(renderer="renderers.svg:render", source=svg, language="svg"))
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    assert result.engine == "chromium"
    assert any("cairosvg could not draw" in note and "50%" in note for note in result.notes)
    check_text_boxes(result.png, result.manifest, pad=2)
    # Asked for cairo, the same SVG is a clear error instead.
    forced = run_renderer("svg", svg, options={"engine": "cairo"})
    assert forced.failure is not None and "cairosvg could not draw" in forced.failure["message"]


@pytest.mark.parametrize(
    ("svg", "expected"),
    [
        ('<svg xmlns="http://www.w3.org/2000/svg">\n<g>\n<rect/>\n</svg>', "line 4"),
        ('<svg xmlns="http://www.w3.org/2000/svg">\n<text x="1" y=2>a</text></svg>', "line 2"),
        ("<html><body>not svg</body></html>", "<html>"),
    ],
)
def test_bad_documents_give_one_line_errors(svg: str, expected: str) -> None:
    result = run_renderer("svg", svg)
    assert result.failure is not None
    assert result.failure["kind"] == "error"
    assert expected in result.failure["message"]
    assert "\n" not in result.failure["message"]
