"""A-OKVQA (MiniCPM-V pre-trained task): `aokvqa` is the multiple-choice form (option letters),
`aokvqa_da` the direct-answer form (VQA soft accuracy over the 10 direct answers)."""

from __future__ import annotations

import ast

from .common import HubDataset, HubSplit, answered_row, letter

# Schema: HuggingFaceM4/A-OKVQA, built by m4's push script (FEATURES: image, question_id string,
# question, choices: list of 4 strings, correct_choice_idx int8, direct_answers: Value("string"),
# i.e. the repr of the list of 10 answers, difficult_direct_answer bool, rationales; splits train
# 17056, validation 1145, test 6702 unlabelled).
COLUMNS = ("question_id", "question", "choices", "correct_choice_idx", "direct_answers", "image")
NOTES = (
    "test answers are hidden: test is the validation split, val a sample of train (the "
    "validation split is too small to halve)"
)


def direct_answers(value) -> list[str]:
    """The 10 direct answers, stored as the string repr of a Python list ("['bench', ...]")."""
    if value is None:
        return []
    if isinstance(value, str):
        value = ast.literal_eval(value) if value.strip().startswith("[") else [value]
    return [str(a) for a in value]


def convert_choice(row: dict) -> dict | None:
    if row["correct_choice_idx"] is None:
        return None
    return answered_row(
        row["question_id"],
        row["image"],
        row["question"],
        [letter(row["correct_choice_idx"])],
        options=list(row["choices"]),
    )


def convert_direct(row: dict) -> dict | None:
    return answered_row(
        row["question_id"], row["image"], row["question"], direct_answers(row["direct_answers"])
    )


SPLITS = {"val": HubSplit("train"), "test": HubSplit("validation")}
AOKVQA = HubDataset(
    name="aokvqa",
    hub_id="HuggingFaceM4/A-OKVQA",
    config=None,
    kind="multiple_choice",
    splits=SPLITS,
    convert=convert_choice,
    columns=COLUMNS,
    notes=NOTES,
)
AOKVQA_DA = HubDataset(
    name="aokvqa_da",
    hub_id="HuggingFaceM4/A-OKVQA",
    config=None,
    kind="vqa",
    splits=SPLITS,
    convert=convert_direct,
    columns=COLUMNS,
    notes=NOTES,
)
