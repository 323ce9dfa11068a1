"""Manifest boxes are in the PNG's own pixels: text pixels lie in boxes, boxes hold text.

Programs draw all text in pure red and everything else in non-red colours, so the red pixels of the
PNG are exactly the text; comparing them with the manifest's boxes checks the boxes at the pixel.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from support import box_mask, in_ci, pixels, red_mask, run_matplotlib

RED_TEXT = """
import matplotlib
import matplotlib.pyplot as plt
for key in ("text.color", "axes.labelcolor", "xtick.labelcolor", "ytick.labelcolor"):
    matplotlib.rcParams[key] = "#ff0000"
matplotlib.rcParams["axes.edgecolor"] = "#404040"
fig, ax = plt.subplots(figsize=(6.4, 4.8))
ax.bar(["alpha", "beta", "gamma", "delta"], [3, 7, 5, 9], color="#3060c0", label="counts")
ax.set_title("Quarterly counts")
ax.set_xlabel("Category")
ax.set_ylabel("Count")
ax.legend(loc="upper left")
ax.annotate("peak", xy=(3, 9), xytext=(2.2, 8.3), color="#ff0000")
"""


def check_boxes_match_pixels(png: bytes, manifest: dict) -> None:
    rgb = pixels(png)
    height, width = rgb.shape[:2]
    assert (manifest["width"], manifest["height"]) == (width, height)
    texts = [e for e in manifest["elements"] if e.get("text")]
    assert texts, "no text elements in the manifest"
    red = red_mask(rgb)
    # Every box lies inside the image and holds red (text) pixels.
    for element in texts:
        x0, y0, x1, y1 = element["box"]
        assert -1 <= x0 < x1 <= width + 1 and -1 <= y0 < y1 <= height + 1, element
        inside = box_mask(rgb.shape, [element["box"]], pad=0)
        assert red[inside].sum() >= 5, f"box of {element['text']!r} holds no text pixels"
    # No red pixel lies outside the union of the boxes (1 px of antialiasing allowed).
    outside = red & ~box_mask(rgb.shape, [e["box"] for e in texts], pad=1.5)
    assert outside.sum() == 0, f"{outside.sum()} text pixels outside every box"


@pytest.mark.parametrize("dpi", [72, 100, 200])
def test_boxes_match_pixels_at_dpi(dpi: int) -> None:
    program = RED_TEXT.replace("figsize=(6.4, 4.8)", f"figsize=(6.4, 4.8), dpi={dpi}")
    result = run_matplotlib(program)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    assert result.manifest["width"] == int(6.4 * dpi)
    check_boxes_match_pixels(result.png, result.manifest)


def test_boxes_match_pixels_with_bbox_inches_tight() -> None:
    program = RED_TEXT + "fig.savefig('chart.png', dpi=150, bbox_inches='tight', pad_inches=0.3)\n"
    result = run_matplotlib(program)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    # Tight cropping changes the size: it is no longer 6.4 x 4.8 in at 150 dpi.
    assert result.manifest["width"] != 960
    check_boxes_match_pixels(result.png, result.manifest)


def test_rotated_tick_labels() -> None:
    program = RED_TEXT + (
        "ax.set_xticks(range(4), ['alpha long', 'beta longer', 'gamma', 'delta'],"
        " rotation=45, ha='right', rotation_mode='anchor')\nfig.tight_layout()\n"
    )
    result = run_matplotlib(program)
    assert result.ok, result.failure
    assert result.png is not None and result.manifest is not None
    ticks = [e for e in result.manifest["elements"] if e.get("kind") == "xtick"]
    assert [t["text"] for t in ticks] == ["alpha long", "beta longer", "gamma", "delta"]
    assert all(t["rotation"] == 45.0 for t in ticks)
    for tick in ticks:  # a 45° label's box is about as tall as it is wide
        x0, y0, x1, y1 = tick["box"]
        assert 0.6 < (y1 - y0) / (x1 - x0) < 1.6
    check_boxes_match_pixels(result.png, result.manifest)


def test_roles_and_fields() -> None:
    result = run_matplotlib(RED_TEXT)
    assert result.manifest is not None
    by_text = {e.get("text"): e for e in result.manifest["elements"] if e.get("text")}
    assert by_text["Quarterly counts"]["role"] == "title"
    assert by_text["Category"]["role"] == "axis_label"
    assert by_text["Count"]["rotation"] == 90.0
    assert by_text["alpha"]["role"] == "tick"
    assert by_text["counts"]["role"] == "legend"
    assert by_text["peak"]["role"] == "annotation"
    assert by_text["alpha"]["color"] == "#ff0000"
    assert by_text["alpha"]["font_size_px"] == pytest.approx(10 * 100 / 72, abs=0.01)
    kinds = [e.get("kind") for e in result.manifest["elements"] if e["role"] == "shape"]
    assert kinds.count("bar") == 4
    axes = [e for e in result.manifest["elements"] if e["role"] == "axes"]
    assert len(axes) == 1
    assert by_text["alpha"]["parent"] == axes[0]["id"]


def test_canvas_size_from_the_job_when_the_program_does_not_choose() -> None:
    program = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('t')\n"
    result = run_matplotlib(program, width=640, height=360, dpi=80)
    assert result.ok and result.manifest is not None
    assert (result.manifest["width"], result.manifest["height"]) == (640, 360)


def test_same_program_same_bytes() -> None:
    program = (
        RED_TEXT
        + "import numpy as np\nax.scatter(np.random.rand(20) * 3, np.random.rand(20) * 9)\n"
    )
    first = run_matplotlib(program, seed=7)
    second = run_matplotlib(program, seed=7)
    other_seed = run_matplotlib(program, seed=8)
    assert first.png == second.png
    assert first.manifest == second.manifest
    assert first.png != other_seed.png
    assert first.png is not None
    assert b"tIME" not in first.png and b"Software" not in first.png


def test_cjk_text_renders_with_real_glyphs() -> None:
    """Tofu (the missing-glyph box) is the same bitmap for every character; real glyphs differ."""
    program = (
        "import matplotlib.pyplot as plt\n"
        "fig = plt.figure(figsize=(4, 2), dpi=100)\n"
        "for i, ch in enumerate(['北', '京', '東', '語']):\n"
        "    fig.text(0.1 + i * 0.2, 0.5, ch, fontsize=28)\n"
    )
    result = run_matplotlib(program)
    assert result.ok and result.png is not None and result.manifest is not None
    chain = result.manifest["elements"][0].get("font_family")
    assert chain is not None
    rgb = pixels(result.png)
    crops = []
    for element in result.manifest["elements"]:
        x0, y0, x1, y1 = (round(v) for v in element["box"])
        crop = rgb[y0:y1, x0:x1].mean(axis=2) < 128
        assert crop.sum() > 20, f"{element['text']} drew nothing"
        crops.append(crop)
    if not in_ci() and all(np.array_equal(crops[0], c) for c in crops[1:]):
        pytest.skip("no CJK font installed here (Debian fonts-noto-cjk); CI installs it")
    for i in range(len(crops)):
        for j in range(i + 1, len(crops)):
            assert crops[i].shape != crops[j].shape or not np.array_equal(crops[i], crops[j]), (
                "two different CJK characters drew the same bitmap: missing-glyph boxes"
            )


def test_program_that_saved_a_file_delivers_that_figure() -> None:
    program = (
        "import matplotlib.pyplot as plt\n"
        "a = plt.figure(figsize=(3, 2)); a.text(0.1, 0.5, 'first')\n"
        "b = plt.figure(figsize=(5, 2)); b.text(0.1, 0.5, 'second')\n"
        "b.savefig('out.png', dpi=50)\n"
    )
    result = run_matplotlib(program)
    assert result.ok, result.failure
    assert result.manifest is not None and result.png is not None
    assert [e["text"] for e in result.manifest["elements"]] == ["second"]
    assert Image.open(io.BytesIO(result.png)).size == (250, 100)
    assert any("2 figures" in note for note in result.notes)
