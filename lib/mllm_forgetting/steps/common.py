"""Small helpers the steps share: devices, threads, loading a checkpoint, encoding a task's split, logs."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config.settings import BackboneConfig
from ..data.benchmark import load_split
from ..files import atomic_output
from ..methods.base import TuneContext
from ..models.loading import load_backbone
from ..models.parts import trainable_modules, trainable_names
from ..prompts import PromptTemplate
from ..training.batches import Encoded, encode

LOG_COLUMNS = ["step", "loss", "lv", "cosine", "fraction_updated"]
# In a cell's model/ directory when the method tunes nothing (zero-shot): the model is phi itself.
UNTUNED = "untuned.json"


# What the evaluate step writes into a cell's directory; the train step deletes them before it starts, so an
# interrupted or failed retraining cannot leave the old model's scores looking current.
EVALUATION_OUTPUTS = ("metrics.json", "representations.npz", "predictions.jsonl")


def setup_torch(threads: int) -> torch.device:
    """Pin intra-op threads (Snakemake's `threads`) and pick the device accelerate would use."""
    from accelerate import PartialState

    torch.set_num_threads(max(1, threads))
    return PartialState().device


def load_model(path, backbone: BackboneConfig, device):
    """(model, processor) of a checkpoint, on `device` unless a device_map (accelerate's placement over
    several GPUs) already placed it."""
    model, processor = load_backbone(path, backbone)
    return (model if backbone.device_map is not None else model.to(device)), processor


def save_npz(path: str | Path, arrays: dict) -> None:
    """np.savez_compressed, atomically (a file object: savez would append .npz to the temporary name)."""
    import numpy as np

    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_rows(data_dir, task: str, split: str, limit: int | None = None):
    """A task split, cut to its first `limit` rows when a limit is set."""
    rows = load_split(data_dir, task, split)
    return rows.select(range(limit)) if limit is not None and limit < len(rows) else rows


def encode_task(
    data_dir, task: str, split: str, processor, prompt: PromptTemplate, backbone: BackboneConfig
) -> Encoded:
    return encode(load_rows(data_dir, task, split), processor, prompt, image_size=backbone.image_resize)


def tune_context(model, backbone: BackboneConfig, representation_layer: int) -> TuneContext:
    scope = (model, backbone.connector, backbone.layers, backbone.trainable_last_layers)
    connector, *layers = trainable_modules(*scope)
    return TuneContext(
        trainable_names=trainable_names(*scope),
        image_token_id=model.config.image_token_id,
        representation_layer=representation_layer,
        lora_target_modules=backbone.lora_target_modules,
        connector=connector,
        tuned_layers=tuple(layers),
    )


def save_log(rows: list[dict], path: str | Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows).reindex(columns=LOG_COLUMNS)
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, index=False)
