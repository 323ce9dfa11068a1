"""Device planning on the machine at hand (a CPU in CI): precision, threads, clear refusals,
and the speed settings that `optimize` applies to a real (tiny) pipeline."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

import torch

from refiners.base import RefineError
from refiners.devices import apply_threads, optimize, plan_device
from refiners.random_pipelines import tiny


def test_the_cpu_plan_is_float32_on_a_bounded_number_of_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    plan = plan_device("cpu")
    assert (plan.device, plan.dtype, plan.kind) == ("cpu", "float32", "cpu")
    assert plan.threads is not None and 1 <= plan.threads <= 4
    assert any("on the CPU" in note for note in plan.notes)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert plan_device("cpu").threads == 1
    assert plan_device("cpu", threads=3).threads == 3
    half = plan_device("cpu", dtype="float16")
    assert half.dtype == "float16" and any("slow or unsupported" in n for n in half.notes)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_what_cannot_be_had_is_a_clear_error() -> None:
    assert plan_device("auto").kind in ("cpu", "mps")
    with pytest.raises(RefineError, match="no CUDA device"):
        plan_device("cuda")
    with pytest.raises(RefineError, match="unknown dtype 'float8'"):
        plan_device("cpu", dtype="float8")
    with pytest.raises(RefineError, match="unknown device 'tpu'"):
        plan_device("tpu")


def test_optimize_moves_the_pipeline_and_says_what_it_did() -> None:
    before = torch.get_num_threads()
    try:
        plan = plan_device("cpu", threads=1)
        pipe = tiny("sd")
        done = optimize(pipe, plan)
        assert done[0] == "cpu float32" and "attention: SDPA" in done
        assert "channels-last" not in done  # it slows the CPU down
        assert next(pipe.unet.parameters()).dtype == torch.float32
        apply_threads(plan)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
