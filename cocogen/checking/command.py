"""`cocogen check IMAGE`: judge an image from a file, with or without its layout manifest.

With `--manifest` (an attempt's `manifest.json`) the check is the pipeline's own: geometry,
pixels, OCR and commitments.  Without one, only what can be seen is judged: the image is read by
OCR (a full-image pass) and the request's commitments are matched against what it says, so any
PNG — made by cocogen or not — can be checked against a prompt.  Files are written only when
asked (`--overlay`, `--report`), each to a temp name first and then renamed.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import ValidationError

from cocogen.checking import check
from cocogen.checking.ocr import ocr_unavailable
from cocogen.checking.overlay import draw_overlay
from cocogen.checking.settings import CheckSettings
from cocogen.errors import UsageError
from cocogen.types import CheckReport, LayoutManifest

OCR_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class CheckOutcome:
    image: Path
    report: CheckReport
    manifest_given: bool
    overlay: Path | None = None
    report_file: Path | None = None

    def summary(self) -> str:
        """One line for people."""
        errors, warnings = self.report.count("error"), self.report.count("warning")
        verdict = "passed" if self.report.passed else "check failed"
        read = self.report.scores.get("ocr_texts_read")
        confirmed = self.report.scores.get("text_confirmed")
        ocr = ""
        if self.manifest_given and read:
            ocr = f"; OCR confirmed {round((confirmed or 0.0) * read)}/{round(read)} texts"
        elif read is None:
            ocr = "; no OCR"
        return f"{verdict}: {self.image} ({errors} errors, {warnings} warnings{ocr})"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.report.model_dump(mode="json")
        data.update(
            status="ok" if self.report.passed else "check_failed",
            image=str(self.image),
            manifest=self.manifest_given,
            overlay=str(self.overlay) if self.overlay else None,
            report_file=str(self.report_file) if self.report_file else None,
        )
        return data


def read_png(path: Path) -> tuple[bytes, int, int]:
    """The file's bytes and its size; `UsageError` when it is missing or not an image."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise UsageError(f"image not found: {path}")
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UsageError(f"{path} is not a readable image: {exc}") from None
    return data, width, height


def read_manifest(path: Path, width: int, height: int) -> LayoutManifest:
    """A layout manifest file that fits an image of `width`×`height`; `UsageError` otherwise."""
    if not path.is_file():
        raise UsageError(f"manifest not found: {path}")
    try:
        manifest = LayoutManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        first = str(exc).strip().splitlines()
        raise UsageError(f"{path} is not a layout manifest: {first[0] if first else exc}") from None
    if (manifest.width, manifest.height) != (width, height):
        raise UsageError(
            f"{path} describes a {manifest.width}x{manifest.height} image but the image is "
            f"{width}x{height}: pass the manifest written with this image"
        )
    return manifest


def check_image(
    image: Path,
    manifest_path: Path | None = None,
    prompt: str = "",
    *,
    ocr: str = "auto",
    overlay: Path | None = None,
    report_file: Path | None = None,
) -> CheckOutcome:
    """Check one image file (see the module docstring); raises `UsageError` for bad input."""
    from cocogen.planning.commitments import extract_commitments
    from cocogen.record import atomic_write, dump

    for target in (overlay, report_file):
        if target is not None and target.resolve() == image.resolve():
            raise UsageError(f"{target} is the image being checked: choose another output path")
    if overlay is not None and overlay.suffix.lower() != ".png":
        raise UsageError(f"overlay {overlay} must end in .png")
    if ocr not in OCR_MODES:
        raise UsageError(f"--ocr must be one of {', '.join(OCR_MODES)}, not {ocr!r}")
    png, width, height = read_png(image)
    if manifest_path is not None:
        manifest = read_manifest(manifest_path, width, height)
    else:
        reason = ocr_unavailable()
        if ocr == "off" or reason is not None:
            why = "OCR is turned off" if ocr == "off" else f"OCR cannot run: {reason}"
            raise UsageError(f"without --manifest only OCR can judge an image, and {why}")
        manifest = LayoutManifest(width=width, height=height, engine="none")
    settings = CheckSettings(ocr=cast(Literal["auto", "on", "off"], ocr))
    report = check(manifest, png, extract_commitments(prompt), settings)
    if report_file is not None:
        atomic_write(report_file, dump(report))
    if overlay is not None:
        atomic_write(overlay, draw_overlay(png, manifest, report.findings))
    return CheckOutcome(
        image=image,
        report=report,
        manifest_given=manifest_path is not None,
        overlay=overlay,
        report_file=report_file,
    )
