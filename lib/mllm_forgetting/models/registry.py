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
from safetensors import SafetensorError
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
# Where each `size` key lands in a built checkpoint's config.json (see the builders), so a checkpoint can be
# checked against its config entry. Architecture names are the transformers model types.
_SHARED_FIELDS = {
    "vision_hidden": "vision_config.hidden_size",
    "vision_layers": "vision_config.num_hidden_layers",
    "image_size": "vision_config.image_size",
    "patch_size": "vision_config.patch_size",
    "text_hidden": "text_config.hidden_size",
    "text_layers": "text_config.num_hidden_layers",
    "heads": "text_config.num_attention_heads",
    "max_positions": "text_config.max_position_embeddings",
}
SIZE_FIELDS = {
    "llava": _SHARED_FIELDS,
    "idefics2": {
        **_SHARED_FIELDS,
        "resampler_latents": "perceiver_config.resampler_n_latents",
        "resampler_depth": "perceiver_config.resampler_depth",
    },
    "qwen2_vl": {
        "vision_hidden": "vision_config.embed_dim",
        "vision_layers": "vision_config.depth",
        "patch_size": "vision_config.patch_size",
        "text_hidden": "text_config.hidden_size",
        "text_layers": "text_config.num_hidden_layers",
        "heads": "text_config.num_attention_heads",
        "max_positions": "text_config.max_position_embeddings",
    },  # image_size: the processor's pixel budget
}


def check_architecture(architecture: str) -> None:
    if architecture not in BUILDERS:
        raise ValueError(f"unknown backbone architecture {architecture!r}; valid: {sorted(BUILDERS)}")


def build_backbone(architecture: str, size: dict, words: list[str]):
    check_architecture(architecture)
    return BUILDERS[architecture](size, words)


def check_checkpoint(path: str | Path, backbone_cfg: dict) -> None:
    """Refuse a checkpoint whose model type or size is not what a built backbone's config entry makes:
    transformers would load it as whatever it is. Hub entries (no architecture) have nothing to compare."""
    architecture, config_file = backbone_cfg.get("architecture"), Path(path) / "config.json"
    if architecture is None or not config_file.exists():  # load_backbone says how to get a missing one
        return
    check_architecture(architecture)
    found = _read_config(path)
    hint = "re-run this backbone's pretrain rule, or point at its own checkpoint"
    if found.get("model_type") != architecture:
        raise ValueError(
            f"checkpoint {path} holds a model of type {found.get('model_type')!r}, but the backbone "
            f"config expects architecture {architecture!r}; {hint}"
        )
    size = backbone_cfg.get("size", {})
    wrong = [
        f"{key} {size[key]} (found {field} = {_field(found, field)})"
        for key, field in SIZE_FIELDS[architecture].items()
        if key in size and _field(found, field) != size[key]
    ]
    if wrong:
        raise ValueError(
            f"checkpoint {path} does not have the backbone config's size: expected {', '.join(wrong)}; {hint}"
        )


def _read_config(path: Path | str) -> dict:
    try:
        return json.loads((Path(path) / "config.json").read_text())
    except ValueError as err:  # a truncated or overwritten config.json
        raise ValueError(_damaged(path, err)) from err


def _damaged(path, err: Exception) -> str:
    return (
        f"checkpoint {path} is damaged ({type(err).__name__}: {err}); delete it and rerun the step that wrote it "
        f"(pretrain, fetch_backbone or the cell's train rule)"
    )


def _field(config: dict, dotted: str):
    for part in dotted.split("."):
        config = config.get(part) if isinstance(config, dict) else None
    return config


def loading_options(backbone_cfg: dict) -> dict:
    """The keyword arguments of `load_backbone` that a backbone's config entry sets."""
    dtype = backbone_cfg.get("dtype", "float32")
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid: {sorted(DTYPES)}")
    return {
        "dtype": DTYPES[dtype],
        "trust_remote_code": bool(backbone_cfg.get("trust_remote_code", False)),
        "device_map": backbone_cfg.get("device_map"),
        "attn_implementation": backbone_cfg.get("attn_implementation"),
    }


def load_backbone(
    path: str | Path,
    dtype: torch.dtype = torch.float32,
    *,
    trust_remote_code: bool = False,
    device_map=None,
    attn_implementation: str | None = None,
):
    """Load a checkpoint directory written by save_pretrained or the fetch step: (model, processor).

    Remote-code models (trust_remote_code) register only AutoModel, not the image-text-to-text class.
    """
    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: run the step that writes it first (`snakemake {path}`: pretrain for a "
            f"built backbone, fetch_backbone for a hub one)"
        )
    kwargs = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if device_map is not None:
        kwargs["device_map"] = device_map
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    model_type = _read_config(path).get("model_type")
    if model_type in NO_INPUT_ADAPTER:
        raise NotImplementedError(f"{path}: {NO_INPUT_ADAPTER[model_type]}")
    auto = AutoModel if trust_remote_code else AutoModelForImageTextToText
    try:
        model = auto.from_pretrained(path, **kwargs)
    except SafetensorError as err:  # weights cut short (a full disk while saving) or overwritten
        raise ValueError(_damaged(path, err)) from err
    processor = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
    if not callable(getattr(processor, "image_processor", None)) or not hasattr(processor, "tokenizer"):
        raise TypeError(
            f"{path}: the pipeline needs a processor with a tokenizer and an image processor; "
            f"got {type(processor).__name__}"
        )
    return model, processor


def image_token_id(model) -> int:
    return model.config.image_token_id
