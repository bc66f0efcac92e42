"""evaluate: score a tuned cell on every pre-trained task and its target, with effective ranks and representations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..cells import Cell
from ..evaluation import representations
from ..metrics import effective_rank
from ..tracking import CellTracker, score_metrics
from .common import load_model, load_rows, save_npz, setup_torch, write_json
from .scoring import score_task_split


def load_tuned(train_summary: dict, backbone_cfg: dict, device):
    """The tuned model of a cell: a full checkpoint, or the base with a peft adapter merged in."""
    model_dir = Path(train_summary["model_dir"])
    if (model_dir / "adapter_config.json").exists():
        from peft import PeftModel

        base, processor = load_model(train_summary["base_dir"], backbone_cfg, device)
        return PeftModel.from_pretrained(base, model_dir).merge_and_unload(), processor
    return load_model(model_dir, backbone_cfg, device)


def evaluate_cell(
    cell: Cell,
    train_json: str,
    backbone_cfg: dict,
    eval_cfg: dict,
    *,
    data_dir: str,
    pretrain_tasks: list[str],
    out_dir: str,
    threads: int = 1,
    results_dir: str = "results",
    track: bool = True,
) -> dict:
    device = setup_torch(threads)
    summary = json.loads(Path(train_json).read_text())
    model, processor = load_tuned(summary, backbone_cfg, device)
    model.eval()
    erank_opts = {"layer": eval_cfg.get("representation_layer", -1), **eval_cfg.get("erank", {})}
    erank_kw = {k: erank_opts[k] for k in ("centre", "variant") if k in erank_opts}
    limit, batch_size = eval_cfg.get("max_test_examples"), eval_cfg.get("batch_size", 100)
    order = [*pretrain_tasks, cell.target]
    tasks, arrays = {}, {}
    for task in order:
        rows = load_rows(data_dir, task, "test", limit)
        enc, preds, result = score_task_split(
            model,
            processor,
            rows,
            backbone_cfg["prompt"],
            batch_size=batch_size,
            device=device,
            label=f"{cell.name} {task}",
            image_size=backbone_cfg.get("image_resize"),
        )
        visual, multimodal = representations(
            model,
            enc,
            image_token_id=model.config.image_token_id,
            layer=erank_opts["layer"],
            batch_size=batch_size,
            pad_id=processor.tokenizer.pad_token_id,
            device=device,
        )
        tasks[task] = {
            "role": "target" if task == cell.target else "pretrain",
            "kind": result["kind"],
            "score": result["score"],
            "metrics": {k: v for k, v in result.items() if k not in ("kind", "score")},
            "erank_per_image": float(np.mean([effective_rank(v, **erank_kw) for v in visual])),
            "erank_pooled": effective_rank(visual[:, -1], **erank_kw),
            "erank_per_token": [effective_rank(visual[:, m], **erank_kw) for m in range(visual.shape[1])],
            "examples": [
                {"id": i, "prediction": p, "answers": a}
                for i, p, a in zip(enc.ids[:5], preds[:5], enc.answers[:5])
            ],
        }
        arrays[f"visual__{task}"] = visual[:, -1].numpy()
        arrays[f"multimodal__{task}"] = multimodal.numpy()
    out = Path(out_dir)
    save_npz(out / "representations.npz", arrays)
    metrics = {
        **cell.as_dict(),
        "method_type": summary["method_type"],
        "label": summary["label"],
        "options": summary.get("options", {}),
        "trainable_params": summary["trainable_params"],
        "erank_options": erank_opts,
        "tasks": tasks,
        "task_order": order,
    }
    write_json(out / "metrics.json", metrics)
    if track:
        _log(cell, summary.get("mlflow_run_id"), metrics, out, results_dir)
    return metrics


def _log(cell, run_id, metrics, out, results_dir):
    """The final scores into the cell's run; a tracking failure only warns (metrics.json is complete)."""
    tracker = CellTracker.reopen(cell, out, run_id, results_dir=results_dir)
    if tracker:
        tracker.log_metrics(score_metrics(metrics))
        tracker.log_artifact(out / "metrics.json")
        tracker.close()
