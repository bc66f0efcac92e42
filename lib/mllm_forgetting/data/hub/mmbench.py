"""MMBench, English dev set (both paper lists): option letters, single pass (no CircularEval)."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row, is_missing

# Schema: huggingface.co/datasets/lmms-lab/MMBench README dataset_info, config en (index, question,
# hint, answer letter, A, B, C, D, category, image, source, L2-category, comment, split; splits
# dev 4329, test 6666 unlabelled) and lmms-eval tasks/mmbench/en_utils.py.
OPTION_COLUMNS = ("A", "B", "C", "D")


def convert(row: dict) -> dict | None:
    options = []
    for col in OPTION_COLUMNS:  # options are contiguous; an absent one ends the list
        if is_missing(row[col]):
            break
        options.append(str(row[col]))
    answer = str(row["answer"]).strip().upper()
    if is_missing(row["answer"]) or answer not in OPTION_COLUMNS[: len(options)]:
        return None
    return answered_row(
        row["index"], row["image"], row["question"], [answer], context=row["hint"], options=options
    )


MMBENCH = HubDataset(
    name="mmbench",
    hub_id="lmms-lab/MMBench",
    config="en",
    kind="multiple_choice",
    splits={"val": HubSplit("dev"), "test": HubSplit("dev")},
    convert=convert,
    columns=("index", "question", "hint", "answer", *OPTION_COLUMNS, "image"),
    notes="English dev set (test answers are hidden); val is a disjoint slice of dev",
)
