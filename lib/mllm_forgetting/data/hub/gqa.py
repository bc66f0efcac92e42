"""GQA (LLaVA-1.5 pre-trained task): test-dev balanced questions, exact-match accuracy."""

from __future__ import annotations

from .common import HubDataset, HubSplit, ImageTable, answered_row

# Schema: lmms-eval tasks/gqa/gqa.yaml + utils.py: questions in config testdev_balanced_instructions
# (id, imageId, question, answer, fullAnswer, ...), images apart in testdev_balanced_images (id, image),
# joined on imageId == id; split "testdev".


def convert(row: dict) -> dict | None:
    return answered_row(row["id"], row["image"], row["question"], [row["answer"]])


GQA = HubDataset(
    name="gqa",
    hub_id="lmms-lab/GQA",
    config="testdev_balanced_instructions",
    kind="open",
    splits={"val": HubSplit("testdev"), "test": HubSplit("testdev")},
    convert=convert,
    columns=("id", "imageId", "question", "answer"),
    images=ImageTable(config="testdev_balanced_images", split="testdev", key="id", foreign_key="imageId"),
    notes="test-dev balanced (the LLaVA-1.5 evaluation set); val is a disjoint slice of it",
)
