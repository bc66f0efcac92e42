"""train_stage: one stage of a continual sequence, a tuning cell that starts from the previous stage.

Stage k loads stage k-1's model (stage 1: the pre-trained model), tells the method the pre-trained
tensors and what stage k-1 carried (EWC's Fisher; `begin`), trains on the k-th task (with replay's
buffers of the earlier tasks), lets the method finish (WiSE-FT interpolates; `finish`) and writes
out_dir/{model/, carry.pt, train.json, train_log.csv, params.json}. model/ is a whole checkpoint (a LoRA
stage's adapter merged in), so the next stage and the evaluate step load it as it is, except MoE-LoRA's:
its routed experts cannot be merged, so model/ holds them and the next stage trains them on. The stage
checkpoints and resumes like a single-target cell; its fingerprint includes the previous stage's model
and carry, so a stage retrained upstream is never resumed from a stale state.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..files import tree_digest, write_json
from ..methods import StageStart, make_method
from ..spec import StageTrainSpec, to_plain
from ..tracking import data_version, dataset_inputs
from ..training.batches import Encoded, encode
from ..training.checkpoint import Checkpointer
from ..training.loop import train
from ..training.precision import autocast_forward, to_model_dtype
from .common import (
    EVALUATION_OUTPUTS,
    encode_task,
    load_model,
    load_rows,
    save_log,
    setup_torch,
    tune_context,
)
from .tune import close_run, effective_batch_size, method_options, open_run, run_fingerprint

CARRY = "carry.pt"


def train_stage(
    spec: StageTrainSpec,
    *,
    data_dir: str,
    pretrained_dir: str,
    previous_dir: str | None,
    out_dir: str,
    results_dir: str,
    threads: int,
    checkpoint_every: int,
    track: bool = True,
) -> dict:
    stage = spec.cell
    if (stage.index > 1) != (previous_dir is not None):
        raise ValueError(
            f"{stage.name}: stage {stage.index} needs the previous stage's directory iff index > 1"
        )
    device = setup_torch(threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (*EVALUATION_OUTPUTS, CARRY):
        (out / stale).unlink(missing_ok=True)
    method = make_method(spec.method.method_type, spec.method)
    model, processor = start_model(previous_dir, pretrained_dir, spec, device)
    ctx = tune_context(model, spec.backbone, spec.representation_layer)
    pretrained = pretrained_tensors(model, ctx, pretrained_dir, spec, first=stage.index == 1)
    carried = torch.load(Path(previous_dir) / CARRY, weights_only=True) if previous_dir else {}
    data_digest = tree_digest(data_dir)
    torch.manual_seed(stage.seed + 1000 * stage.index)  # fresh adapters differ between stages
    if spec.backbone.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model = method.prepare(model, ctx)
    model = autocast_forward(model, spec.backbone.dtype, device)
    method.begin(model, ctx, StageStart(stage.index, pretrained, carried, spec.phi))
    fingerprint = run_fingerprint(spec, method, data_digest, pretrained_dir)
    fingerprint["previous"] = tree_digest(previous_dir) if previous_dir else None
    checkpointer = Checkpointer(
        out / "checkpoints", checkpoint_every, label=stage.name, fingerprint=fingerprint
    )
    resumed_run = checkpointer.latest_notes().get("mlflow_run_id")
    task_data = encode_task(data_dir, stage.target, "train", processor, spec.prompt, spec.backbone)
    data = with_replay(task_data, method, spec, data_dir, processor)
    params = {k: v for k, v in to_plain(spec).items() if k not in ("cell", "experiment")}
    params["effective"] = {"batch_size": effective_batch_size(spec, len(data)), "rows": len(data)}
    tags = {"data_version": data_version(data_dir)}
    datasets = dataset_inputs(data_dir, data_digest)
    tracker = open_run(spec, out, tags, params, datasets, results_dir, resumed_run, track)
    try:
        checkpointer.notes["mlflow_run_id"] = tracker.run_id if tracker else None
        rows = train(
            model,
            method,
            ctx,
            data,
            spec.training,
            stage.seed,
            pad_id=processor.tokenizer.pad_token_id,
            device=device,
            label=stage.name,
            checkpointer=checkpointer,
            on_log=tracker.log_step if tracker else None,
            replay_log=resumed_run is None or tracker.run_id != resumed_run,
        )
        carry = method.finish(
            model,
            ctx,
            task_data,
            carry=stage.index < len(spec.tasks),
            batch_size=params["effective"]["batch_size"],
            pad_id=processor.tokenizer.pad_token_id,
            device=device,
        )
        to_model_dtype(method.params, spec.backbone.dtype)
        exported = method.export(model)
        if hasattr(
            exported, "merge_and_unload"
        ):  # a peft adapter: the next stage starts from the merged model
            exported = exported.merge_and_unload()
        exported.save_pretrained(out / "model")
        processor.save_pretrained(out / "model")
        torch.save(carry, out / CARRY)
    except Exception:
        if tracker:
            tracker.close("FAILED")
        raise
    save_log(rows, out / "train_log.csv")
    summary = {
        **stage.as_dict(),
        "method_type": spec.method.method_type,
        "label": spec.label,
        "options": method_options(spec),
        "phi": spec.phi if method.has_phi else None,
        "trainable_params": method.trainable_count(),
        "steps": spec.training.steps,
        "batch_size": params["effective"]["batch_size"],
        "rows": len(data),
        "mlflow_run_id": tracker.run_id if tracker else None,
    }
    close_run(tracker, summary)
    write_json(out / "train.json", summary)
    checkpointer.clear()
    return summary


def start_model(previous_dir, pretrained_dir, spec: StageTrainSpec, device):
    """(model, processor) the stage starts from: the previous stage's checkpoint, or phi with the previous
    stage's MoE-LoRA adapters on it (their `prepare` goes on training them), or phi at stage 1."""
    from ..methods.moe_lora import MOE_LORA_FILE, load_moe_lora

    previous = Path(previous_dir) / "model" if previous_dir else None
    if previous is not None and (previous / MOE_LORA_FILE).exists():
        base, processor = load_model(pretrained_dir, spec.backbone, device)
        return load_moe_lora(previous, base), processor
    return load_model(previous or pretrained_dir, spec.backbone, device)


def pretrained_tensors(model, ctx, pretrained_dir, spec: StageTrainSpec, first: bool) -> dict:
    """The pre-trained model's tuned-scope tensors by name: the model's own at stage 1, else read from phi's
    checkpoint (loaded on the CPU and dropped)."""
    wanted = set(ctx.trainable_names)
    source = model if first else load_model(pretrained_dir, spec.backbone, torch.device("cpu"))[0]
    device = next(model.parameters()).device
    return {n: p.detach().to(device, copy=True) for n, p in source.named_parameters() if n in wanted}


def with_replay(data: Encoded, method, spec: StageTrainSpec, data_dir, processor) -> Encoded:
    """The stage's rows plus, for a replay method, each earlier task's fixed buffer (replay.py)."""
    if not method.replay_fraction:
        return data
    stage = spec.cell
    earlier = list(spec.tasks[: stage.index - 1])
    if getattr(spec.method, "pretrained_tasks", False):
        earlier = list(spec.pretrain_tasks) + earlier
    parts = [data]
    for task in earlier:
        rows = load_rows(data_dir, task, "train")
        parts.append(
            encode(
                replay_buffer(rows, method.replay_fraction, stage.seed),
                processor,
                spec.prompt,
                image_size=spec.backbone.image_resize,
            )
        )
    return Encoded.concat(parts)


def replay_buffer(rows, fraction: float, seed: int):
    """The first ceil(fraction * n) rows of a permutation fixed by the seed: one buffer for every stage."""
    import math

    import numpy as np

    n = max(1, math.ceil(fraction * len(rows)))
    order = np.random.default_rng(seed).permutation(len(rows))[:n]
    return rows.select(sorted(order.tolist()))
