"""PathVQA (MiniCPM-V target task): pathology questions, yes/no and open-ended."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row

# Schema: huggingface.co/datasets/flaviagiammarino/path-vqa dataset card (image, question, answer;
# splits train 19654, validation 6259, test 6719).


def convert(row: dict) -> dict | None:
    return answered_row(None, row["image"], row["question"], [row["answer"]])


PATHVQA = HubDataset(
    name="pathvqa",
    hub_id="flaviagiammarino/path-vqa",
    config=None,
    kind="pathvqa",
    splits={"train": HubSplit("train"), "val": HubSplit("validation"), "test": HubSplit("test")},
    convert=convert,
    columns=("image", "question", "answer"),
    notes="the dataset's own train/validation/test splits",
)
