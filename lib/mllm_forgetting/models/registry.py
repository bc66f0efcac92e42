"""Backbone registry: architecture name -> builder of a randomly initialised model and its processor.

A built backbone is saved with save_pretrained and from then on loads like any hub checkpoint,
so the tiny default and a real model (LLaVA-1.5, MiniCPM-V, ...) go through the same code.
"""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from .idefics2 import build_idefics2
from .llava import build_llava

BUILDERS = {
    "llava": build_llava,
    "idefics2": build_idefics2,
}


def build_backbone(architecture: str, size: dict, words: list[str]):
    if architecture not in BUILDERS:
        raise ValueError(f"unknown backbone architecture {architecture!r}; valid: {sorted(BUILDERS)}")
    return BUILDERS[architecture](size, words)


def load_backbone(path: str | Path, dtype: torch.dtype = torch.float32):
    """Load a checkpoint directory (or hub id) written by save_pretrained: (model, processor)."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: run the pretrain step first (`snakemake {path}/config.json`)")
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
    processor = AutoProcessor.from_pretrained(path)
    return model, processor


def image_token_id(model) -> int:
    return model.config.image_token_id
