"""Fixtures for the refiner tests: a real rendered draft and tiny random-weight diffusers models.

The draft is a small matplotlib chart rendered through the real sandbox (so its manifest is the
renderer's own).  Models are built from configs with random weights and saved as diffusers
directories once per session; torch runs on one thread (FIELD-NOTES: more threads on a busy
2-core box make small ops far slower).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from refining.helpers import CHART, Draft, need_refine_extra

from cocogen.types import Canvas, Program, Request


@pytest.fixture(scope="session")
def draft(cache_dir: Path) -> Iterator[Draft]:
    from cocogen.rendering import render_program

    program = Program(language="matplotlib", source=CHART)
    request = Request(canvas=Canvas(width=192, height=128, dpi=50))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COCOGEN_CACHE_DIR", str(cache_dir))
        rendered, _notes = render_program(program, request)
    assert rendered.ok, rendered.failure
    assert rendered.png is not None and rendered.manifest is not None
    yield Draft(rendered.png, rendered.manifest, program)


@pytest.fixture(scope="session")
def torch_one_thread() -> Any:
    need_refine_extra()
    import torch

    torch.set_num_threads(1)
    return torch


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory, torch_one_thread: Any) -> dict[str, Path]:
    """Tiny diffusers directories: sd, sdxl, controlnet (a full pipeline), inpaint, and a bare
    ControlNet ('controlnet-only') to pair with 'sd'."""
    from refiners.random_pipelines import KINDS, save_tiny, save_tiny_controlnet

    root = tmp_path_factory.mktemp("tiny-models")
    found: dict[str, Path] = {}
    for kind in KINDS:
        found[kind] = save_tiny(root / kind, kind)
    found["controlnet-only"] = save_tiny_controlnet(root / "controlnet-only")
    return found
