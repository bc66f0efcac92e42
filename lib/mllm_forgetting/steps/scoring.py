"""Answer every question of a task split with a model and score it with the task's metric."""

from __future__ import annotations

from ..evaluation.predict import predict
from ..metrics import score_task
from ..prompts import PromptTemplate
from ..training.batches import encode
from .common import load_rows


def max_answer_tokens(enc) -> int:
    return max(len(ids) for refs in enc.answer_ids for ids in refs)


def score_task_split(
    model,
    processor,
    rows,
    prompt: PromptTemplate,
    *,
    batch_size: int,
    device,
    label: str,
    image_size: int | None = None,
):
    """(encoded split, predictions, metrics dict) for one task split."""
    enc = encode(rows, processor, prompt, image_size=image_size)
    preds = predict(
        model,
        processor.tokenizer,
        enc,
        batch_size=batch_size,
        max_new_tokens=max_answer_tokens(enc),
        device=device,
        label=label,
    )
    kind = rows[0]["kind"]
    result = score_task(kind, preds, enc.answers, enc.ids)
    return enc, preds, {"kind": kind, **result}


def score_tasks(
    model, processor, data_dir, tasks, prompt: PromptTemplate, *, split, batch_size, device, roles
) -> dict:
    out = {}
    for task in tasks:
        rows = load_rows(data_dir, task, split)
        _, _, result = score_task_split(
            model, processor, rows, prompt, batch_size=batch_size, device=device, label=task
        )
        out[task] = {"role": roles[task], **result}
    return out
