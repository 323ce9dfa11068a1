"""Diffusers pipelines built from configs with random weights: for tests, benchmarks and doctors.

No weights can be downloaded here, and none are needed to exercise the real pipeline code: a UNet
with small `block_out_channels`, a small VAE (factor 8, like the real one) and a small CLIP text
encoder run img2img at 64-256 px in a fraction of a second on one CPU thread.  The cost of a
full-size model does not depend on its weights, so `sdxl_sized()` builds an SDXL-sized UNet, VAE
and text encoders from their published shapes for timing on a GPU.

The tokenizer is a character-level CLIP BPE vocabulary written to a directory and loaded with
`from_pretrained` (transformers 5 silently ignores vocab files passed to the constructor).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Literal

Kind = Literal["sd", "sdxl", "controlnet", "inpaint"]
KINDS: tuple[Kind, ...] = ("sd", "sdxl", "controlnet", "inpaint")

_SPECIAL = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>"}


def tokenizer(max_length: int = 77) -> Any:
    """A CLIP tokenizer with one token per printable ASCII character (and its word-final form)."""
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {_SPECIAL["bos_token"]: 0, _SPECIAL["eos_token"]: 1}
    chars = [chr(c) for c in range(33, 127)]
    for suffix in ("", "</w>"):
        for char in chars:
            vocab.setdefault(char + suffix, len(vocab))
    config = {
        "model_max_length": max_length,
        "pad_token": _SPECIAL["eos_token"],
        "unk_token": _SPECIAL["eos_token"],
        **_SPECIAL,
    }
    with tempfile.TemporaryDirectory(prefix="cocogen-tokenizer-") as tmp:
        folder = Path(tmp)
        (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
        (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
        return CLIPTokenizer.from_pretrained(str(folder))


def _text_encoder(vocab_size: int, hidden: int = 32, *, projection: bool = False) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=hidden,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        projection_dim=hidden,
        layer_norm_eps=1e-5,
        vocab_size=vocab_size,
    )
    return CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)


def _vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(32, 32, 64, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        sample_size=128,
    )


_UNET_BLOCKS = {
    "block_out_channels": (32, 64),
    "layers_per_block": 2,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
}


def _scheduler(kind: Kind) -> Any:
    from diffusers import DDIMScheduler, EulerDiscreteScheduler

    common = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}
    if kind == "sdxl":
        return EulerDiscreteScheduler(**common, steps_offset=1, timestep_spacing="leading")
    return DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def tiny(kind: Kind = "sd", seed: int = 0) -> Any:
    """A tiny random-weight img2img pipeline of the given kind, on the CPU, in float32."""
    import diffusers
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    from refiners.loading import quiet_libraries

    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (choose from {', '.join(KINDS)})")
    quiet_libraries()
    torch.manual_seed(seed)
    tok = tokenizer()
    vocab = len(tok)
    up = ("CrossAttnUpBlock2D", "UpBlock2D")
    parts: dict[str, Any] = {"vae": _vae(), "tokenizer": tok, "scheduler": _scheduler(kind)}
    if kind == "sdxl":
        parts["unet"] = UNet2DConditionModel(
            **_UNET_BLOCKS,
            up_block_types=up,
            sample_size=16,
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 2),
            projection_class_embeddings_input_dim=6 * 8 + 32,
            cross_attention_dim=64,
        )
        parts["text_encoder"] = _text_encoder(vocab)
        parts["text_encoder_2"] = _text_encoder(vocab, projection=True)
        parts["tokenizer_2"] = tok
        return diffusers.StableDiffusionXLImg2ImgPipeline(**parts, requires_aesthetics_score=False)
    in_channels = 9 if kind == "inpaint" else 4
    parts["unet"] = UNet2DConditionModel(
        **_UNET_BLOCKS,
        up_block_types=up,
        sample_size=16,
        in_channels=in_channels,
        out_channels=4,
        cross_attention_dim=32,
    )
    parts["text_encoder"] = _text_encoder(vocab)
    sd = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
    if kind == "controlnet":
        parts["controlnet"] = ControlNetModel(
            **_UNET_BLOCKS,
            in_channels=4,
            cross_attention_dim=32,
            conditioning_embedding_out_channels=(16, 32, 64, 64),
        )
        return diffusers.StableDiffusionControlNetImg2ImgPipeline(**parts, **sd)
    if kind == "inpaint":
        return diffusers.StableDiffusionInpaintPipeline(**parts, **sd)
    return diffusers.StableDiffusionImg2ImgPipeline(**parts, **sd)


def save_tiny(path: str | Path, kind: Kind = "sd", seed: int = 0) -> Path:
    """Build a tiny pipeline and save it as a diffusers directory (model_index.json + parts)."""
    target = Path(path)
    tiny(kind, seed).save_pretrained(str(target))
    return target


def save_tiny_controlnet(path: str | Path, seed: int = 0) -> Path:
    """Only the ControlNet of a tiny pipeline (config.json + weights), for `controlnet=PATH`."""
    target = Path(path)
    tiny("controlnet", seed).controlnet.save_pretrained(str(target))
    return target


def sdxl_sized(seed: int = 0, device: str = "cpu", dtype: Any = None) -> Any:
    """An SDXL-base-sized img2img pipeline (2.6 B-parameter UNet) with random weights.

    Built directly on `device` (weights are never materialised on the CPU when a GPU is given).
    Cost does not depend on the weights, so this times the real thing.
    """
    import diffusers
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from refiners.loading import quiet_libraries

    quiet_libraries()
    torch.manual_seed(seed)
    dtype = dtype or torch.float32
    tok = tokenizer()
    with torch.device(device):
        unet = UNet2DConditionModel(
            sample_size=128,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(320, 640, 1280),
            layers_per_block=2,
            transformer_layers_per_block=(1, 2, 10),
            attention_head_dim=(5, 10, 20),
            cross_attention_dim=2048,
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
        )
        vae = AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            latent_channels=4,
            sample_size=1024,
            scaling_factor=0.13025,
        )
        common: dict[str, Any] = {
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
            "vocab_size": 49408,
        }
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                hidden_size=768,
                intermediate_size=3072,
                num_hidden_layers=12,
                num_attention_heads=12,
                projection_dim=768,
                hidden_act="quick_gelu",
                **common,
            )
        )
        text_encoder_2 = CLIPTextModelWithProjection(
            CLIPTextConfig(
                hidden_size=1280,
                intermediate_size=5120,
                num_hidden_layers=32,
                num_attention_heads=20,
                projection_dim=1280,
                hidden_act="gelu",
                **common,
            )
        )
    pipe: Any = diffusers.StableDiffusionXLImg2ImgPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tok,
        tokenizer_2=tok,
        unet=unet,
        scheduler=_scheduler("sdxl"),
        requires_aesthetics_score=False,
    )
    pipe.to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe
