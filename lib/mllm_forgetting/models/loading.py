"""Loading a backbone checkpoint, built or fetched from the hub, with its config entry's options.

Both kinds of checkpoint are save_pretrained directories: a built backbone's, written by pre-training,
and a hub backbone's, downloaded by fetch_backbone. A built one is checked against its config entry
first, since transformers would load a checkpoint of another architecture or size as whatever it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoModel, AutoModelForImageTextToText, AutoProcessor

from ..config.settings import BackboneConfig
from .minicpmv import adapt_minicpmv

# Remote-code models whose inputs do not follow processor(text=[...], images=[[...]]) -> model(**inputs), by
# config.json's model_type: (model, processor) as loaded -> (model, processor) the pipeline can drive.
INPUT_ADAPTERS = {
    "minicpmv": adapt_minicpmv,
}


def check_checkpoint(path: str | Path, backbone: BackboneConfig) -> None:
    """Refuse a checkpoint whose model type or size is not what a built backbone's entry makes. Hub entries
    (no architecture) have nothing to compare; a missing checkpoint is load_backbone's to report."""
    if backbone.architecture is None or not (Path(path) / "config.json").exists():
        return
    found = _read_config(path)
    hint = "re-run this backbone's pretrain rule, or point at its own checkpoint"
    if found.get("model_type") != backbone.architecture:
        raise ValueError(
            f"checkpoint {path} holds a model of type {found.get('model_type')!r}, but the backbone "
            f"config expects architecture {backbone.architecture!r}; {hint}"
        )
    wrong = [
        f"{key} {getattr(backbone.size, key)} (found {field} = {_field(found, field)})"
        for key, field in backbone.size.CHECKPOINT_FIELDS.items()
        if _field(found, field) != getattr(backbone.size, key)
    ]
    if wrong:
        raise ValueError(
            f"checkpoint {path} does not have the backbone config's size: expected {', '.join(wrong)}; {hint}"
        )


def load_backbone(path: str | Path, backbone: BackboneConfig):
    """(model, processor) of a checkpoint directory, loaded with the entry's dtype, remote code, device map
    and attention implementation, through its input adapter if it has one. Remote-code models register only
    AutoModel, not the image-text class."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: make it with `snakemake {_as_target(path)} --cores 1` (add "
            f"`--configfile` for a "
            f"config other than config/config.yaml): pretrain or fetch_backbone for a backbone, train for a "
            f"cell's model/"
        )
    check_checkpoint(path, backbone)
    kwargs = {"dtype": getattr(torch, backbone.dtype), "trust_remote_code": backbone.trust_remote_code}
    if backbone.device_map is not None:
        kwargs["device_map"] = backbone.device_map
    if backbone.attn_implementation is not None:
        kwargs["attn_implementation"] = backbone.attn_implementation
    auto = AutoModel if backbone.trust_remote_code else AutoModelForImageTextToText
    try:
        model = auto.from_pretrained(path, **kwargs)
    except SafetensorError as err:  # weights cut short (a full disk while saving) or overwritten
        raise ValueError(_damaged(path, err)) from err
    except ImportError as err:  # remote code needing a missing package, or written for another transformers
        if not backbone.trust_remote_code:
            raise
        raise ImportError(
            f"{path}: its remote modeling code does not import here ({err}); see docs/cluster.md"
        ) from err
    processor = AutoProcessor.from_pretrained(path, trust_remote_code=backbone.trust_remote_code)
    adapter = INPUT_ADAPTERS.get(_read_config(path).get("model_type"))
    if adapter is not None:
        model, processor = adapter(model, processor)
    if not callable(getattr(processor, "image_processor", None)) or not hasattr(processor, "tokenizer"):
        raise TypeError(
            f"{path}: the pipeline needs a processor with a tokenizer and an image processor; "
            f"got {type(processor).__name__}"
        )
    return model, processor


def _as_target(path: Path) -> str:
    """path as Snakemake takes a target: relative to the working directory (an absolute one has no rule)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:  # outside the working directory: only the user knows where the workflow is
        return str(path)


def _read_config(path: Path | str) -> dict:
    try:
        return json.loads((Path(path) / "config.json").read_text())
    except ValueError as err:  # a truncated or overwritten config.json
        raise ValueError(_damaged(path, err)) from err


def _damaged(path, err: Exception) -> str:
    return (
        f"checkpoint {path} is damaged ({type(err).__name__}: {err}); delete it and rerun the step that "
        f"wrote it (pretrain, fetch_backbone or the cell's train rule)"
    )


def _field(config: dict, dotted: str):
    for part in dotted.split("."):
        config = config.get(part) if isinstance(config, dict) else None
    return config
