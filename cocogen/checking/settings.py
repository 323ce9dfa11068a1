"""Thresholds of the checker, in one frozen object.

The checker is a pure function of (manifest, png, commitments, settings); keeping every tunable
number here means a run can record exactly how it was judged, and tests can tighten or loosen one
threshold without monkeypatching module constants.
"""

from __future__ import annotations

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
