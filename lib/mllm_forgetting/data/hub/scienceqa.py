"""ScienceQA-IMG (LLaVA-1.5 pre-trained task): the questions with an image, as option letters."""

from __future__ import annotations

from .common import HubDataset, HubSplit, is_missing, letter, multiple_choice

# Schema: huggingface.co/datasets/lmms-lab/ScienceQA README dataset_info, config ScienceQA-IMG (image,
# question, choices: sequence of strings, answer: int8 index, hint, ...; splits validation 2097,
# test 2017) and lmms-eval tasks/scienceqa/utils.py (prompt "Context: {hint}\n{question}\nA. ...").


def convert(row: dict) -> dict | None:
    if row["image"] is None:  # ScienceQA-IMG should hold none; keep the IMG promise anyway
        return None
    hint = row["hint"]
    stem = ("" if is_missing(hint) else f"Context: {str(hint).strip()}\n") + str(row["question"]).strip()
    return {
        "id": None,
        "image": row["image"],
        "question": multiple_choice(stem, list(row["choices"])),
        "answers": [letter(row["answer"])],
    }


SCIENCEQA = HubDataset(
    name="scienceqa",
    hub_id="lmms-lab/ScienceQA",
    config="ScienceQA-IMG",
    kind="multiple_choice",
    splits={"val": HubSplit("validation"), "test": HubSplit("test")},
    convert=convert,
    columns=("image", "question", "choices", "answer", "hint"),
    notes="ScienceQA-IMG test split (the LLaVA-1.5 setting); rows without an image are dropped",
)
