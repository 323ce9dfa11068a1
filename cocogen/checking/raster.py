"""The render's pixels, decoded once, and the crops of its texts that the pixel checks and OCR read.

Every pixel check needs the same things: the PNG as an RGB array (transparency composited onto
white, as a viewer shows it), a text's box clamped to the image, the colour around a box, and
the text itself cut out and turned upright.  The manifest knows each text's box and rotation, so
the crop is exact: the axis-aligned box is cut out, de-rotated by the known angle, trimmed to the
text's own rectangle and given a margin of the surrounding colour (recognisers read a word best
with some empty space around it; neighbouring marks would only confuse them).

numpy and Pillow are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cocogen.types import Box, Element
from sandbox import pngcodec
from sandbox.outcome import recent_decode
from sandbox.recent import Recent

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

IntBox = tuple[int, int, int, int]

LINE_HEIGHT = 1.03
"""Height of one line of text's box as a multiple of its font size (matplotlib, DejaVu)."""
LINE_SPACING = 1.2
"""Baseline-to-baseline distance of multi-line text as a multiple of the font size."""


@dataclass(frozen=True)
class Raster:
    """A decoded render: `rgb` is an H×W×3 uint8 array (read-only: decodes are shared), `image`
    the same pixels as a Pillow RGB image (made when first asked for)."""

    rgb: np.ndarray
    pillow: Image.Image | None = None

    @functools.cached_property
    def image(self) -> Image.Image:
        from PIL import Image

        return self.pillow if self.pillow is not None else Image.fromarray(self.rgb)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


_recent: Recent[Raster] = Recent(count=8, max_bytes=128 << 20)
"""A row's check, overlay and thumbnail read the same PNG, and rows run on threads."""


def decode(png: bytes) -> Raster:
    """The PNG as RGB composited onto white; `ValueError` when the bytes are not an image.

    The last few decodes are kept (by content), so the checker, the overlay and the batch's
    thumbnail of one render decode it once."""
    raster = _recent.get(png)
    if raster is None:
        raster = _decode(png)
        # The array and a Pillow copy (4 bytes a pixel) of the same pixels.
        _recent.put(png, raster, raster.rgb.nbytes + 4 * raster.width * raster.height)
    return raster


def _decode(png: bytes) -> Raster:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    opened = recent_decode(png)  # the sandbox's cross-check decoded it a moment ago
    if opened is None:
        opened = pngcodec.decode(png)
    if isinstance(opened, np.ndarray):
        rgb = _on_white(opened)
        if rgb is not None:
            rgb.setflags(write=False)
            return Raster(rgb=rgb)
        opened = Image.fromarray(np.ascontiguousarray(opened))
    try:
        if opened is None:
            opened = Image.open(io.BytesIO(png))
            opened.load()
        if opened.mode == "RGB":
            rgb_image = opened.copy()
        else:
            rgba = opened if opened.mode == "RGBA" else opened.convert("RGBA")
            if rgba.getextrema()[3][0] == 255:  # opaque: nothing to composite
                rgb_image = rgba.convert("RGB")
            else:
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                rgb_image = Image.alpha_composite(white, rgba).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"not a readable image: {exc}") from exc
    rgb = np.asarray(rgb_image, dtype=np.uint8)
    rgb.setflags(write=False)
    return Raster(rgb=rgb, pillow=rgb_image)


def _on_white(pixels: np.ndarray) -> np.ndarray | None:
    """RGB of decoded PNG pixels when no compositing is needed (RGB, or RGBA fully opaque); None
    otherwise (Pillow composites those, as for every other image)."""
    channels = pixels.shape[2]
    if channels == 3:
        return pixels
    if channels == 4 and bool((pixels[:, :, 3] == 255).all()):
        return pixels[:, :, :3]
    return None


def clamp_box(box: Box, width: int, height: int) -> IntBox | None:
    """The box in whole pixels (outward), cut to the image; None when nothing is left."""
    x0 = max(0, math.floor(box[0]))
    y0 = max(0, math.floor(box[1]))
    x1 = min(width, math.ceil(box[2]))
    y1 = min(height, math.ceil(box[3]))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return x0, y0, x1, y1


def ring_color(raster: Raster, box: IntBox, width: int = 2) -> np.ndarray:
    """Median colour (float RGB) of the band `width` px wide just outside `box`.

    Where the box touches the image edge, the band is what is left; a box covering the whole
    image falls back to the box's own border pixels.
    """
    import numpy as np

    x0, y0, x1, y1 = box
    rgb = raster.rgb
    h, w = rgb.shape[:2]
    ox0, oy0 = max(0, x0 - width), max(0, y0 - width)
    ox1, oy1 = min(w, x1 + width), min(h, y1 + width)
    strips = (
        rgb[oy0:y0, ox0:ox1],  # above, corners included
        rgb[y1:oy1, ox0:ox1],  # below
        rgb[y0:y1, ox0:x0],  # left
        rgb[y0:y1, x1:ox1],  # right
    )
    band = np.concatenate([strip.reshape(-1, 3) for strip in strips])
    if band.size == 0:
        inner = rgb[y0:y1, x0:x1]
        band = np.concatenate([inner[0], inner[-1], inner[:, 0], inner[:, -1]])
    return _median(band)


def _median(values: np.ndarray) -> np.ndarray:
    """`np.median(values, axis=0)` of uint8 rows as float64, by sorting the bytes (4x faster)."""
    import numpy as np

    ordered = np.sort(values, axis=0)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle].astype(np.float64)
    return (ordered[middle - 1].astype(np.float64) + ordered[middle]) / 2.0


def line_count(element: Element) -> int:
    return (element.text or "").strip("\n").count("\n") + 1


def upright_size(element: Element) -> tuple[float, float]:
    """(width, height) of the text's own rectangle before rotation, from its axis-aligned box.

    The box of a text rotated by θ is W = w·cos + h·sin wide and H = w·sin + h·cos tall.  The
    height comes from the font size when known (the system is singular at 45°), else from solving
    those two equations.
    """
    x0, y0, x1, y1 = element.box
    big_w, big_h = x1 - x0, y1 - y0
    theta = math.radians(element.rotation % 180.0)
    c, s = abs(math.cos(theta)), abs(math.sin(theta))
    if s < 1e-6:
        return big_w, big_h
    if c < 1e-6:
        return big_h, big_w
    if element.font_size_px:
        lines = line_count(element)
        h = element.font_size_px * (LINE_HEIGHT + LINE_SPACING * (lines - 1))
    else:
        det = c * c - s * s
        h = (big_h * c - big_w * s) / det if abs(det) > 0.2 else min(big_w, big_h) / 2
    h = max(1.0, min(h, big_w / s if s else h, big_h / c if c else h))
    w = (big_w - h * s) / c if c >= s else (big_h - h * c) / s
    return max(1.0, w), h


def upright_crop(raster: Raster, element: Element) -> tuple[np.ndarray, np.ndarray] | None:
    """The text cut out and turned upright (H×W×3 uint8), and the colour around it.

    None when the box lies outside the image or is too small to hold a glyph.
    """
    import numpy as np
    from PIL import Image

    box = clamp_box(element.box, raster.width, raster.height)
    if box is None or box[2] - box[0] < 2 or box[3] - box[1] < 2:
        return None
    background = ring_color(raster, box)
    x0, y0, x1, y1 = box
    crop = raster.rgb[y0:y1, x0:x1]
    angle = element.rotation % 360.0
    quarter = round(angle / 90.0)
    if abs(angle - 90.0 * quarter) < 0.01:
        # Multiples of 90°: exact, no resampling.  np.rot90 turns counter-clockwise, so undoing
        # a counter-clockwise rotation by k quarters is k quarters clockwise.
        return np.ascontiguousarray(np.rot90(crop, k=-(quarter % 4))), background
    w, h = upright_size(element)
    fill = tuple(round(float(v)) for v in background)
    image = Image.fromarray(crop).rotate(
        -angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill
    )
    cx, cy = image.width / 2.0, image.height / 2.0
    trimmed = image.crop(
        (
            max(0, math.floor(cx - w / 2.0 - 1)),
            max(0, math.floor(cy - h / 2.0 - 1)),
            min(image.width, math.ceil(cx + w / 2.0 + 1)),
            min(image.height, math.ceil(cy + h / 2.0 + 1)),
        )
    )
    return np.asarray(trimmed, dtype=np.uint8), background


def split_lines(upright: np.ndarray, lines: int) -> list[np.ndarray]:
    """A multi-line text's upright crop cut into `lines` equal horizontal strips."""
    if lines <= 1:
        return [upright]
    height = upright.shape[0]
    edges = [round(i * height / lines) for i in range(lines + 1)]
    return [upright[a:b] for a, b in itertools.pairwise(edges) if b - a >= 2]


def with_margin(image: np.ndarray, background: np.ndarray, fraction: float) -> np.ndarray:
    """`image` inside a border of the background colour, `fraction` of its height wide."""
    import numpy as np

    pad = max(2, round(image.shape[0] * fraction))
    h, w = image.shape[:2]
    out = np.empty((h + 2 * pad, w + 2 * pad, 3), dtype=np.uint8)
    out[:] = np.clip(np.round(background), 0, 255).astype(np.uint8)
    out[pad : pad + h, pad : pad + w] = image
    return out
