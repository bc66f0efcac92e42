"""ScienceQA-IMG (LLaVA-1.5 pre-trained task): the questions with an image, as option letters."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row, letter

# Schema: huggingface.co/datasets/lmms-lab/ScienceQA README dataset_info, config ScienceQA-IMG (image,
# question, choices: sequence of strings, answer: int8 index, hint, ...; splits validation 2097,
# test 2017) and lmms-eval tasks/scienceqa/utils.py (prompt "Context: {hint}\n{question}\nA. ...").


def convert(row: dict) -> dict | None:
    if row["image"] is None:  # ScienceQA-IMG should hold none; keep the IMG promise anyway
        return None
    return answered_row(
        None,
        row["image"],
        row["question"],
        [letter(row["answer"])],
        context=row["hint"],
        options=list(row["choices"]),
    )


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
