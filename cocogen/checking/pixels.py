"""Defects only the pixels show: text that does not stand out from what is behind it, and the
"tofu" boxes a renderer draws for characters its fonts lack.

The manifest says where each text is and what it should say, but not whether a reader can see
it: light grey on white, a label on a bar of nearly its own colour, or a character drawn as an
empty box all look fine in the manifest.  Contrast is measured the way WCAG defines it (relative
luminance ratio, 1-21) between the text's ink — the pixels inside its box that differ from the
colour around the box — and that surrounding colour, so alpha, path effects and backgrounds are
all accounted for.  Missing glyphs are found as closed rectangular frames of glyph height in the
upright text crop, more than the text's own box-shaped characters (CJK 口, □) can explain.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cocogen.checking.geometry import describe, fmt_box, quote
from cocogen.checking.raster import (
    Raster,
    clamp_box,
    line_count,
    ring_color,
    split_lines,
    upright_crop,
)
from cocogen.checking.settings import CheckSettings
from cocogen.types import Element, Finding, LayoutManifest

if TYPE_CHECKING:
    import numpy as np

LOW_CONTRAST = "low_contrast"
MISSING_GLYPH = "missing_glyph"
PIXEL_CODES: frozenset[str] = frozenset({LOW_CONTRAST, MISSING_GLYPH})

INK_DISTANCE = 12
"""A pixel is ink when one of its channels differs from the surrounding colour by more (0-255)."""
INK_PERCENTILE = 90.0
"""The text's colour is the ink pixel at this percentile of contrast: the strokes' core, not
their antialiased edges nor the odd stray pixel of a crossing line."""
FRAME_MIN_HEIGHT = 0.85
"""A tofu frame is about one em tall (× font size), taller than capitals and digits (~0.73 em)
whose closed shapes (8, B, 0 at small sizes) could otherwise pass for a frame."""


# --------------------------------------------------------------------------- contrast


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2 relative luminance (0-1) of sRGB colours given as 0-255 values (any shape ×3)."""
    import numpy as np

    return np.asarray(_linear(np.asarray(rgb, dtype=np.float64)) @ np.asarray(LUMINANCE_WEIGHTS))


LUMINANCE_WEIGHTS = (0.2126, 0.7152, 0.0722)


@functools.cache
def _linear_table() -> np.ndarray:
    """Linear light of each 8-bit sRGB value, exactly as `relative_luminance` computes it."""
    import numpy as np

    return _linear(np.arange(256, dtype=np.float64))


def _linear(values: np.ndarray) -> np.ndarray:
    """Linear light (0-1) of sRGB channel values given as 0-255 (WCAG 2)."""
    import numpy as np

    c = values / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def contrast_ratio(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """WCAG contrast ratio (1-21) between relative luminances `a` and `b` (elementwise)."""
    import numpy as np

    hi, lo = np.maximum(a, b), np.minimum(a, b)
    return np.asarray((hi + 0.05) / (lo + 0.05))


def hex_color(rgb: np.ndarray | None) -> str:
    if rgb is None:
        return "none"
    r, g, b = (round(float(v)) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class Contrast:
    """How a text stands out: WCAG ratio, its ink colour (None: no ink) and the colour around."""

    ratio: float
    ink: tuple[float, float, float] | None
    background: tuple[float, float, float]


def measure_contrast(raster: Raster, element: Element) -> Contrast | None:
    """The contrast of one text against the pixels around its box; None when off the image."""
    import numpy as np

    box = clamp_box(element.box, raster.width, raster.height)
    if box is None:
        return None
    background = ring_color(raster, box)
    x0, y0, x1, y1 = box
    pixels = raster.rgb[y0:y1, x0:x1].reshape(-1, 3)
    distance = np.abs(pixels - background).max(axis=1)
    ink = pixels[distance > INK_DISTANCE]
    bg = (float(background[0]), float(background[1]), float(background[2]))
    if len(ink) == 0:
        return Contrast(ratio=1.0, ink=None, background=bg)
    # The same luminance as relative_luminance(ink), looked up per 8-bit channel value.
    luminance = _linear_table()[ink] @ LUMINANCE_WEIGHTS
    ratios = contrast_ratio(luminance, float(relative_luminance(background)))
    rank = min(len(ratios) - 1, int(len(ratios) * INK_PERCENTILE / 100))
    index = int(np.argpartition(ratios, rank)[rank])
    colour = ink[index]
    return Contrast(
        ratio=float(ratios[index]),
        ink=(float(colour[0]), float(colour[1]), float(colour[2])),
        background=bg,
    )


def _contrast_finding(element: Element, reading: Contrast, settings: CheckSettings) -> Finding:
    error = reading.ratio < settings.min_contrast_error
    ink = hex_color(None if reading.ink is None else _arr(reading.ink))
    around = hex_color(_arr(reading.background))
    what = (
        "is invisible: no pixel in its box differs from"
        if reading.ink is None
        else f"has contrast {reading.ratio:.2f}:1 ({ink} on"
    )
    closing = f" {around}" + ("" if reading.ink is None else ")")
    limit = settings.min_contrast_error if error else settings.min_contrast
    return Finding(
        code=LOW_CONTRAST,
        severity="error" if error else "warning",
        message=(
            f"{describe(element)} ({element.id}) at {fmt_box(element.box)} {what}{closing}, "
            f"below the {limit:g}:1 minimum"
        ),
        llm_message=(
            f"{describe(element)} is hard to read ({ink} on {around}, contrast "
            f"{reading.ratio:.1f}:1): use a colour that stands out from its background "
            f"(contrast at least {settings.min_contrast:g}:1)"
        ),
        element_ids=[element.id],
        boxes=[element.box],
    )


def _arr(values: tuple[float, float, float]) -> np.ndarray:
    import numpy as np

    return np.array(values, dtype=np.float64)


def low_contrast_findings(
    manifest: LayoutManifest, raster: Raster, settings: CheckSettings | None = None
) -> list[Finding]:
    """`low_contrast` warnings (errors when nearly invisible), one per text.

    Texts below the minimum size are left to `text_too_small`: antialiasing alone lightens them.
    """
    settings = settings or CheckSettings()
    findings: list[Finding] = []
    for element in manifest.texts():
        if element.font_size_px is not None and element.font_size_px < settings.min_text_px:
            continue
        reading = measure_contrast(raster, element)
        if reading is not None and reading.ratio < settings.min_contrast:
            findings.append(_contrast_finding(element, reading, settings))
    return findings


# --------------------------------------------------------------------------- missing glyphs

_BOXY_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x2460, 0x24FF),  # enclosed alphanumerics
    (0x2500, 0x25FF),  # box drawing, block elements, geometric shapes (□ ■ ▢)
    (0x2610, 0x2612),  # ballot boxes ☐ ☑ ☒
    (0x2B1A, 0x2B1A),
    (0x2E80, 0x9FFF),  # CJK radicals, kana, CJK unified ideographs (口 日 田 回 国)
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),
    (0x1F532, 0x1F533),
    (0x20000, 0x3FFFF),
)


def _boxy(char: str) -> bool:
    """Characters whose real glyph may be a closed rectangle, like the tofu box."""
    point = ord(char)
    return any(lo <= point <= hi for lo, hi in _BOXY_BLOCKS)


_WIDE_BOXY = frozenset("口囗日曰目田回国國因困固图圖园園圆圓团團四囚ロㅁ")
"""Wide characters whose glyph itself is a rectangle much like the tofu box."""


def _all_boxes(text: str, frames: int) -> bool:
    """A font without CJK draws every wide character of a text as a box.  Many ideographs hold
    box-like parts, so one frame among them proves nothing; as many frames as the text has
    wide characters that are not themselves rectangles does."""
    wide = [ch for ch in text if unicodedata.east_asian_width(ch) in "WF" and _boxy(ch)]
    plain = [ch for ch in wide if ch not in _WIDE_BOXY]
    return bool(plain) and frames >= len(wide)


def frame_count(upright: np.ndarray, background: np.ndarray, font_px: float | None) -> int:
    """How many closed rectangular frames of about glyph height an upright text line holds.

    A frame is two vertical ink runs (left, right) of similar extent joined by ink along the
    top and bottom rows, with a mostly empty inside — the shape renderers draw for a character
    no font has.  Round letters (O, 0, D) fail the corner test; filled blocks fail the inside
    test.
    """
    import numpy as np

    if upright.shape[0] < 6 or upright.shape[1] < 4:
        return 0
    distance = np.abs(upright.astype(np.float64) - background).max(axis=2)
    peak = float(distance.max())
    if peak <= INK_DISTANCE:
        return 0
    ink = distance > max(2.0 * INK_DISTANCE, 0.45 * peak)
    height, width = ink.shape
    min_run = max(5, round(FRAME_MIN_HEIGHT * font_px if font_px else 0.7 * height))
    # The sides of a faint or resampled frame are thin and broken: measure vertical runs on a
    # lower threshold, over pairs of columns, bridging gaps of up to 2 px.
    faint = distance > max(INK_DISTANCE, 0.25 * peak)
    sides = faint.copy()
    sides[:, :-1] |= faint[:, 1:]
    up1, up2 = np.zeros_like(sides), np.zeros_like(sides)
    down1, down2 = np.zeros_like(sides), np.zeros_like(sides)
    up1[:-1], up2[:-2] = sides[1:], sides[2:]
    down1[1:], down2[2:] = sides[:-1], sides[:-2]
    sides |= (down1 & up1) | (down1 & up2) | (down2 & up1)
    runs: list[tuple[int, int, int] | None] = []  # per column: (top, bottom, length) of longest
    for x in range(width):
        column = sides[:, x]
        best: tuple[int, int, int] | None = None
        start = -1
        for y in range(height + 1):
            on = y < height and bool(column[y])
            if on and start < 0:
                start = y
            elif not on and start >= 0:
                if best is None or y - start > best[2]:
                    best = (start, y - 1, y - start)
                start = -1
        runs.append(best if best is not None and best[2] >= min_run else None)
    count = 0
    x = 0
    while x < width:
        left = runs[x]
        if left is None:
            x += 1
            continue
        found = _frame_from(ink, faint, runs, x, left)
        if found is None:
            x += 1
            continue
        count += 1
        x = found + 1
    return count


def _frame_from(
    ink: np.ndarray,
    faint: np.ndarray,
    runs: list[tuple[int, int, int] | None],
    xl: int,
    left: tuple[int, int, int],
) -> int | None:
    """The right edge of a frame whose left edge is column `xl`, or None.

    The top and bottom edges are looked for on the faint mask, within 2 px of the sides' ends
    (some fonts round the corners or write inside the edges of their missing-glyph box)."""
    top, bottom, length = left
    width = ink.shape[1]
    for xr in range(xl + max(3, round(0.45 * length)), min(width, xl + round(1.3 * length) + 1)):
        right = runs[xr]
        if right is None or abs(right[0] - top) > 2 or abs(right[1] - bottom) > 2:
            continue
        t, b = min(top, right[0]), max(bottom, right[1])
        span = slice(xl, xr + 1)
        top_band = faint[max(0, t - 2) : t + 3, span].mean(axis=1).max()
        bottom_band = faint[max(0, b - 2) : b + 3, span].mean(axis=1).max()
        if top_band < 0.9 or bottom_band < 0.9:
            continue
        inside = ink[t + 2 : b - 1, xl + 2 : xr - 1]
        if inside.size and inside.mean() > 0.5:
            continue
        return xr
    return None


_COMMON_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x0000, 0x024F),  # Latin
    (0x0370, 0x04FF),  # Greek, Cyrillic
    (0x2000, 0x20BF),  # punctuation, super- and subscripts, currency
    (0x2100, 0x22FF),  # letterlike symbols, arrows, mathematical operators (− U+2212)
)
"""Blocks every text font covers: their characters are not suspected of being tofu."""


def _suspects(text: str) -> list[str]:
    """The rarer characters of a text (where a missing glyph can be), in order, once each."""
    seen: list[str] = []
    for char in text:
        point = ord(char)
        common = any(lo <= point <= hi for lo, hi in _COMMON_BLOCKS)
        if not common and not char.isspace() and char not in seen:
            seen.append(char)
    return seen


def _char_name(char: str) -> str:
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    return f"'{char}' ({code}{', ' + name.lower() if name else ''})"


def missing_glyph_findings(
    manifest: LayoutManifest, raster: Raster, settings: CheckSettings | None = None
) -> list[Finding]:
    """`missing_glyph` errors: texts drawn with tofu boxes for characters no font had.

    Only texts with characters outside the common blocks are examined; a text is flagged
    when its upright crop holds more frames than it has characters that may be box-shaped.
    """
    settings = settings or CheckSettings()
    findings: list[Finding] = []
    grouped: dict[tuple[str, ...], list[Element]] = defaultdict(list)
    for element in manifest.texts():
        text = element.text or ""
        suspects = _suspects(text)
        if not suspects:
            continue
        cut = upright_crop(raster, element)
        if cut is None:
            continue
        upright, background = cut
        lines = split_lines(upright, line_count(element))
        frames = sum(frame_count(line, background, element.font_size_px) for line in lines)
        if frames > sum(1 for ch in text if _boxy(ch)) or _all_boxes(text, frames):
            grouped[tuple(c for c in suspects if not _boxy(c)) or tuple(suspects)].append(element)
    for chars, elements in grouped.items():
        names = ", ".join(_char_name(c) for c in chars[:5])
        subject = ", ".join(f"{describe(e)} ({e.id})" for e in elements[:3])
        if len(elements) > 3:
            subject += f" and {len(elements) - 3} more"
        findings.append(
            Finding(
                code=MISSING_GLYPH,
                severity="error",
                message=(
                    f"{subject} at {fmt_box(elements[0].box)} shows a box instead of a character: "
                    f"the font lacks a glyph for one of {names}"
                ),
                llm_message=(
                    f"{quote(elements[0].text)} renders a missing-glyph box: no installed font "
                    f"has {names}; replace that character or use a font that has it"
                ),
                element_ids=[e.id for e in elements],
                boxes=[e.box for e in elements],
            )
        )
    return findings


def pixel_findings(
    manifest: LayoutManifest, raster: Raster, settings: CheckSettings | None = None
) -> list[Finding]:
    """Every pixel finding: low contrast, missing glyphs."""
    settings = settings or CheckSettings()
    return [
        *low_contrast_findings(manifest, raster, settings),
        *missing_glyph_findings(manifest, raster, settings),
    ]
