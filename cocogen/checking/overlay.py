"""A picture of what the checker saw, for people reviewing a run.

Findings are easier to believe when you can see them: this draws every manifest element's box
thinly over a slightly dimmed copy of the render (texts blue, axes grey, data marks light green)
and every finding's boxes thickly (errors red, warnings orange, info teal) labelled with the
finding's code.  Findings without boxes are listed in the top-left corner.  The output is
deterministic — same inputs, same bytes — so overlays can be cached and compared.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from cocogen.checking.raster import decode
from cocogen.pngwrite import encode_png
from cocogen.types import Box, Finding, LayoutManifest

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

RGB = tuple[int, int, int]

TEXT_COLOR: RGB = (30, 90, 255)
AXES_COLOR: RGB = (150, 150, 150)
SHAPE_COLOR: RGB = (120, 210, 120)
OTHER_COLOR: RGB = (190, 150, 220)
SEVERITY_COLOR: dict[str, RGB] = {
    "error": (230, 20, 20),
    "warning": (255, 140, 0),
    "info": (0, 150, 170),
}
_DIM = 0.3
"""How far the render is blended towards white under the boxes."""


def _element_color(role: str, is_text: bool) -> RGB:
    if is_text:
        return TEXT_COLOR
    if role == "axes":
        return AXES_COLOR
    if role == "shape":
        return SHAPE_COLOR
    return OTHER_COLOR


def _clamp(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A box in whole pixels, pulled inside the image so off-canvas boxes stay visible."""
    x0, y0, x1, y1 = (round(v) for v in box)
    x0 = min(max(x0, 0), width - 1)
    x1 = min(max(x1, 0), width - 1)
    y0 = min(max(y0, 0), height - 1)
    y1 = min(max(y1, 0), height - 1)
    return x0, y0, max(x0, x1), max(y0, y1)


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_spot(
    box: tuple[int, int, int, int],
    size: tuple[int, int],
    image: tuple[int, int],
    taken: list[tuple[int, int, int, int]],
) -> tuple[int, int, int, int]:
    """Where to put a label of `size` next to `box`: above, below or inside, avoiding `taken`."""
    w, h = size
    width, height = image
    x = min(max(box[0], 0), max(width - w, 0))
    candidates = [box[1] - h - 2, box[3] + 2, box[1] + 2]
    spots = []
    for y in candidates:
        y = min(max(y, 0), max(height - h, 0))
        spots.append((x, y, x + w, y + h))
    for spot in spots:
        if not any(_overlaps(spot, other) for other in taken):
            return spot
    # Everything collides: go down from the first spot until a free row (or the bottom).
    y = spots[0][1]
    while any(_overlaps((x, y, x + w, y + h), other) for other in taken) and y + h < height:
        y += h + 1
    y = min(y, max(height - h, 0))
    return (x, y, x + w, y + h)


def _text_size(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - min(left, 0)) + 6, int(bottom - min(top, 0)) + 4


@functools.cache
def _dim_table() -> list[int]:
    """Each channel value moved `_DIM` of the way to white, as `Image.blend` with white does
    (truncated), in one table lookup: half the time of blending with a white image."""
    return [int(v + _DIM * (255 - v)) for v in range(256)] * 3


def draw_overlay(png: bytes, manifest: LayoutManifest, findings: list[Finding]) -> bytes:
    """The render with element boxes (thin) and finding boxes (thick, labelled) drawn on it."""
    from PIL import ImageDraw, ImageFont

    base = decode(png).image  # shared with the checker: not drawn on
    image = base.point(_dim_table())
    width, height = image.size
    draw = ImageDraw.Draw(image)

    for element in manifest.elements:
        color = _element_color(element.role, element.is_text)
        draw.rectangle(_clamp(element.box, width, height), outline=color, width=1)

    thick = max(3, round(min(width, height) / 300))
    font_px = max(12, round(min(width, height) / 45))
    font = ImageFont.load_default(size=font_px)
    taken: list[tuple[int, int, int, int]] = []
    loose: list[Finding] = []
    for finding in findings:
        color = SEVERITY_COLOR.get(finding.severity, SEVERITY_COLOR["info"])
        if not finding.boxes:
            loose.append(finding)
            continue
        for box in finding.boxes:
            draw.rectangle(_clamp(box, width, height), outline=color, width=thick)
        first = _clamp(finding.boxes[0], width, height)
        size = _text_size(draw, finding.code, font)
        spot = _label_spot(first, size, (width, height), taken)
        taken.append(spot)
        draw.rectangle(spot, fill=color)
        draw.text((spot[0] + 3, spot[1] + 2), finding.code, fill=(255, 255, 255), font=font)

    y = 2
    for finding in loose:
        color = SEVERITY_COLOR.get(finding.severity, SEVERITY_COLOR["info"])
        line = f"{finding.code}: {finding.message}"
        if len(line) > 90:
            line = line[:89] + "…"
        w, h = _text_size(draw, line, font)
        if y + h > height:
            break
        draw.rectangle((2, y, 2 + w, y + h), fill=(255, 255, 255), outline=color, width=1)
        draw.text((5, y + 2), line, fill=color, font=font)
        y += h + 2

    return encode_png(image)
