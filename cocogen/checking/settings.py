"""Thresholds of the checker, in one frozen object.

The checker is a pure function of (manifest, png, commitments, settings); keeping every tunable
number here means a run can record exactly how it was judged, and tests can tighten or loosen one
threshold without monkeypatching module constants.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cocogen.types import Model


class CheckSettings(Model):
    """Tunable thresholds of the geometry checker (all in output pixels or fractions)."""

    min_text_px: float = Field(9.0, ge=0.0)
    """Smallest acceptable font size, in pixels at the output size."""
    overlap_tolerance: float = Field(0.15, ge=0.0, le=1.0)
    """Two texts overlap when their intersection exceeds this fraction of the smaller box."""
    rotated_tick_overlap_tolerance: float = Field(0.35, ge=0.0, le=1.0)
    """Tolerance for two slanted tick labels of one axis (rotation not a multiple of 90°): their
    axis-aligned boxes overlap even when the glyphs do not."""
    clip_tolerance_px: float = Field(1.0, ge=0.0)
    """How far a text box may stick out of the canvas before it counts as cut off."""
    blank_fraction: float = Field(0.995, ge=0.0, le=1.0)
    """An image is blank when more than this fraction of its pixels are (nearly) one colour."""
    blank_color_distance: int = Field(12, ge=0, le=255)
    """'Nearly one colour': the largest per-channel difference (0-255) from the dominant one."""

    # -- pixel checks ---------------------------------------------------------------------------
    pixel_checks: bool = True
    """Judge texts by the PNG's pixels too: contrast against their surroundings, missing glyphs."""
    min_contrast: float = Field(3.0, ge=1.0, le=21.0)
    """WCAG contrast ratio below which a text is a `low_contrast` warning (WCAG AA asks 4.5 for
    body text and 3 for large text; charts are mostly labels, so 3 is the default)."""
    min_contrast_error: float = Field(1.5, ge=1.0, le=21.0)
    """Contrast ratio below which a text is a `low_contrast` error (nearly invisible)."""

    # -- OCR ------------------------------------------------------------------------------------
    ocr: Literal["auto", "on", "off"] = "auto"
    """'auto': OCR when rapidocr is installed (an info finding says when it was skipped);
    'on': OCR, and a warning when it cannot run; 'off': never."""
    ocr_full_pass: Literal["auto", "always", "never"] = "auto"
    """The whole-image pass that finds text the manifest does not know.  'auto' runs it only when
    it can change the verdict: the manifest has no text, or a required text or number is not
    among the manifest's texts (it may be drawn as paths)."""
    ocr_min_text_px: float = Field(9.0, ge=0.0)
    """Texts smaller than this (font size in px) are not read by OCR (too small to judge)."""
    ocr_similarity: float = Field(0.8, ge=0.0, le=1.0)
    """An OCR reading confirms a text when their similarity (0-1) reaches this, digits equal."""
    ocr_threads: int = Field(1, ge=1, le=64)
    """onnxruntime threads per OCR engine (1 is fastest on a busy small machine)."""
