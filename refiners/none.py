"""The default refiner: returns the draft unchanged (the draft is already exact)."""

from __future__ import annotations

from cocogen.types import LayoutManifest, RefineOptions, Request
from refiners.base import RefineResult


class NoneRefiner:
    name = "none"

    def refine(
        self, image: bytes, manifest: LayoutManifest, request: Request, options: RefineOptions
    ) -> RefineResult:
        return RefineResult(png=image, changed=False, refiner=self.name)
