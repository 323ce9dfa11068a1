"""Helpers shared by tests: running jobs, decoding PNGs, masks of coloured pixels."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from sandbox import Job, JobResult, Limits, SubprocessRunner

MPL = "renderers.matplotlib:render"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_matplotlib(source: str, **job_fields: object) -> JobResult:
    limits = job_fields.pop("limits", None) or Limits(wall_s=30)
    job = Job(renderer=MPL, source=source, limits=limits, **job_fields)  # type: ignore[arg-type]
    return SubprocessRunner().run(job)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def red_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels that are clearly red (text drawn in #ff0000, antialiased edges included)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r - np.maximum(g, b)) > 60


def box_mask(shape: tuple[int, ...], boxes: list[list[float]], pad: float = 1.0) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    height, width = shape[:2]
    for x0, y0, x1, y1 in boxes:
        c0, r0 = max(0, int(np.floor(x0 - pad))), max(0, int(np.floor(y0 - pad)))
        c1, r1 = min(width, int(np.ceil(x1 + pad))), min(height, int(np.ceil(y1 + pad)))
        mask[r0:r1, c0:c1] = True
    return mask
