"""POPE (both paper lists): object-hallucination yes/no questions."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row

# Schema: huggingface.co/datasets/lmms-lab/POPE README dataset_info (id, question_id, question,
# answer "yes"/"no", image_source, image, category adversarial/popular/random; split test 9000) and
# lmms-eval tasks/pope/utils.py.


def convert(row: dict) -> dict | None:
    answer = str(row["answer"]).strip().lower()
    if answer not in ("yes", "no"):
        raise ValueError(f"lmms-lab/POPE: answer {row['answer']!r} is not yes/no")
    # question_id restarts in each category, so ids come from the row position
    return answered_row(None, row["image"], row["question"], [answer])


POPE = HubDataset(
    name="pope",
    hub_id="lmms-lab/POPE",
    config=None,
    kind="yes_no",
    splits={"val": HubSplit("test"), "test": HubSplit("test")},
    convert=convert,
    columns=("question", "answer", "image"),
    notes="all three categories (adversarial, popular, random) of the test split; val is a disjoint slice",
)
