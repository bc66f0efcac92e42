"""Backbone registry and loading.

Two kinds of backbone entries in the config:
* built: `architecture` names a builder here that makes a randomly initialised tiny model and its
  processor from a `size`; the pipeline pre-trains it and saves it with save_pretrained;
* hub: `hub_id` names a published checkpoint (llava-hf/llava-1.5-7b-hf, Qwen/Qwen2-VL-2B-Instruct, ...)
  that the fetch step downloads.
From then on both load the same way, through `load_backbone`, with the entry's loading options.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModel, AutoModelForImageTextToText, AutoProcessor

from .idefics2 import build_idefics2
from .llava import build_llava
from .qwen2_vl import build_qwen2_vl

BUILDERS = {
    "llava": build_llava,
    "idefics2": build_idefics2,
    "qwen2_vl": build_qwen2_vl,
}
# Remote-code models whose inputs do not follow processor(text=[...], images=[[...]]) -> model(**inputs).
NO_INPUT_ADAPTER = {
    "minicpmv": "MiniCPM-V-2's remote code processes one prompt per processor call and its forward takes a "
                "`data=` dict (pixel_values lists, image_bound); the pipeline has no input adapter for it yet",
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def build_backbone(architecture: str, size: dict, words: list[str]):
    if architecture not in BUILDERS:
        raise ValueError(f"unknown backbone architecture {architecture!r}; valid: {sorted(BUILDERS)}")
    return BUILDERS[architecture](size, words)


def loading_options(backbone_cfg: dict) -> dict:
    """The keyword arguments of `load_backbone` that a backbone's config entry sets."""
    dtype = backbone_cfg.get("dtype", "float32")
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid: {sorted(DTYPES)}")
    return {"dtype": DTYPES[dtype], "trust_remote_code": bool(backbone_cfg.get("trust_remote_code", False)),
            "device_map": backbone_cfg.get("device_map"), "attn_implementation": backbone_cfg.get("attn_implementation")}


def load_backbone(path: str | Path, dtype: torch.dtype = torch.float32, *, trust_remote_code: bool = False,
                  device_map=None, attn_implementation: str | None = None):
    """Load a checkpoint directory written by save_pretrained or the fetch step: (model, processor).

    Remote-code models (trust_remote_code) register only AutoModel, not the image-text-to-text class.
    """
    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: run the step that writes it first (`snakemake {path}`: pretrain for a "
            f"built backbone, fetch_backbone for a hub one)")
    kwargs = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if device_map is not None:
        kwargs["device_map"] = device_map
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    model_type = json.loads((path / "config.json").read_text()).get("model_type")
    if model_type in NO_INPUT_ADAPTER:
        raise NotImplementedError(f"{path}: {NO_INPUT_ADAPTER[model_type]}")
    auto = AutoModel if trust_remote_code else AutoModelForImageTextToText
    model = auto.from_pretrained(path, **kwargs)
    processor = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
    if not callable(getattr(processor, "image_processor", None)) or not hasattr(processor, "tokenizer"):
        raise TypeError(f"{path}: the pipeline needs a processor with a tokenizer and an image processor; "
                        f"got {type(processor).__name__}")
    return model, processor


def image_token_id(model) -> int:
    return model.config.image_token_id
