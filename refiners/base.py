"""The refiner protocol: `refine(image, manifest, request, options) -> RefineResult`."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import Field

from cocogen.types import LayoutManifest, Model, RefineOptions, Request


class RefineResult(Model):
    png: bytes
    mask_png: bytes | None = None
    protected_element_ids: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    changed: bool = False


@runtime_checkable
class Refiner(Protocol):
    name: str

    def refine(
        self, image: bytes, manifest: LayoutManifest, request: Request, options: RefineOptions
    ) -> RefineResult: ...
