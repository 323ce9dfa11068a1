"""Pixel checks: WCAG contrast of texts against their surroundings, and missing-glyph boxes.

Images are drawn with Pillow (text in a real font, rectangles as tofu) so that each expected
number follows from what was drawn; the missing-glyph check on real matplotlib renders is in
the cases folder.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from cocogen.checking import CheckSettings, check
from cocogen.checking.pixels import (
    contrast_ratio,
    frame_count,
    low_contrast_findings,
    measure_contrast,
    missing_glyph_findings,
    relative_luminance,
)
from cocogen.checking.raster import decode, upright_crop, upright_size
from cocogen.types import Box, Commitments, Element, LayoutManifest

W, H = 400, 200
PIXELS_ONLY = CheckSettings(ocr="off")


def canvas(background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    return Image.new("RGB", (W, H), background)


def png_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def draw_text(
    image: Image.Image, xy: tuple[int, int], text: str, color: str, size: int = 20
) -> Box:
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size)
    draw.text(xy, text, fill=color, font=font)
    x0, y0, x1, y1 = draw.textbbox(xy, text, font=font)
    return (float(x0), float(y0), float(x1), float(y1))


def text_el(id: str, box: Box, text: str, size: float = 20.0, **fields: object) -> Element:
    return Element(id=id, role="text", box=box, text=text, font_size_px=size, **fields)  # type: ignore[arg-type]


def manifest(*elements: Element) -> LayoutManifest:
    return LayoutManifest(width=W, height=H, engine="test", elements=list(elements))


# --------------------------------------------------------------------------- WCAG arithmetic


def test_wcag_contrast_of_known_colours() -> None:
    white, black = (
        relative_luminance(np.array([255, 255, 255])),
        relative_luminance(np.array([0, 0, 0])),
    )
    assert float(contrast_ratio(white, black)) == pytest.approx(21.0)
    assert float(contrast_ratio(black, white)) == pytest.approx(21.0)
    grey = relative_luminance(np.array([0x77, 0x77, 0x77]))
    assert float(contrast_ratio(grey, white)) == pytest.approx(4.48, abs=0.01)  # WCAG's #777
    assert float(contrast_ratio(white, white)) == pytest.approx(1.0)


# --------------------------------------------------------------------------- contrast


@pytest.mark.parametrize(
    ("color", "background", "low", "high"),
    [
        ("#000000", (255, 255, 255), 15.0, 21.0),
        ("#dddddd", (255, 255, 255), 1.2, 1.45),
        ("#ffffff", (35, 57, 93), 9.0, 13.0),  # white label on a dark bar
    ],
)
def test_measured_contrast_follows_the_drawn_colours(
    color: str, background: tuple[int, int, int], low: float, high: float
) -> None:
    image = canvas(background)
    box = draw_text(image, (40, 60), "Revenue 2024", color)
    reading = measure_contrast(decode(png_of(image)), text_el("t", box, "Revenue 2024"))
    assert reading is not None
    assert low <= reading.ratio <= high
    assert reading.background == pytest.approx(background, abs=1)


def test_light_text_is_an_error_mid_grey_a_warning_dark_nothing() -> None:
    image = canvas()
    boxes = {
        "light": draw_text(image, (10, 10), "light grey", "#dddddd"),
        "mid": draw_text(image, (10, 60), "mid grey", "#aaaaaa"),
        "dark": draw_text(image, (10, 110), "dark grey", "#595959"),
    }
    m = manifest(*(text_el(k, b, f"{k} grey") for k, b in boxes.items()))
    findings = low_contrast_findings(m, decode(png_of(image)), CheckSettings())
    by_id = {f.element_ids[0]: f for f in findings}
    assert set(by_id) == {"light", "mid"}
    assert by_id["light"].severity == "error"
    assert by_id["mid"].severity == "warning"
    assert "#ffffff" in by_id["light"].message and "light grey" in by_id["light"].llm_message


def test_invisible_text_and_thresholds_from_settings() -> None:
    image = canvas()
    box = draw_text(image, (10, 10), "visible", "#aaaaaa")
    ghost = text_el("ghost", (200.0, 100.0, 300.0, 120.0), "white on white")
    m = manifest(text_el("v", box, "visible"), ghost)
    raster = decode(png_of(image))
    findings = low_contrast_findings(m, raster, CheckSettings())
    ghost_finding = next(f for f in findings if f.element_ids == ["ghost"])
    assert ghost_finding.severity == "error" and "invisible" in ghost_finding.message
    # A stricter error threshold turns the mid grey into an error; a laxer one drops it.
    strict = low_contrast_findings(m, raster, CheckSettings(min_contrast_error=2.5))
    assert {f.element_ids[0]: f.severity for f in strict}["v"] == "error"
    lax = low_contrast_findings(m, raster, CheckSettings(min_contrast=2.0))
    assert [f.element_ids for f in lax] == [["ghost"]]


def test_texts_below_the_minimum_size_are_left_to_text_too_small() -> None:
    image = canvas()
    box = draw_text(image, (10, 10), "tiny", "#eeeeee", size=8)
    m = manifest(text_el("t", box, "tiny", size=6.0))
    assert low_contrast_findings(m, decode(png_of(image)), CheckSettings()) == []


def test_check_reports_contrast_and_pixel_checks_can_be_turned_off() -> None:
    image = canvas()
    box = draw_text(image, (10, 10), "light grey", "#e0e0e0")
    m = manifest(text_el("t", box, "light grey"))
    report = check(m, png_of(image), Commitments(), PIXELS_ONLY)
    assert [f.code for f in report.findings] == ["low_contrast"]
    assert not report.passed and report.scores["layout_ok"] == 0.0
    quiet = check(m, png_of(image), Commitments(), CheckSettings(ocr="off", pixel_checks=False))
    assert quiet.findings == [] and quiet.passed


# --------------------------------------------------------------------------- missing glyphs


def draw_frame(image: Image.Image, x: int, y: int, size: int, inner: bool = True) -> None:
    draw = ImageDraw.Draw(image)
    draw.rectangle((x, y, x + size - 4, y + size), outline="black", width=2)
    if inner:  # the hex digits some fonts draw inside their .notdef box
        draw.line((x + 5, y + 5, x + 5, y + size - 5), fill="black", width=1)


def test_frame_count_finds_boxes_but_not_letters() -> None:
    image = canvas()
    box = draw_text(image, (10, 10), "B08 OD", "#000000", size=24)
    draw_frame(image, 120, 10, 24)
    draw_frame(image, 150, 10, 24, inner=False)
    raster = decode(png_of(image))
    letters = upright_crop(raster, text_el("t", box, "B08 OD", size=24.0))
    assert letters is not None
    assert frame_count(letters[0], letters[1], 24.0) == 0
    frames = upright_crop(raster, text_el("f", (115.0, 6.0, 180.0, 38.0), "xx", size=24.0))
    assert frames is not None
    assert frame_count(frames[0], frames[1], 24.0) == 2


def test_missing_glyph_needs_more_frames_than_box_shaped_characters() -> None:
    image = canvas()
    draw_text(image, (10, 10), "Tablet", "#000000", size=24)
    draw_frame(image, 90, 12, 24)
    raster = decode(png_of(image))
    box = (8.0, 6.0, 120.0, 40.0)
    tofu = text_el("tofu", box, "Tablet \U00010000", size=24.0)
    findings = missing_glyph_findings(manifest(tofu), raster)
    assert [f.code for f in findings] == ["missing_glyph"]
    assert findings[0].severity == "error" and "U+10000" in findings[0].message
    # The same pixels for a text whose real glyph is a box (CJK 口): nothing missing.
    mouth = text_el("mouth", box, "Tablet \u53e3", size=24.0)
    assert missing_glyph_findings(manifest(mouth), raster) == []
    # ASCII-only texts are never suspected.
    ascii_only = text_el("ascii", box, "Tablet []", size=24.0)
    assert missing_glyph_findings(manifest(ascii_only), raster) == []


# --------------------------------------------------------------------------- crops


def test_upright_size_inverts_the_rotated_box() -> None:
    # A 100×20 text rotated by 30°: the box is 100cos+20sin wide, 100sin+20cos tall.
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    box = (0.0, 0.0, float(100 * c + 20 * s), float(100 * s + 20 * c))
    w, h = upright_size(Element(id="r", role="text", box=box, text="x", rotation=30.0))
    assert w == pytest.approx(100, abs=1) and h == pytest.approx(20, abs=1)
    w, h = upright_size(Element(id="v", role="text", box=(0, 0, 20, 100), text="x", rotation=90))
    assert (w, h) == (100, 20)


def test_upright_crop_turns_quarter_rotations_exactly() -> None:
    image = canvas()
    draw = ImageDraw.Draw(image)
    draw.rectangle((50, 20, 59, 119), fill="black")  # a tall bar = a vertical "text" 100×10
    draw.rectangle((50, 20, 59, 29), fill="red")  # its end at the top = the text's end
    raster = decode(png_of(image))
    cut = upright_crop(
        raster, Element(id="v", role="text", box=(50, 20, 60, 120), text="a", rotation=90)
    )
    assert cut is not None
    upright, _ = cut
    assert upright.shape[:2] == (10, 100)
    # Text rotated 90° reads bottom to top: upright, its end (red) is on the right.
    assert tuple(upright[5, -3]) == (255, 0, 0) and tuple(upright[5, 3]) == (0, 0, 0)
