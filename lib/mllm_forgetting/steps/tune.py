"""train: tune the pre-trained backbone on one target task with one method (one cell of the grid)."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..cells import Cell
from ..methods import make_method
from ..training.loop import TrainSettings, train
from ..tracking import DEFAULT_EXPERIMENT, CellRun, data_version
from .common import encode_task, load_model, save_log, setup_torch, tune_context, write_json


def tune_cell(cell: Cell, backbone_cfg: dict, method_cfg: dict, training_cfg: dict, *, data_dir: str,
              pretrained_dir: str, out_dir: str, representation_layer: int = -1, threads: int = 1,
              results_dir: str = "results", experiment: str = DEFAULT_EXPERIMENT, track: bool = True) -> dict:
    device = setup_torch(threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = {k: v for k, v in method_cfg.items() if k not in ("type", "label", "training")}
    method = make_method(method_cfg["type"], **options)
    model, processor = load_model(pretrained_dir, backbone_cfg, device)
    ctx = tune_context(model, backbone_cfg, representation_layer)
    run = _open_run(cell, results_dir, experiment, data_dir) if track else None
    settings = TrainSettings.from_config({**training_cfg, **method_cfg.get("training", {})}, cell.seed)
    if run:
        _safe(run.log_params, {"method": method_cfg, "training": settings.__dict__, "backbone": backbone_cfg,
                               "representation_layer": representation_layer})
    rows, model_dir = [], pretrained_dir
    try:
        if method.trains:
            torch.manual_seed(cell.seed)  # adapters (LoRA) are initialised here: same seed, same cell
            if backbone_cfg.get("gradient_checkpointing"):  # activations recomputed: a 7B cell fits one GPU
                model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            model = method.prepare(model, ctx)
            data = encode_task(data_dir, cell.target, "train", processor, backbone_cfg["prompt"],
                               backbone_cfg.get("image_resize"))
            rows = train(model, method, ctx, data, settings, pad_id=processor.tokenizer.pad_token_id, device=device,
                         label=cell.name, on_log=(lambda r: _safe(run.log_step, r)) if run else None)
            model_dir = str(out / "model")
            method.export(model).save_pretrained(model_dir)
            processor.save_pretrained(model_dir)
    except Exception:
        if run:
            _safe(run.close, "FAILED")
        raise
    save_log(rows, out / "train_log.csv")
    summary = {**cell.as_dict(), "method_type": method_cfg["type"], "label": method_cfg.get("label", cell.method),
               "options": options,
               "model_dir": model_dir, "base_dir": pretrained_dir, "trainable_params": method.trainable_count(),
               "steps": settings.steps if method.trains else 0, "mlflow_run_id": run.run_id if run else None}
    if run:
        _safe(run.log_metrics, {"trainable_params": summary["trainable_params"] or 0})
        _safe(run.close)
    write_json(out / "train.json", summary)
    return summary


def _open_run(cell: Cell, results_dir: str, experiment: str, data_dir: str):
    try:
        return CellRun(cell, results_dir=results_dir, experiment=experiment,
                       tags={"data_version": data_version(data_dir)})
    except Exception as err:  # tracking must never cost a result
        warnings.warn(f"{cell.name}: MLflow unavailable ({err}); continuing without tracking")
        return None


def _safe(fn, *args):
    try:
        fn(*args)
    except Exception as err:
        warnings.warn(f"MLflow logging failed ({err}); local results are unaffected")
