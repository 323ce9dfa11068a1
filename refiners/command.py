"""`cocogen refine IMAGE --manifest M --model PATH`: refine one existing draft, verified.

Kept out of `cocogen/cli.py` so that the command stays a thin mapping of flags: reading the
inputs (with one-line errors), running the refine stage and writing the outputs atomically
happen here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cocogen.errors import UsageError
from cocogen.types import LayoutManifest, RefineOptions, Request
from refiners.base import Refiner


def default_output(image: Path) -> Path:
    return image.with_name(f"{image.stem}.refined.png")


def parse_regions(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """['e12=a watercolor sky', 'background=paper'] → {'e12': ..., 'background': ...}."""
    regions: dict[str, str] = {}
    for pair in pairs:
        name, sep, prompt = pair.partition("=")
        if not sep or not name.strip() or not prompt.strip():
            raise UsageError(
                f"bad --region {pair!r}: write ELEMENT_ID=PROMPT (or background=PROMPT)"
            )
        regions[name.strip()] = prompt.strip()
    return regions


def read_manifest(path: Path) -> LayoutManifest:
    if not path.is_file():
        raise UsageError(f"manifest not found: {path}")
    try:
        return LayoutManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the manifest {path}: {exc}") from None
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise UsageError(f"{path} is not a layout manifest: {where}: {problem['msg']}") from None


def refine_file(
    image: Path,
    manifest_path: Path,
    options: RefineOptions,
    *,
    output: Path | None = None,
    mask_output: Path | None = None,
    request_prompt: str = "",
    refiner: Refiner | None = None,
    refiner_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Refine `image`, verify, write the delivered image to `output`; a JSON-ready summary."""
    from cocogen.record import atomic_write
    from refiners.stage import refine_draft, validate

    if not image.is_file():
        raise UsageError(f"image not found: {image}")
    output = output or default_output(image)
    if output.suffix.lower() != ".png":
        raise UsageError(f"output {output} must end in .png")
    manifest = read_manifest(manifest_path)
    if refiner is None:
        from cocogen.registry import load_refiner

        refiner = load_refiner("diffusers", **(refiner_options or {}))
    assert refiner is not None
    validate(refiner, options)
    png = image.read_bytes()
    outcome = refine_draft(refiner, png, manifest, Request(prompt=request_prompt), options)
    atomic_write(output, outcome.final_png)
    summary: dict[str, Any] = {
        "status": "refined" if outcome.accepted else "kept_draft",
        "image": str(output),
        "accepted": outcome.accepted,
        "reasons": outcome.record.get("reasons", []),
        "mask": None,
        "refine": outcome.record,
    }
    if mask_output is not None and outcome.result is not None and outcome.result.mask_png:
        atomic_write(mask_output, outcome.result.mask_png)
        summary["mask"] = str(mask_output)
    if outcome.report is not None:
        summary["findings"] = [f.model_dump(mode="json") for f in outcome.report.findings]
    json.dumps(summary)  # fail here, not in the CLI, if something is not JSON-ready
    return summary
