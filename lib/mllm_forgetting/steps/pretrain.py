"""pretrain: build a backbone from its config (random init) and train it on the pre-trained tasks.

Training runs in stages, as LLaVA's does: an optional alignment stage on a grounding task (naming the
object at a place teaches the random-init vision tower colours and shapes far faster than yes/no or
multiple-choice questions do), then the mix of all pre-trained tasks. The result is the paper's
pre-trained MLLM (phi): a save_pretrained directory with weights, tokenizer and processor, loadable
like a hub checkpoint. Its zero-shot validation accuracy is recorded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..data.benchmark import read_vocabulary
from ..files import tree_digest, write_json
from ..methods.base import TuneContext
from ..methods.finetune import FineTune, FineTuneConfig
from ..models.registry import build_backbone
from ..spec import PretrainSpec, to_plain
from ..training.batches import Encoded
from ..training.checkpoint import Checkpointer
from ..training.loop import train
from .common import encode_task, save_log, setup_torch
from .scoring import score_tasks

VAL_BATCH_SIZE = 100  # questions per forward pass of the zero-shot check on the validation splits


def pretrain(
    spec: PretrainSpec,
    *,
    data_dir: str,
    out_dir: str,
    threads: int,
    state_dir: str | None,
    checkpoint_every: int,
) -> dict:
    """Pre-train and save phi. With state_dir each stage checkpoints there every `checkpoint_every` steps and
    once finished, so a killed run resumes mid-stage or after its last finished stage (bitwise on CPU)."""
    device = setup_torch(threads)
    import torch

    backbone, tasks, name = spec.backbone, spec.tasks, spec.backbone_name
    torch.manual_seed(spec.seed)
    words = read_vocabulary(data_dir) + spec.prompt.words()
    model, processor = build_backbone(backbone.architecture, backbone.size, words)
    model.to(device)
    encoded = {t: encode_task(data_dir, t, "train", processor, spec.prompt, backbone) for t in tasks}
    method = FineTune(FineTuneConfig())
    # every parameter trains; fine-tuning needs no visual states, so no representation layer is read
    ctx = TuneContext(
        trainable_names=[n for n, _ in model.named_parameters()],
        image_token_id=model.config.image_token_id,
        representation_layer=-1,
    )
    method.prepare(model, ctx)
    rows, done, stages = [], 0, backbone.pretrain.resolved_stages(tasks)
    data_digest = tree_digest(data_dir) if state_dir else None  # a state trained on other data is stale
    for i, stage in enumerate(stages):
        data = Encoded.concat([encoded[t] for t in stage["tasks"]])
        label = f"pretrain {name} stage {i + 1} ({'+'.join(stage['tasks'])})"
        checkpointer = None
        if state_dir:
            facts = {"backbone": name, "spec": to_plain(spec), "data": data_digest, "stage": i}
            checkpointer = Checkpointer(
                Path(state_dir) / f"stage{i + 1}", checkpoint_every, facts, label=label
            )
        stage_rows = train(
            model,
            method,
            ctx,
            data,
            backbone.pretrain.stage_training(stage["steps"]),
            spec.seed + i,
            pad_id=processor.tokenizer.pad_token_id,
            device=device,
            label=label,
            checkpointer=checkpointer,
            final_checkpoint=True,
        )
        rows += [{**r, "step": r["step"] + done} for r in stage_rows]
        done += stage["steps"]
    out = Path(out_dir)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    save_log(rows, out / "pretrain_log.csv")
    scores = score_tasks(
        model,
        processor,
        data_dir,
        tasks,
        spec.prompt,
        split="val",
        batch_size=VAL_BATCH_SIZE,
        device=device,
        roles={t: "pretrain" for t in tasks},
    )
    summary = {
        "backbone": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": done,
        "stages": stages,
        "final_loss": rows[-1]["loss"],
        "val_scores": {t: s["score"] for t, s in scores.items()},
        "val_mean_score": sum(s["score"] for s in scores.values()) / len(scores),
    }
    write_json(out / "pretrain.json", summary)
    if state_dir:
        shutil.rmtree(state_dir, ignore_errors=True)  # phi is saved: a forced rerun starts afresh
    return summary
