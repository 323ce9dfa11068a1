"""The overlay picture: right size, boxes in the right colours, same inputs → same bytes."""

from __future__ import annotations

import io

from PIL import Image

from cocogen.checking import CheckSettings, check, draw_overlay
from cocogen.types import Commitments, Element, Finding, LayoutManifest

GEOMETRY_ONLY = CheckSettings(ocr="off", pixel_checks=False)
"""These tests judge manifests drawn by hand over blank images: no pixels or OCR to judge."""

W, H = 320, 240


def png(mode: str = "RGB", color: object = (0, 0, 0)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (W, H), color).save(out, format="PNG")  # type: ignore[arg-type]
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image.convert("RGB")


MANIFEST = LayoutManifest(
    width=W,
    height=H,
    elements=[
        Element(id="ax", role="axes", box=(20, 20, 300, 220)),
        Element(id="bar", role="shape", box=(200, 120, 240, 220), kind="bar", parent="ax"),
        Element(id="t1", role="text", box=(60, 100, 140, 160), text="Overlapping"),
        Element(id="t2", role="annotation", box=(250, 40, 290, 60), text="Note"),
    ],
)
ERROR = Finding(code="text_overlap", severity="error", message="m", boxes=[(60, 100, 140, 160)])
WARNING = Finding(
    code="text_too_small", severity="warning", message="w", boxes=[(250, 40, 290, 60)]
)


def is_red(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 180 and g < 90 and b < 90


def test_overlay_has_the_input_size_and_is_a_png() -> None:
    out = draw_overlay(png(), MANIFEST, [ERROR, WARNING])
    assert decode(out).size == (W, H)
    rgba = draw_overlay(png("RGBA", (0, 0, 0, 0)), MANIFEST, [ERROR])
    assert decode(rgba).size == (W, H)


def test_error_boxes_are_red_warnings_orange_elements_thin_and_blue() -> None:
    image = decode(draw_overlay(png(), MANIFEST, [ERROR, WARNING]))
    # Left and bottom borders of the error box (3+ px thick), away from its label.
    for xy in [(60, 130), (61, 130), (62, 130), (100, 160), (100, 159)]:
        assert is_red(image.getpixel(xy)), (xy, image.getpixel(xy))  # type: ignore[arg-type]
    assert not is_red(image.getpixel((100, 130)))  # type: ignore[arg-type]
    r, g, b = image.getpixel((250, 50))  # type: ignore[misc]
    assert r > 200 and 100 < g < 180 and b < 60  # orange
    r, g, b = image.getpixel((20, 200))  # type: ignore[misc]  # axes border: grey
    assert abs(r - g) < 10 and abs(g - b) < 10 and r > 100
    r, g, b = image.getpixel((21, 200))  # type: ignore[misc]  # thin: next pixel is the image
    assert r < 100 and g < 100 and b < 100
    r, g, b = image.getpixel((220, 170))  # type: ignore[misc]  # inside the bar, no border
    assert (r, g, b) == image.getpixel((10, 230))  # dimmed background, same everywhere


def test_the_image_is_dimmed_but_still_visible() -> None:
    image = decode(draw_overlay(png(), MANIFEST, []))
    r, g, b = image.getpixel((5, 235))  # type: ignore[misc]
    assert 30 < r < 128 and r == g == b
    assert image.getpixel((200, 150)) == (120, 210, 120)  # bar's left border, light green
    assert image.getpixel((60, 130)) == (30, 90, 255)  # text box border, blue


def test_same_inputs_same_bytes_and_findings_change_the_picture() -> None:
    first = draw_overlay(png(), MANIFEST, [ERROR, WARNING])
    assert draw_overlay(png(), MANIFEST, [ERROR, WARNING]) == first
    assert draw_overlay(png(), MANIFEST, [WARNING]) != first


def test_boxes_off_the_canvas_and_findings_without_boxes_are_drawn() -> None:
    off = Finding(code="text_clipped", severity="error", message="off", boxes=[(300, 10, 400, 30)])
    loose = Finding(code="commitment_violated", severity="error", message='text "X" missing')
    image = decode(draw_overlay(png(), MANIFEST, [off, loose]))
    assert is_red(image.getpixel((W - 1, 25)))  # type: ignore[arg-type]  # clamped to the edge
    top_left = [image.getpixel((x, y)) for x in range(0, 60) for y in range(0, 20)]
    assert any(is_red(p) for p in top_left)  # type: ignore[arg-type]  # the listed finding


def test_overlay_of_a_real_report() -> None:
    manifest = LayoutManifest(
        width=W,
        height=H,
        elements=[
            Element(id="a", role="text", box=(10, 10, 110, 30), text="one"),
            Element(id="b", role="text", box=(20, 12, 120, 32), text="two"),
        ],
    )
    report = check(manifest, png(color=(255, 255, 255)), Commitments(), GEOMETRY_ONLY)
    image = decode(draw_overlay(png(color=(255, 255, 255)), manifest, report.findings))
    assert image.size == (W, H)
    assert is_red(image.getpixel((10, 25)))  # type: ignore[arg-type]
