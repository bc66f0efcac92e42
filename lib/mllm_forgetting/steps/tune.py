"""train: tune the pre-trained backbone on one target task with one method (one cell of the grid)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..cells import Cell
from ..methods import make_method
from ..tracking import DEFAULT_EXPERIMENT, CellTracker, data_version
from ..training.checkpoint import Checkpointer
from ..training.loop import TrainSettings, train
from .common import encode_task, load_model, save_log, setup_torch, tune_context, write_json


def tune_cell(
    cell: Cell,
    backbone_cfg: dict,
    method_cfg: dict,
    training_cfg: dict,
    *,
    data_dir: str,
    pretrained_dir: str,
    out_dir: str,
    representation_layer: int = -1,
    threads: int = 1,
    results_dir: str = "results",
    experiment: str = DEFAULT_EXPERIMENT,
    track: bool = True,
    checkpoint_every: int = 50,
) -> dict:
    device = setup_torch(threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = {k: v for k, v in method_cfg.items() if k not in ("type", "label", "training")}
    method = make_method(method_cfg["type"], **options)
    model, processor = load_model(pretrained_dir, backbone_cfg, device)
    ctx = tune_context(model, backbone_cfg, representation_layer)
    settings = TrainSettings.from_config({**training_cfg, **method_cfg.get("training", {})}, cell.seed)
    rows, model_dir, checkpointer, resumed_run = [], pretrained_dir, None, None
    if method.trains:
        torch.manual_seed(cell.seed)  # adapters (LoRA) are initialised here: same seed, same cell
        if backbone_cfg.get("gradient_checkpointing"):  # activations recomputed: a 7B cell fits one GPU
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        model = method.prepare(model, ctx)
        checkpointer = Checkpointer(
            out / "checkpoints",
            checkpoint_every,
            label=cell.name,
            fingerprint=run_fingerprint(cell, backbone_cfg, method_cfg, settings, method),
        )
        resumed_run = checkpointer.latest_notes().get("mlflow_run_id")  # a resumed cell continues its run
    tags = {"data_version": data_version(data_dir)}
    params = {
        "method": method_cfg,
        "training": settings.__dict__,
        "backbone": backbone_cfg,
        "representation_layer": representation_layer,
    }
    write_json(
        out / "params.json", {"tags": tags, "params": params}
    )  # what sync_mlflow.py replays into MLflow
    # never raises: a tracking failure warns once and leaves tracking.json unsynced
    tracker = (
        CellTracker(
            cell, out, "train", results_dir=results_dir, experiment=experiment, tags=tags, run_id=resumed_run
        )
        if track
        else None
    )
    if tracker:
        tracker.log_params(params)
    try:
        if method.trains:
            checkpointer.notes["mlflow_run_id"] = tracker.run_id if tracker else None
            data = encode_task(
                data_dir,
                cell.target,
                "train",
                processor,
                backbone_cfg["prompt"],
                backbone_cfg.get("image_resize"),
            )
            rows = train(
                model,
                method,
                ctx,
                data,
                settings,
                pad_id=processor.tokenizer.pad_token_id,
                device=device,
                label=f"cell {cell.name}",
                checkpointer=checkpointer,
                on_log=tracker.log_step if tracker else None,
                replay_log=resumed_run is None or tracker.run_id != resumed_run,
            )
            model_dir = str(out / "model")
            method.export(model).save_pretrained(model_dir)
            processor.save_pretrained(model_dir)
    except Exception:
        if tracker:
            tracker.close("FAILED")
        raise
    save_log(rows, out / "train_log.csv")
    summary = {
        **cell.as_dict(),
        "method_type": method_cfg["type"],
        "label": method_cfg.get("label", cell.method),
        "options": options,
        "model_dir": model_dir,
        "base_dir": pretrained_dir,
        "trainable_params": method.trainable_count(),
        "steps": settings.steps if method.trains else 0,
        "mlflow_run_id": tracker.run_id if tracker else None,
    }
    if tracker:
        tracker.log_metrics({"trainable_params": summary["trainable_params"] or 0})
        tracker.close()
    write_json(out / "train.json", summary)
    if checkpointer:
        checkpointer.clear()  # the cell is complete; a forced rerun starts afresh (and ends the same)
    return summary


def run_fingerprint(
    cell: Cell, backbone_cfg: dict, method_cfg: dict, settings: TrainSettings, method
) -> dict:
    """What a checkpoint must match to be resumed by this cell."""
    return {
        "backbone": cell.backbone,
        "target": cell.target,
        "method": cell.method,
        "seed": cell.seed,
        "backbone_config": backbone_cfg,
        "method_config": method_cfg,
        "training": settings.__dict__,
        "trainable_shapes": [list(p.shape) for p in method.params],
    }
