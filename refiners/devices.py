"""Where and how a diffusion pipeline runs: device, precision, threads, speed settings.

- CUDA: half precision (float16; bfloat16 on request), SDPA attention, channels-last memory for
  the convolutional models, optional `torch.compile` of the UNet.
- Apple MPS: float32 (the safe choice there) with attention slicing.
- CPU: float32, a bounded number of threads (many threads on a small shared box make small ops
  far slower, see FIELD-NOTES), and a warning that full-size models take minutes per image.

torch is imported inside the functions.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from refiners.base import RefineError

log = logging.getLogger("cocogen.refiners")

DTYPES = ("float32", "float16", "bfloat16")
DEFAULT_CPU_THREADS = 4


@dataclass(frozen=True)
class DevicePlan:
    device: str
    """torch device string: 'cuda', 'cuda:1', 'mps' or 'cpu'."""
    dtype: str
    threads: int | None = None
    """CPU threads for torch (None: left as it is)."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def kind(self) -> str:
        return self.device.split(":", 1)[0]


def plan_device(
    device: str = "auto", dtype: str = "auto", threads: int | None = None
) -> DevicePlan:
    """Pick the device and precision; 'auto' prefers CUDA, then MPS, then the CPU."""
    import torch

    if dtype != "auto" and dtype not in DTYPES:
        raise RefineError(f"unknown dtype {dtype!r} (choose from auto, {', '.join(DTYPES)})")
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    kind = device.split(":", 1)[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise RefineError(f"device {device!r} was asked for but torch sees no CUDA device")
    if kind not in ("cuda", "mps", "cpu"):
        raise RefineError(f"unknown device {device!r} (choose from auto, cuda, cuda:N, mps, cpu)")
    if dtype == "auto":
        dtype = "float16" if kind == "cuda" else "float32"
    notes: list[str] = []
    if kind == "cpu":
        threads = threads or _env_threads() or min(DEFAULT_CPU_THREADS, os.cpu_count() or 1)
        notes.append(
            f"refining on the CPU ({dtype}, torch threads: {threads}): tiny models are quick, "
            "full-size ones take minutes per image"
        )
    if kind != "cuda" and dtype == "float16":
        notes.append(f"float16 on {kind} is slow or unsupported for some layers")
    return DevicePlan(device=device, dtype=dtype, threads=threads, notes=tuple(notes))


def _env_threads() -> int | None:
    """OMP_NUM_THREADS, when set to a positive number, is respected."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def apply_threads(plan: DevicePlan) -> None:
    if plan.kind == "cpu" and plan.threads:
        import torch

        if torch.get_num_threads() != plan.threads:
            torch.set_num_threads(plan.threads)


def optimize(
    pipe: Any, plan: DevicePlan, *, channels_last: bool | None = None, compile_unet: bool = False
) -> list[str]:
    """Move `pipe` to the plan's device and precision and apply the speed settings; what was done.

    `channels_last` defaults to on for CUDA only (it slows the CPU down).  SDPA attention is what
    diffusers uses by default with torch ≥ 2; it is set explicitly where a model still runs the
    plain attention processor.
    """
    import torch

    done: list[str] = []
    pipe.to(plan.device, torch_dtype(plan.dtype))
    done.append(f"{plan.device} {plan.dtype}")
    models = [m for m in (getattr(pipe, n, None) for n in ("unet", "controlnet", "vae")) if m]
    if hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

        for model in models:
            processors = getattr(model, "attn_processors", {})
            plain = [p for p in processors.values() if type(p) is AttnProcessor]
            if plain and len(plain) == len(processors):
                model.set_attn_processor(AttnProcessor2_0())
        done.append("attention: SDPA")
    if channels_last is None:
        channels_last = plan.kind == "cuda"
    if channels_last:
        for model in models:
            model.to(memory_format=torch.channels_last)
        done.append("channels-last")
    if plan.kind == "mps" and hasattr(pipe, "enable_attention_slicing"):
        pipe.enable_attention_slicing()
        done.append("attention slicing")
    if compile_unet and getattr(pipe, "unet", None) is not None:
        pipe.unet = torch.compile(pipe.unet)
        done.append("torch.compile(unet)")
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return done
