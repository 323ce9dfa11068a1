"""The refiner protocol: `refine(image, manifest, request, options) -> RefineResult`.

A refiner takes an exact draft (PNG bytes plus its layout manifest) and returns a prettier image
together with what it did: the protect mask it used, which manifest elements it kept pixel-exact,
and how long each step took.  Whether the result is *accepted* is not the refiner's call:
`refiners.verify` re-checks it against the draft (see `refiners.stage`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import Field

from cocogen.errors import CocogenError
from cocogen.types import LayoutManifest, Model, RefineOptions, Request


class RefineError(CocogenError):
    """The refiner could not run (bad options, an unusable model, a manifest that does not fit)."""

    exit_code = 2


class ModelNotFound(RefineError):
    """The model named in the options is neither a local directory nor in the local cache."""


class RefineResult(Model):
    png: bytes
    mask_png: bytes | None = None
    """The protect mask (white = draft pixels pasted back exactly), same size as the image."""
    protected_element_ids: list[str] = Field(default_factory=list)
    stroke_pixels: int = 0
    """Pixels protected because they lie on thin strokes (axes, ticks, grid, box edges)."""
    regions: list[str] = Field(default_factory=list)
    """The regions refined, in order ('background' is the whole canvas)."""
    timings: dict[str, float] = Field(default_factory=dict)
    changed: bool = False
    refiner: str = ""
    model: str | None = None
    pipeline: str = ""
    """The diffusers pipeline class that ran, e.g. StableDiffusionImg2ImgPipeline."""
    device: str = ""
    dtype: str = ""
    seed: int | None = None
    notes: list[str] = Field(default_factory=list)


@runtime_checkable
class Refiner(Protocol):
    name: str

    def refine(
        self, image: bytes, manifest: LayoutManifest, request: Request, options: RefineOptions
    ) -> RefineResult: ...
