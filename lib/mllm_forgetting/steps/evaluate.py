"""evaluate: score a cell on every pre-trained task and its target; effective ranks and representations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.probes import has_probes
from ..evaluation.knowledge import likelihood_result, probe_results
from ..evaluation.predict import representations
from ..evaluation.predictions import prediction_records, write_predictions
from ..files import write_json
from ..metrics import effective_rank
from ..metrics.captioning import java
from ..spec import EvaluateSpec
from ..tracking import CellTracker, dataset_inputs, score_metrics
from .common import EVALUATION_OUTPUTS, UNTUNED, load_model, load_rows, save_npz, setup_torch
from .scoring import answer_budget, score_task_split

# what stage 0 (the pre-trained model itself, no train step) reports in place of a train.json
PRETRAINED_SUMMARY = {"method_type": None, "label": "Pre-trained", "options": {}, "trainable_params": 0}


def load_tuned(model_dir, pretrained_dir, spec: EvaluateSpec, device):
    """A cell's tuned model from its model/ directory: a full checkpoint, phi with a peft adapter merged in,
    phi with MoE-LoRA's adapters, or phi itself (zero-shot)."""
    from ..methods.moe_lora import MOE_LORA_FILE, load_moe_lora

    model_dir = Path(model_dir)
    if (model_dir / MOE_LORA_FILE).exists():  # MoE-LoRA's experts and routers cannot be merged into phi
        base, processor = load_model(pretrained_dir, spec.backbone, device)
        return load_moe_lora(model_dir, base), processor
    if (model_dir / "adapter_config.json").exists():
        from peft import PeftModel

        base, processor = load_model(pretrained_dir, spec.backbone, device)
        return PeftModel.from_pretrained(base, model_dir).merge_and_unload(), processor
    if (model_dir / UNTUNED).exists():
        return load_model(pretrained_dir, spec.backbone, device)
    return load_model(model_dir, spec.backbone, device)


def evaluate_cell(
    spec: EvaluateSpec,
    *,
    data_dir: str,
    pretrained_dir: str,
    model_dir: str,
    train_json: str | None,
    out_dir: str,
    results_dir: str,
    threads: int,
    track: bool = True,
) -> dict:
    cell, evaluation = spec.cell, spec.evaluation
    sequence = getattr(spec, "tasks", None)  # a continual stage: scored on every task of its sequence
    order = [*spec.pretrain_tasks, *(sequence or [cell.target])]
    test_rows = {task: load_rows(data_dir, task, "test", evaluation.max_test_examples) for task in order}
    if evaluation.probes is not None and not has_probes(data_dir):  # before any answer is generated
        raise FileNotFoundError(f"evaluation.probes is set but {data_dir} has no probe sets (data.probes)")
    if any(rows[0]["kind"] == "caption" for rows in test_rows.values()):
        java()  # CIDEr's tokenizer: a machine without Java stops here, not after generating every answer
    device = setup_torch(threads)
    summary = json.loads(Path(train_json).read_text()) if train_json else PRETRAINED_SUMMARY
    model, processor = load_tuned(model_dir, pretrained_dir, spec, device)
    model.eval()
    erank_options = {
        "layer": evaluation.representation_layer,
        "centre": evaluation.erank.centre,
        "variant": evaluation.erank.variant,
    }
    erank = {"centre": evaluation.erank.centre, "variant": evaluation.erank.variant}
    tasks, arrays, records = {}, {}, []
    for task, rows in test_rows.items():
        budget = getattr(evaluation.max_new_tokens, rows[0]["kind"])
        enc, preds, result = score_task_split(
            model,
            processor,
            rows,
            spec.prompt,
            max_new_tokens=answer_budget(budget, data_dir, task, processor.tokenizer),
            batch_size=evaluation.batch_size,
            device=device,
            label=f"{cell.name} {task}",
            image_size=spec.backbone.image_resize,
        )
        visual, multimodal = representations(
            model,
            enc,
            image_token_id=model.config.image_token_id,
            layer=evaluation.representation_layer,
            batch_size=evaluation.batch_size,
            pad_id=processor.tokenizer.pad_token_id,
            device=device,
        )
        closed = evaluation.likelihood is not None and result["kind"] in ("multiple_choice", "yes_no")
        likelihood = (
            likelihood_result(
                model,
                processor.tokenizer,
                enc,
                rows,
                spec.prompt,
                evaluation.likelihood,
                batch_size=evaluation.batch_size,
                device=device,
            )
            if closed
            else None
        )
        role = "target" if task == cell.target else "sequence" if task in (sequence or ()) else "pretrain"
        tasks[task] = _task_entry(role, result, likelihood, visual, erank, enc, preds)
        choices = likelihood["choices"] if likelihood else None
        records += prediction_records(task, result["kind"], enc.ids, preds, enc.answers, choices)
        arrays[f"visual__{task}"] = visual[:, -1].numpy()
        arrays[f"multimodal__{task}"] = multimodal.numpy()
    probes = None
    if evaluation.probes is not None:
        probes = probe_results(
            model,
            processor,
            data_dir,
            spec.prompt,
            evaluation.probes,
            layer=evaluation.representation_layer,
            batch_size=evaluation.batch_size,
            device=device,
            image_size=spec.backbone.image_resize,
            threads=threads,
        )
    out = Path(out_dir)
    metrics_file, representations_file, predictions_file = (out / name for name in EVALUATION_OUTPUTS)
    save_npz(representations_file, arrays)
    write_predictions(predictions_file, records)
    metrics = {
        **cell.as_dict(),
        "method_type": summary["method_type"],
        "label": summary["label"],
        "options": summary["options"],
        "trainable_params": summary["trainable_params"],
        "erank_options": erank_options,
        "tasks": tasks,
        "task_order": order,
        **({"sequence_tasks": sequence} if sequence else {}),
        **({"probes": {k: _rounded(v) for k, v in probes.items()}} if probes else {}),
    }
    write_json(metrics_file, metrics)
    if track:
        _log(cell, summary, metrics, out, results_dir, data_dir)
    return metrics


def _task_entry(role: str, result: dict, likelihood: dict | None, visual, erank: dict, enc, preds) -> dict:
    """A task's part of metrics.json: its score and metrics, each question's part in the score, the
    likelihood score, effective ranks and a few examples."""
    entry = {
        "role": role,
        "kind": result["kind"],
        "score": result["score"],
        "metrics": {
            k: v for k, v in result.items() if k not in ("kind", "score", "per_question", "statistic")
        },
        # each question's part in the score (metrics/questions.py), for the paired bootstrap
        "statistic": result["statistic"],
    }
    entry = _rounded(entry | {"per_question": result["per_question"]})
    if likelihood is not None:  # the same questions scored by the answer the likelihood ranks first
        entry["likelihood"] = _rounded({k: v for k, v in likelihood.items() if k != "choices"})
    return {
        **entry,
        "erank_per_image": float(np.mean([effective_rank(v, **erank) for v in visual])),
        "erank_pooled": effective_rank(visual[:, -1], **erank),
        "erank_per_token": [effective_rank(visual[:, m], **erank) for m in range(visual.shape[1])],
        "examples": [
            {"id": i, "prediction": p, "answers": a}
            for i, p, a in zip(enc.ids[:5], preds[:5], enc.answers[:5])
        ],
    }


def _rounded(result: dict) -> dict:
    return {**result, "per_question": [round(v, 6) for v in result["per_question"]]}


def _log(cell, summary: dict, metrics: dict, out: Path, results_dir: str, data_dir: str) -> None:
    """The final scores into the cell's run; a tracking failure only warns (metrics.json is complete)."""
    tracker = CellTracker.reopen(
        cell, out, summary.get("mlflow_run_id"), summary.get("mlflow_error"), results_dir=results_dir
    )
    if tracker:
        tracker.log_dataset(dataset_inputs(data_dir)["eval"], "eval")
        tracker.log_metrics(score_metrics(metrics))
        tracker.log_artifact(out / "metrics.json")
        tracker.log_artifact(out / "predictions.jsonl")
        tracker.close()
