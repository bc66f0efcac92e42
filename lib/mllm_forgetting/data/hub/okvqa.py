"""OK-VQA (target task of both paper lists): VQA soft accuracy over the 10 human answers."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row

# Schema: evaluation questions from huggingface.co/datasets/lmms-lab/OK-VQA README dataset_info
# (question_id string, image, question, answers: sequence of 10 strings, question_type, answer_type;
# split val2014 5046); training questions from Multimodal-Fatima/OK-VQA_train README dataset_info
# (image, question_type, confidence, answers: sequence of 10 strings, answers_original, id_image,
# answer_type, question_id int64, question, ...; split train 9009): the same columns convert reads.


def convert(row: dict) -> dict | None:
    return answered_row(row["question_id"], row["image"], row["question"], row["answers"])


OKVQA = HubDataset(
    name="okvqa",
    hub_id="lmms-lab/OK-VQA",
    config=None,
    kind="vqa",
    splits={
        "train": HubSplit("train", hub_id="Multimodal-Fatima/OK-VQA_train"),
        "val": HubSplit("train", hub_id="Multimodal-Fatima/OK-VQA_train"),
        "test": HubSplit("val2014"),
    },
    convert=convert,
    columns=("question_id", "question", "answers", "image"),
    notes="train and val are disjoint samples of the OK-VQA train questions (val held out from "
    "training); test is the official val2014 evaluation set",
)
