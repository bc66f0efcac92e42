"""TextVQA (both paper lists): VQA soft accuracy over the 10 human answers."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row

# Schema: huggingface.co/datasets/lmms-lab/textvqa README dataset_info (image_id, question_id int32,
# question, image, answers: sequence of 10 strings, ocr_tokens, ...; splits train 34602,
# validation 5000, test 5734 unlabelled) and lmms-eval tasks/textvqa/utils.py.


def convert(row: dict) -> dict | None:
    return answered_row(row["question_id"], row["image"], row["question"], row["answers"])


TEXTVQA = HubDataset(
    name="textvqa",
    hub_id="lmms-lab/textvqa",
    config=None,
    kind="vqa",
    splits={"val": HubSplit("validation"), "test": HubSplit("validation")},
    convert=convert,
    columns=("question_id", "question", "answers", "image"),
    notes="validation split (the standard TextVQA evaluation, no OCR tokens in the prompt); "
    "val is a disjoint slice of it",
)
