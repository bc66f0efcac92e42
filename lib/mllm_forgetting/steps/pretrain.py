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

from ..data import read_vocabulary
from ..methods import FineTune, TuneContext
from ..models import build_backbone
from ..training.batches import Encoded
from ..training.checkpoint import Checkpointer
from ..training.loop import TrainSettings, train
from .common import encode_task, save_log, setup_torch, template_words, write_json
from .scoring import score_tasks


def pretrain(
    name: str,
    backbone_cfg: dict,
    data_dir: str,
    out_dir: str,
    tasks: list[str],
    *,
    seed: int = 0,
    threads: int = 1,
    eval_batch_size: int = 100,
    state_dir: str | None = None,
    checkpoint_every: int = 50,
) -> dict:
    """Pre-train and save phi. With state_dir each stage checkpoints there every `checkpoint_every` steps and
    once finished, so a killed run resumes mid-stage or after its last finished stage (bitwise on CPU)."""
    device = setup_torch(threads)
    import torch

    torch.manual_seed(seed)
    words = read_vocabulary(data_dir) + template_words(backbone_cfg["prompt"])
    model, processor = build_backbone(backbone_cfg["architecture"], backbone_cfg["size"], words)
    model.to(device)
    prompt, cfg = backbone_cfg["prompt"], backbone_cfg["pretrain"]
    encoded = {t: encode_task(data_dir, t, "train", processor, prompt) for t in tasks}
    method = FineTune()
    ctx = TuneContext(
        trainable_names=[n for n, _ in model.named_parameters()], image_token_id=model.config.image_token_id
    )
    method.prepare(model, ctx)
    rows, done, stages = [], 0, pretrain_stages(cfg, tasks)
    for i, stage in enumerate(stages):
        missing = set(stage["tasks"]) - set(tasks)
        if missing:
            raise ValueError(
                f"pretrain stage {i} names tasks outside the pre-trained tasks: {sorted(missing)}"
            )
        data = Encoded.concat([encoded[t] for t in stage["tasks"]])
        settings = TrainSettings.from_config({**cfg, "steps": stage["steps"]}, seed + i)
        label = f"pretrain {name} stage {i + 1} ({'+'.join(stage['tasks'])})"
        checkpointer = stage_checkpointer(
            state_dir, i, checkpoint_every, name, backbone_cfg, tasks, seed, label
        )
        stage_rows = train(
            model,
            method,
            ctx,
            data,
            settings,
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
        prompt,
        split="val",
        batch_size=eval_batch_size,
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


def stage_checkpointer(
    state_dir, index: int, every: int, name: str, backbone_cfg: dict, tasks: list[str], seed: int, label: str
) -> Checkpointer | None:
    if not state_dir:
        return None
    facts = {"backbone": name, "stage": index, "backbone_config": backbone_cfg, "tasks": tasks, "seed": seed}
    return Checkpointer(Path(state_dir) / f"stage{index + 1}", every, facts, label=label)


def pretrain_stages(cfg: dict, tasks: list[str]) -> list[dict]:
    """[{tasks, steps}] from the config's `stages`, or one stage of `steps` on every pre-trained task."""
    stages = cfg.get("stages") or [{"tasks": "all", "steps": cfg["steps"]}]
    return [
        {"tasks": list(tasks) if s["tasks"] == "all" else list(s["tasks"]), "steps": s["steps"]}
        for s in stages
    ]
