"""Small helpers the steps share: devices, threads, JSON output, encoding a task's split."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..data import load_split
from ..files import atomic_output, write_json  # noqa: F401  (write_json: the steps' JSON writer)
from ..methods import TuneContext
from ..models import check_checkpoint, load_backbone, loading_options, trainable_names
from ..training.batches import Encoded, encode


def setup_torch(threads: int) -> torch.device:
    """Pin intra-op threads (Snakemake's `threads`) and pick the device accelerate would use."""
    from accelerate import PartialState

    torch.set_num_threads(max(1, threads))
    return PartialState().device


def load_model(path, backbone_cfg: dict, device):
    """(model, processor) of a checkpoint with the backbone's loading options, on `device` unless a
    device_map (accelerate's placement over several GPUs) already placed it."""
    options = loading_options(backbone_cfg)
    check_checkpoint(path, backbone_cfg)  # before the weights: a checkpoint of another backbone loads "fine"
    model, processor = load_backbone(path, **options)
    return (model if options["device_map"] is not None else model.to(device)), processor


def save_npz(path: str | Path, arrays: dict) -> None:
    """np.savez_compressed, atomically (through a file object: savez would append .npz to the temporary name)."""
    import numpy as np

    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def template_words(prompt_template: str) -> list[str]:
    """Plain words of a prompt template (not placeholders, not special tokens): they join the vocabulary."""
    if prompt_template == "chat":  # the processor's own template brings its own tokens
        return []
    text = re.sub(r"<[^>]*>|\{[^}]*\}", " ", prompt_template)
    return text.split()


def load_rows(data_dir, task: str, split: str, limit: int | None = None):
    """A task split, cut to its first `limit` rows when a limit is set."""
    rows = load_split(data_dir, task, split)
    return rows.select(range(limit)) if limit is not None and limit < len(rows) else rows


def encode_task(
    data_dir, task: str, split: str, processor, prompt: str, image_size: int | None = None
) -> Encoded:
    return encode(load_rows(data_dir, task, split), processor, prompt, image_size=image_size)


def tune_context(model, backbone_cfg: dict, representation_layer: int = -1) -> TuneContext:
    return TuneContext(
        trainable_names=trainable_names(
            model, backbone_cfg["connector"], backbone_cfg["layers"], backbone_cfg["trainable_last_layers"]
        ),
        image_token_id=model.config.image_token_id,
        representation_layer=representation_layer,
        lora_target_modules=backbone_cfg.get("lora_target_modules"),
    )


def save_log(rows: list[dict], path: str | Path) -> None:
    import pandas as pd

    columns = ["step", "loss", "lv", "cosine", "fraction_updated"]
    frame = pd.DataFrame(rows).reindex(columns=columns)
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, index=False)
