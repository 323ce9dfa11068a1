"""The refine step inside the pipeline and on the command line: refine, re-check, record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from refining.helpers import CHART, Draft

from cocogen.pipeline import Pipeline
from cocogen.types import (
    Canvas,
    LayoutManifest,
    Program,
    RefineOptions,
    Request,
    RunRecord,
)
from refiners.base import ModelNotFound, RefineResult
from refiners.mask import decode_rgb, encode_png, protect_mask

CANVAS = Canvas(width=192, height=128, dpi=50)
STEPS = {"steps": 4, "strength": 0.5}


class GrainRefiner:
    """A real (if modest) refiner plugin: adds film grain outside the protect mask."""

    name = "grain"

    def refine(
        self, image: bytes, manifest: LayoutManifest, request: Request, options: RefineOptions
    ) -> RefineResult:
        rgb = decode_rgb(image)
        lock = protect_mask(rgb, manifest, options.margin_px)
        noise = np.random.default_rng(request.seed).normal(0, 3.0, rgb.shape)
        grain = np.clip(rgb + noise, 0, 255).astype(np.uint8)
        out = np.where(lock.mask[..., None], rgb, grain)
        return RefineResult(
            png=encode_png(out),
            mask_png=encode_png(lock.mask),
            protected_element_ids=lock.element_ids,
            changed=True,
            refiner=self.name,
        )


def _render(pipeline: Pipeline, options: RefineOptions, run_dir: str) -> tuple[Any, RunRecord]:
    program = Program(language="matplotlib", source=CHART)
    result = pipeline.render(program, Request(canvas=CANVAS, refine=options), run_dir=Path(run_dir))
    record = RunRecord.model_validate_json((Path(result.run_dir) / "run.json").read_text())
    return result, record


def test_an_accepted_refinement_becomes_the_final_image() -> None:
    pipeline = Pipeline(refiner=GrainRefiner())
    result, record = _render(pipeline, RefineOptions(prompt="film grain"), "run")
    run = Path(result.run_dir)
    assert result.status == "ok"
    assert record.refine is not None and record.refine["accepted"] is True, record.refine
    assert record.refine["final"] == "refined" and record.refine["refiner"] == "grain"
    final = (run / "final.png").read_bytes()
    assert final == (run / "refine/refined.png").read_bytes()
    assert final != (run / "attempt-1/draft.png").read_bytes()
    assert record.refine["files"] == {
        "refined": "refine/refined.png",
        "mask": "refine/mask.png",
        "check": "refine/check.json",
    }
    assert record.refine["edge"]["f1"] > 0.9 and "refine_s" in record.timings


def test_a_rejected_refinement_leaves_the_draft_final(models: dict[str, Path]) -> None:
    from refiners.diffusers import DiffusersRefiner

    pipeline = Pipeline(refiner=DiffusersRefiner(device="cpu", threads=1))
    options = RefineOptions(model=str(models["sd"]), **STEPS)
    result, record = _render(pipeline, options, "run")
    run = Path(result.run_dir)
    assert (run / "final.png").read_bytes() == (run / "attempt-1/draft.png").read_bytes()
    assert (run / "refine/refined.png").exists()
    refine = record.refine
    assert refine is not None and refine["accepted"] is False and refine["final"] == "draft"
    assert refine["pipeline"] == "StableDiffusionImg2ImgPipeline"
    # Random weights scramble everything the lock leaves free: the structure gate says so.
    assert any("edge structure" in reason for reason in refine["reasons"]), refine["reasons"]
    assert refine["options"]["model"] == str(models["sd"])


def test_a_missing_model_fails_before_anything_is_rendered(tmp_path: Path) -> None:
    pipeline = Pipeline()
    with pytest.raises(ModelNotFound, match="no-model-here"):
        _render(pipeline, RefineOptions(model=str(tmp_path / "no-model-here")), "run")
    assert not Path("run").exists() and not Path("runs").exists()


def _cocogen(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cocogen.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_cli_generate_with_refine_then_refine_its_draft(
    models: dict[str, Path], draft: Draft
) -> None:
    sales = "A bar chart comparing Q1-Q4 sales with values 100, 120, 150, 140"
    size = ["--width", "256", "--height", "192", "--dpi", "50"]
    proc = _cocogen("generate", sales, *size, "--refine", str(models["sd"]), "--json")
    assert proc.returncode == 0, proc.stderr
    run = Path(json.loads(proc.stdout)["run_dir"])
    record = json.loads((run / "run.json").read_text())
    assert record["refine"]["options"]["model"] == str(models["sd"])
    assert record["refine"]["final"] in ("draft", "refined")
    assert (run / "refine/mask.png").exists()

    draft_png = run / "attempt-1/draft.png"
    manifest = run / "attempt-1/manifest.json"
    args = ["refine", str(draft_png), "--manifest", str(manifest), "--model", str(models["sd"])]
    proc = _cocogen(
        *args,
        "--steps",
        "4",
        "--strength",
        "0.5",
        "--no-lock",
        "-o",
        "out.png",
        "--mask-output",
        "mask.png",
        "--json",
    )
    # Without the lock random weights ruin the texts: exit 1, the draft is written instead.
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "kept_draft" and summary["image"] == "out.png"
    assert summary["reasons"] and Path("out.png").read_bytes() == draft_png.read_bytes()
    assert Path("mask.png").exists()

    proc = _cocogen(*args[:-1], str(Path("nowhere")))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"error: model 'nowhere' not found: no directory {Path.cwd()}")
    assert "Hugging Face cache" in lines[0] and "downloads are off" in lines[0]
    proc = _cocogen(*args, "--region", "no-equals-sign")
    assert proc.returncode == 2 and "bad --region 'no-equals-sign'" in proc.stderr
