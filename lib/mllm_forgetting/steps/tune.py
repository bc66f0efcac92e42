"""train: tune the pre-trained backbone on one target task with one method (one cell of the grid)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ..cells import Cell
from ..files import tree_digest, write_json
from ..methods import StageStart, make_method
from ..spec import TrainSpec, to_plain
from ..tracking import CellTracker, data_version, dataset_inputs
from ..training.checkpoint import Checkpointer
from ..training.loop import train
from ..training.precision import autocast_forward, to_model_dtype
from .common import EVALUATION_OUTPUTS, UNTUNED, encode_task, load_model, save_log, setup_torch, tune_context


def tune_cell(
    spec: TrainSpec,
    *,
    data_dir: str,
    pretrained_dir: str,
    out_dir: str,
    results_dir: str,
    threads: int,
    checkpoint_every: int,
    track: bool = True,
) -> dict:
    """Train one cell and write out_dir/{model/, train.json, train_log.csv, params.json}. model/ holds the
    tuned model: a save_pretrained checkpoint, a peft adapter, or (zero-shot) a note that it is phi.
    A post-hoc method (Model Tailor) trains nothing: it turns its base cell's model into its own."""
    cell = spec.cell
    device = setup_torch(threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in EVALUATION_OUTPUTS:  # scores of the model this run replaces
        (out / stale).unlink(missing_ok=True)
    method = make_method(spec.method.method_type, spec.method)
    base_dir = base_model_dir(spec, results_dir) if method.post_hoc else None
    model, processor = load_model(pretrained_dir, spec.backbone, device)
    data_digest = tree_digest(data_dir)  # read once: the checkpoint fingerprint and MLflow's dataset inputs
    ctx = tune_context(model, spec.backbone, spec.representation_layer)
    rows, checkpointer, resumed_run = [], None, None
    if method.trains:
        torch.manual_seed(cell.seed)  # adapters (LoRA) are initialised here: same seed, same cell
        if spec.backbone.gradient_checkpointing:  # activations recomputed: a 7B cell fits one GPU
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        model = method.prepare(model, ctx)  # its tuned tensors in fp32 (master weights)
        # a single-target cell is stage 1 of a sequence of one: the model is phi (methods copy what they keep)
        wanted = set(ctx.trainable_names)
        phi = {n: p.detach() for n, p in model.named_parameters() if n in wanted}
        method.begin(model, ctx, StageStart(1, phi, {}))
        model = autocast_forward(model, spec.backbone.dtype, device)  # a bf16 backbone computes in bf16
        checkpointer = Checkpointer(
            out / "checkpoints",
            checkpoint_every,
            label=cell.name,
            fingerprint=run_fingerprint(spec, method, data_digest, pretrained_dir),
        )
        resumed_run = checkpointer.latest_notes().get("mlflow_run_id")  # a resumed cell continues its run
    data = (
        encode_task(data_dir, cell.target, "train", processor, spec.prompt, spec.backbone)
        if method.trains or method.post_hoc  # a post-hoc method's calibration batches
        else None
    )
    tags = {"data_version": data_version(data_dir)}
    params = {k: v for k, v in to_plain(spec).items() if k not in ("cell", "experiment")}
    if data is not None:  # what the run really uses where the configured value cannot hold
        params["effective"] = {"batch_size": effective_batch_size(spec, len(data))}
    datasets = dataset_inputs(data_dir, data_digest)  # evaluate logs "eval" itself
    tracker = open_run(spec, out, tags, params, datasets, results_dir, resumed_run, track)
    model_dir = out / "model"
    tailoring = None
    try:
        if method.trains:
            checkpointer.notes["mlflow_run_id"] = tracker.run_id if tracker else None
            rows = train(
                model,
                method,
                ctx,
                data,
                spec.training,
                cell.seed,
                pad_id=processor.tokenizer.pad_token_id,
                device=device,
                label=f"cell {cell.name}",
                checkpointer=checkpointer,
                on_log=tracker.log_step if tracker else None,
                replay_log=resumed_run is None or tracker.run_id != resumed_run,
            )
            batch_size = params["effective"]["batch_size"]
            method.finish(
                model,
                ctx,
                data,
                carry=False,
                batch_size=batch_size,
                pad_id=processor.tokenizer.pad_token_id,
                device=device,
            )
            to_model_dtype(method.params, spec.backbone.dtype)
            method.export(model).save_pretrained(model_dir)
            processor.save_pretrained(model_dir)
        elif method.post_hoc:
            wanted = set(ctx.trainable_names)
            phi = {n: p.detach().clone() for n, p in model.named_parameters() if n in wanted}
            model = None  # phi stays only as a copy of its tuned tensors: two whole models are never held
            batch_size = params["effective"]["batch_size"]
            model, tailoring = tailor(method, phi, base_dir, data, ctx, spec, batch_size, processor, device)
            model.save_pretrained(model_dir)
            processor.save_pretrained(model_dir)
        else:
            write_json(model_dir / UNTUNED, {"pretrained": str(pretrained_dir)})
    except Exception:
        if tracker:
            tracker.close("FAILED")
        raise
    save_log(rows, out / "train_log.csv")
    summary = {
        **cell.as_dict(),
        "method_type": spec.method.method_type,
        "label": spec.label,
        "options": method_options(spec),
        "trainable_params": method.trainable_count(),
        "steps": spec.training.steps if method.trains else 0,
        "batch_size": params["effective"]["batch_size"] if data is not None else None,
        "mlflow_run_id": tracker.run_id if tracker else None,
    }
    if tailoring is not None:
        summary["tailoring"] = tailoring
    close_run(tracker, summary)
    write_json(out / "train.json", summary)
    if checkpointer:
        checkpointer.clear()  # the cell is complete; a forced rerun starts afresh (and ends the same)
    return summary


def open_run(
    spec, out: Path, tags: dict, params: dict, datasets: dict, results_dir, resumed_run, track: bool
):
    """Write params.json (what sync_mlflow.py replays into MLflow) and, with `track`, open the cell's run
    with its params and training data. Never raises: a tracking failure warns once and leaves
    tracking.json unsynced."""
    write_json(out / "params.json", {"tags": tags, "params": params, "datasets": datasets})
    if not track:
        return None
    tracker = CellTracker(
        spec.cell,
        out,
        "train",
        results_dir=results_dir,
        experiment=spec.experiment,
        tags=tags,
        run_id=resumed_run,
    )
    tracker.log_params(params)
    tracker.log_dataset(datasets["train"], "train")
    return tracker


def close_run(tracker, summary: dict) -> None:
    """Log #Params and close the run; summary (train.json) records a tracking error, after which the
    evaluate step stays offline."""
    if tracker:
        tracker.log_metrics({"trainable_params": summary["trainable_params"] or 0})
        tracker.close()
        summary["mlflow_error"] = tracker.error


def method_options(spec) -> dict:
    """The method's own options (train.json's `options`): its config without type, label and training."""
    return {k: v for k, v in to_plain(spec)["method"].items() if k not in ("type", "label", "training")}


def base_model_dir(spec: TrainSpec, results_dir: str) -> Path:
    """The model a post-hoc method starts from: its base entry's cell of the same backbone, target and seed,
    in the results' cells/ (the train rule has it as an input, so it is complete when this cell runs)."""
    cell = spec.cell
    base = Cell(cell.backbone, cell.target, spec.method.base_entry(), cell.seed)
    path = Path(results_dir) / "cells" / base.name / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{spec.method.method_type} tailors the model of cell {base.name}, which is not trained: "
            f"no {path}"
        )
    return path


def tailor(method, phi: dict, base_dir: str, data, ctx, spec: TrainSpec, batch_size: int, processor, device):
    """(the base cell's model tailored in place by a post-hoc method from phi's tuned tensors, its report)."""
    model, _ = load_model(base_dir, spec.backbone, device)
    report = method.tailor(
        model,
        phi,
        data,
        ctx,
        batch_size=batch_size,
        seed=spec.cell.seed,
        pad_id=processor.tokenizer.pad_token_id,
        device=device,
    )
    return model, report


def effective_batch_size(spec: TrainSpec, rows: int) -> int:
    """The batch size a step uses: the configured one, or every row of a smaller training split (said)."""
    if spec.training.batch_size <= rows:
        return spec.training.batch_size
    print(
        f"cell {spec.cell.name}: training.batch_size {spec.training.batch_size} exceeds the {rows} training "
        f"rows of {spec.cell.target}; every step uses all {rows} (recorded as effective.batch_size)",
        file=sys.stderr,
    )
    return rows


def run_fingerprint(spec: TrainSpec, method, data_digest: str, pretrained_dir: str) -> dict:
    """What a checkpoint must match to be resumed by this cell: its spec (not the MLflow experiment, which
    changes no result), the content of its data and of phi (a rerun after either changed must not
    continue from a state trained on the old one) and the shapes of the tensors it tunes."""
    return {
        "backbone": spec.cell.backbone,
        "spec": {k: v for k, v in to_plain(spec).items() if k != "experiment"},
        "data": data_digest,
        "phi": tree_digest(pretrained_dir),
        "trainable_shapes": [list(p.shape) for p in method.params],
    }
