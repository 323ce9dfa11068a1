"""Shared by the refiner tests: the draft chart's source and the check for the refine extra."""

from __future__ import annotations

import importlib

import pytest
from support import in_ci

from cocogen.types import LayoutManifest, Program

CHART = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["A", "B", "C"], [3, 5, 2], color="#4477aa")
ax.set_title("Sales 2024", fontsize=20)
ax.tick_params(labelsize=14)
ax.grid(True, axis="y")
fig.savefig("out.png")
"""


def need_refine_extra() -> None:
    """Skip without torch/diffusers/OpenCV in a user's clone; in CI they must be there."""
    for name in ("torch", "diffusers", "transformers", "cv2"):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if in_ci():
                raise AssertionError(
                    f"{name} is missing in CI: scripts/setup.sh installs the refine extra"
                ) from exc
            pytest.skip(f"{name} is not installed (pip install 'cocogen[refine]'): {exc}")


class Draft:
    def __init__(self, png: bytes, manifest: LayoutManifest, program: Program) -> None:
        self.png = png
        self.manifest = manifest
        self.program = program
