"""VizWiz-VQA (both paper lists): VQA soft accuracy; "unanswerable" stays a valid answer."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row

# Schema: huggingface.co/datasets/lmms-lab/VizWiz-VQA README dataset_info (question_id, image,
# question, answers: sequence of 10 strings, category; splits val 4319, test 8000 unlabelled) and
# lmms-eval tasks/vizwiz_vqa/utils.py.


def convert(row: dict) -> dict | None:  # the unanswerable hint is the prompt template's (prompts.py)
    return answered_row(row["question_id"], row["image"], row["question"], row["answers"])


VIZWIZ = HubDataset(
    name="vizwiz",
    hub_id="lmms-lab/VizWiz-VQA",
    config=None,
    kind="vqa",
    splits={"val": HubSplit("val"), "test": HubSplit("val")},
    convert=convert,
    columns=("question_id", "question", "answers", "image"),
    notes="test answers are hidden (challenge server): test and val are disjoint samples of the val split",
)
