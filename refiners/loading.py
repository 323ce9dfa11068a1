"""Find a diffusers pipeline on disk and load the img2img flavour of it.

A model is named by a local directory (holding `model_index.json`) or by a model id that is
already in the local Hugging Face cache.  Nothing is downloaded unless the caller allows it; a
model that cannot be found is a `ModelNotFound` naming every place that was looked at.

`model_index.json`'s `_class_name` decides the pipeline: text-to-image and img2img pipelines of
Stable Diffusion and SDXL load as their img2img class, ControlNet ones as ControlNet img2img
(also when a separate ControlNet is given), inpainting ones as inpainting (the refiner then paints
only outside the protect mask).  Other classes go through `AutoPipelineForImage2Image`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from refiners.base import ModelNotFound, RefineError

Mode = Literal["img2img", "controlnet", "inpaint"]

# _class_name in model_index.json → (pipeline class to load, mode)
PIPELINES: dict[str, tuple[str, Mode]] = {
    "StableDiffusionPipeline": ("StableDiffusionImg2ImgPipeline", "img2img"),
    "StableDiffusionImg2ImgPipeline": ("StableDiffusionImg2ImgPipeline", "img2img"),
    "StableDiffusionXLPipeline": ("StableDiffusionXLImg2ImgPipeline", "img2img"),
    "StableDiffusionXLImg2ImgPipeline": ("StableDiffusionXLImg2ImgPipeline", "img2img"),
    "StableDiffusionControlNetPipeline": ("StableDiffusionControlNetImg2ImgPipeline", "controlnet"),
    "StableDiffusionControlNetImg2ImgPipeline": (
        "StableDiffusionControlNetImg2ImgPipeline",
        "controlnet",
    ),
    "StableDiffusionXLControlNetPipeline": (
        "StableDiffusionXLControlNetImg2ImgPipeline",
        "controlnet",
    ),
    "StableDiffusionXLControlNetImg2ImgPipeline": (
        "StableDiffusionXLControlNetImg2ImgPipeline",
        "controlnet",
    ),
    "StableDiffusionInpaintPipeline": ("StableDiffusionInpaintPipeline", "inpaint"),
    "StableDiffusionXLInpaintPipeline": ("StableDiffusionXLInpaintPipeline", "inpaint"),
}
# A base pipeline class + a separate ControlNet → this ControlNet img2img class.
WITH_CONTROLNET: dict[str, str] = {
    "StableDiffusionImg2ImgPipeline": "StableDiffusionControlNetImg2ImgPipeline",
    "StableDiffusionXLImg2ImgPipeline": "StableDiffusionXLControlNetImg2ImgPipeline",
}


@dataclass(frozen=True)
class ModelSource:
    ref: str
    """What the user named."""
    path: Path
    """The directory it resolved to."""
    class_name: str
    """`_class_name` from model_index.json (or config.json for a ControlNet)."""


@dataclass
class Loaded:
    pipe: Any
    pipeline: str
    """The class that was loaded."""
    mode: Mode
    model: str
    controlnet: str | None = None


def _hub_cache() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - huggingface_hub comes with diffusers
        return "~/.cache/huggingface/hub"


def _looks_like_path(ref: str) -> bool:
    return ref.startswith(("/", ".", "~")) or ref.count("/") > 1 or "\\" in ref


def resolve(
    ref: str, *, index_file: str = "model_index.json", allow_download: bool = False
) -> ModelSource:
    """A local directory, else a cached (or, if allowed, downloaded) model id → its directory."""
    if not ref or not ref.strip():
        raise ModelNotFound("no model given: pass a local diffusers directory or a cached model id")
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFound(f"model {path} is a file; expected a diffusers directory")
        return ModelSource(ref=ref, path=path, class_name=_class_name(path, index_file))
    looked = f"no directory {path.resolve()}"
    if not _looks_like_path(ref):
        try:
            from huggingface_hub import snapshot_download
            from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
        except ImportError:  # pragma: no cover - huggingface_hub comes with diffusers
            pass
        else:
            try:
                found = snapshot_download(ref, local_files_only=not allow_download)
            except (LocalEntryNotFoundError, HFValidationError, OSError) as exc:
                looked += f", not in the Hugging Face cache {_hub_cache()} ({type(exc).__name__})"
            else:
                cached = Path(str(found))
                return ModelSource(ref=ref, path=cached, class_name=_class_name(cached, index_file))
    hint = "" if allow_download else "; downloads are off (allow_download=True / --allow-download)"
    raise ModelNotFound(f"model {ref!r} not found: {looked}{hint}")


def _class_name(path: Path, index_file: str) -> str:
    index = path / index_file
    if not index.is_file():
        raise ModelNotFound(f"{path} has no {index_file}: it is not a diffusers model directory")
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RefineError(f"cannot read {index}: {exc}") from None
    name = data.get("_class_name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise RefineError(f"{index} names no _class_name")
    return name


def choose(class_name: str, with_controlnet: bool) -> tuple[str, Mode]:
    """The img2img pipeline class and mode for a model's class name."""
    pipeline, mode = PIPELINES.get(class_name, ("AutoPipelineForImage2Image", "img2img"))
    if with_controlnet:
        if mode == "controlnet":
            return pipeline, mode
        if pipeline not in WITH_CONTROLNET:
            raise RefineError(
                f"a ControlNet was given but the model is a {class_name}; ControlNet img2img "
                f"works with: {', '.join(sorted(WITH_CONTROLNET))} models"
            )
        return WITH_CONTROLNET[pipeline], "controlnet"
    return pipeline, mode


def quiet_libraries() -> None:
    """Keep diffusers/transformers from printing progress and advice on every load."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def dtype_kwarg(dtype: Any) -> dict[str, Any]:
    """`dtype=` for diffusers that renamed it (0.36+ warns on `torch_dtype=`), else the old name."""
    from diffusers.utils import deprecation_utils

    return {"dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype": dtype}


def load(
    model: str,
    *,
    torch_dtype: Any,
    controlnet: str | None = None,
    allow_download: bool = False,
) -> Loaded:
    """Load the img2img pipeline for `model` (and `controlnet`, if any) on the CPU."""
    import diffusers

    quiet_libraries()
    source = resolve(model, allow_download=allow_download)
    pipeline_name, mode = choose(source.class_name, controlnet is not None)
    cls = getattr(diffusers, pipeline_name, None)
    if cls is None:
        raise RefineError(
            f"{source.path} is a {source.class_name}; this diffusers ({diffusers.__version__}) "
            f"has no {pipeline_name}"
        )
    extra: dict[str, Any] = {}
    if controlnet is not None:
        net = resolve(controlnet, index_file="config.json", allow_download=allow_download)
        extra["controlnet"] = diffusers.ControlNetModel.from_pretrained(
            str(net.path), local_files_only=not allow_download, **dtype_kwarg(torch_dtype)
        )
    try:
        pipe = cls.from_pretrained(
            str(source.path),
            local_files_only=not allow_download,
            **dtype_kwarg(torch_dtype),
            **extra,
        )
    except ValueError as exc:
        if pipeline_name == "AutoPipelineForImage2Image":
            raise RefineError(
                f"{source.path} is a {source.class_name}, which has no img2img pipeline "
                f"(supported: {', '.join(sorted(PIPELINES))}): {exc}"
            ) from None
        raise
    except OSError as exc:
        raise ModelNotFound(f"cannot load the model from {source.path}: {exc}") from None
    return Loaded(
        pipe=pipe,
        pipeline=type(pipe).__name__,
        mode=mode,
        model=model,
        controlnet=controlnet,
    )
