"""IconQA (MiniCPM-V pre-trained task): its single-image multiple-choice questions (choose_txt)."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row, letter

# Schema: huggingface.co/datasets/lmms-lab/ICON-QA README dataset_info (question_id, question,
# choices: one comma-separated string, answer: the choice text, query_image, choice_image_0/1,
# ques_type choose_txt/choose_img/fill_in_blank, label, grade, skills; splits val 21488,
# test 21489) and lmms-eval tasks/iconqa/utils.py (choices.split(",")).


def convert(row: dict) -> dict | None:
    options = [c.strip() for c in str(row["choices"]).split(",")]
    answer = str(row["answer"]).strip()
    if answer not in options:  # a choice with a comma inside cannot be told apart: skip the row
        return None
    return answered_row(
        row["question_id"],
        row["query_image"],
        row["question"],
        [letter(options.index(answer))],
        options=options,
    )


ICONQA = HubDataset(
    name="iconqa",
    hub_id="lmms-lab/ICON-QA",
    config=None,
    kind="multiple_choice",
    splits={
        "val": HubSplit("val", where=("ques_type", "choose_txt")),
        "test": HubSplit("test", where=("ques_type", "choose_txt")),
    },
    convert=convert,
    columns=("question_id", "question", "choices", "answer", "query_image", "ques_type"),
    image_column="query_image",
    notes="choose_txt questions only: choose_img needs several images per question and "
    "fill_in_blank would need a second metric in one task",
)
