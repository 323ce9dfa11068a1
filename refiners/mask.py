"""The structure lock: which draft pixels a refiner must give back exactly, and how to paste them.

The protect mask is the union of
- every text element's box from the layout manifest, grown by a margin (the manifest knows where
  each text is; no guessing), and
- thin strokes found in the draft's pixels: axes, ticks, grid lines, box and bar edges.  A stroke
  is a feature narrower than a small square window, found with a morphological top-hat (the
  difference between the image and its closing/opening) on every colour channel.  Step edges
  between two flat areas survive closing and opening, so large filled shapes stay free for the
  refiner while their thin outlines do not.

Boxes of `image` elements (illustrations, photo placeholders) are exempt from the stroke search:
their insides are meant to change.  `composite()` pastes the draft back inside the mask with a
feathered edge outside it, so that protected pixels stay byte-identical.

numpy and Pillow only: this module is cheap to import and needs no torch.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
from PIL import Image

from cocogen.types import Box, LayoutManifest
from refiners.base import RefineError

STROKE_WINDOW_PX = 7
"""Features narrower than this (in px) count as strokes."""
STROKE_CONTRAST = 24
"""Least top-hat response (0-255, any channel) of a stroke pixel."""


class ProtectMask(NamedTuple):
    mask: np.ndarray
    """bool (H, W): True where the draft's pixels are kept exactly."""
    element_ids: list[str]
    stroke_pixels: int


def decode_rgb(png: bytes, what: str = "image") -> np.ndarray:
    """PNG (or any Pillow-readable) bytes → uint8 (H, W, 3)."""
    try:
        with Image.open(io.BytesIO(png)) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise RefineError(f"the {what} is not a readable image: {exc}") from None


def encode_png(pixels: np.ndarray) -> bytes:
    """uint8 (H, W, 3) or bool/uint8 (H, W) → PNG bytes, the same bytes for the same pixels."""
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def check_fits(rgb: np.ndarray, manifest: LayoutManifest) -> None:
    height, width = rgb.shape[:2]
    if (manifest.width, manifest.height) != (width, height):
        raise RefineError(
            f"the manifest describes a {manifest.width}×{manifest.height} image but the image is "
            f"{width}×{height}: pass the manifest written with this image"
        )


def _shifted(a: np.ndarray, radius: int, axis: int, reduce: np.ufunc) -> np.ndarray:
    """Running max/min of width 2*radius+1 along one axis (edges replicated)."""
    if radius <= 0:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(a, pad, mode="edge")
    n = a.shape[axis]
    out = np.take(padded, range(0, n), axis=axis)
    for offset in range(1, 2 * radius + 1):
        out = reduce(out, np.take(padded, range(offset, offset + n), axis=axis))
    return out


def max_filter(a: np.ndarray, radius: int) -> np.ndarray:
    """Grey (or boolean) dilation with a (2r+1)² square, separable."""
    return _shifted(_shifted(a, radius, 0, np.maximum), radius, 1, np.maximum)


def min_filter(a: np.ndarray, radius: int) -> np.ndarray:
    return _shifted(_shifted(a, radius, 0, np.minimum), radius, 1, np.minimum)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    return max_filter(mask.astype(bool), radius) if radius > 0 else mask.astype(bool)


def box_mask(shape: tuple[int, ...], boxes: Iterable[Box], margin: float = 0.0) -> np.ndarray:
    """bool (H, W): True inside any box grown by `margin` px (partial pixels count as inside)."""
    height, width = shape[:2]
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        c0 = max(0, int(np.floor(x0 - margin)))
        r0 = max(0, int(np.floor(y0 - margin)))
        c1 = min(width, int(np.ceil(x1 + margin)))
        r1 = min(height, int(np.ceil(y1 + margin)))
        if c1 > c0 and r1 > r0:
            mask[r0:r1, c0:c1] = True
    return mask


def stroke_mask(
    rgb: np.ndarray, window_px: int = STROKE_WINDOW_PX, contrast: int = STROKE_CONTRAST
) -> np.ndarray:
    """bool (H, W): pixels on features narrower than `window_px`, dark on light or light on dark."""
    radius = max(1, window_px // 2)
    a = rgb.astype(np.int16)
    closing = min_filter(max_filter(a, radius), radius)
    opening = max_filter(min_filter(a, radius), radius)
    response = np.maximum(closing - a, a - opening).max(axis=2)
    return np.asarray(response >= contrast)


def protect_mask(
    rgb: np.ndarray,
    manifest: LayoutManifest,
    margin_px: int,
    *,
    strokes: bool = True,
    free_boxes: Iterable[Box] = (),
) -> ProtectMask:
    """The structure lock for one draft: text boxes + margin, and thin strokes + margin."""
    check_fits(rgb, manifest)
    texts = manifest.texts()
    mask = box_mask(rgb.shape, (e.box for e in texts), margin=margin_px)
    stroke_pixels = 0
    if strokes:
        found = stroke_mask(rgb)
        free = box_mask(rgb.shape, free_boxes)
        free |= box_mask(rgb.shape, (e.box for e in manifest.elements if e.role == "image"))
        found &= ~free
        stroke_pixels = int(found.sum())
        mask |= dilate(found, margin_px) & ~free
    return ProtectMask(mask=mask, element_ids=[e.id for e in texts], stroke_pixels=stroke_pixels)


def feather_alpha(mask: np.ndarray, feather_px: int) -> np.ndarray:
    """uint8 (H, W): 255 inside the mask, a linear ramp down to 0 over `feather_px` outside it."""
    alpha = np.where(mask, 255, 0).astype(np.uint8)
    inner = mask.astype(bool)
    for step in range(1, feather_px + 1):
        grown = dilate(mask, step)
        ring = grown & ~inner
        alpha[ring] = round(255 * (1 - step / (feather_px + 1)))
        inner = grown
    return alpha


def composite(over: np.ndarray, under: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """alpha·over + (1-alpha)·under in integers; where alpha is 255 the result *is* `over`."""
    if over.shape != under.shape:
        raise RefineError(f"cannot composite images of shapes {over.shape} and {under.shape}")
    a = alpha.astype(np.uint32)[..., None]
    mixed = (over.astype(np.uint32) * a + under.astype(np.uint32) * (255 - a) + 127) // 255
    return np.where(a == 255, over, mixed.astype(np.uint8))
