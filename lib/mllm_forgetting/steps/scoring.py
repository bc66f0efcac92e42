"""Answer every question of a task split with a model and score it with the task's metric."""

from __future__ import annotations

from ..evaluation.predict import predict
from ..metrics import score_task
from ..prompts import PromptTemplate
from ..training.batches import encode
from .common import load_rows


def longest_answer_tokens(rows, tokenizer) -> int:
    """Tokens of the longest reference answer of `rows` plus the end-of-sequence token, as encode() writes
    an answer for training."""
    return 1 + max(
        len(tokenizer(a, add_special_tokens=False)["input_ids"]) for refs in rows["answers"] for a in refs
    )


def answer_budget(budget: int | str, data_dir, task: str, tokenizer) -> int:
    """max_new_tokens of a task from its evaluation.max_new_tokens entry: the number, or for `train` the
    longest answer of its train split. The budget never comes from the split being scored: the length
    of its answers would tell the model where to stop."""
    if budget == "train":
        return longest_answer_tokens(load_rows(data_dir, task, "train"), tokenizer)
    return int(budget)


def score_task_split(
    model,
    processor,
    rows,
    prompt: PromptTemplate,
    *,
    max_new_tokens: int,
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
        max_new_tokens=max_new_tokens,
        device=device,
        label=label,
    )
    kind = rows[0]["kind"]
    result = score_task(kind, preds, enc.answers, enc.ids)
    return enc, preds, {"kind": kind, **result}


def score_tasks(
    model, processor, data_dir, tasks, prompt: PromptTemplate, *, split, batch_size, device, roles
) -> dict:
    """Each task's `split` scored with the budget of its train split (pre-training's check: a built
    backbone's tasks all have the train split it was just trained on)."""
    out = {}
    for task in tasks:
        rows = load_rows(data_dir, task, split)
        _, _, result = score_task_split(
            model,
            processor,
            rows,
            prompt,
            max_new_tokens=answer_budget("train", data_dir, task, processor.tokenizer),
            batch_size=batch_size,
            device=device,
            label=task,
        )
        out[task] = {"role": roles[task], **result}
    return out
