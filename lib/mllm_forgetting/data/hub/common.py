"""What a hub dataset adapter declares.

An adapter is one `HubDataset`: where the rows live on the Hugging Face hub, which hub split (and
row filter) feeds each common split, and `convert`, which maps one hub row to the common schema's
{id, image, question, context, options, answers} (content only: the backbone's prompt template words
it, prompts.py). `prepare.py` does the loading, sampling, image handling and saving.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ...metrics import KINDS

COMMON_SPLITS = ("train", "val", "test")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # multiple-choice answers: the option's letter


@dataclass(frozen=True)
class HubSplit:
    """The hub split feeding one common split.

    where: keep only rows whose column equals the value, e.g. ("split", "train") for Flickr30k's
    Karpathy split column. hub_id / config: read this split from another repository (OK-VQA's
    train questions live in a different copy than its evaluation questions).
    """

    split: str
    where: tuple[str, str] | None = None
    hub_id: str | None = None
    config: str | None = None


@dataclass(frozen=True)
class ImageTable:
    """Images stored apart from the questions (GQA): a hub config/split of {key: ..., image: ...}
    rows, joined to each question through the question's `foreign_key` column."""

    config: str
    split: str
    key: str
    foreign_key: str


@dataclass(frozen=True)
class HubDataset:
    name: str  # task name used in config files
    hub_id: str
    config: str | None
    kind: str  # metric family, one of metrics.KINDS
    splits: Mapping[str, HubSplit]  # common split (train/val/test) -> hub split
    convert: Callable[[dict], dict | None]  # hub row -> {id, image, question, answers}; None = skip
    columns: tuple[str, ...]  # hub columns convert reads; checked before converting
    image_column: str = "image"
    revision: str | None = None  # hub revision, e.g. "refs/convert/parquet" for a script dataset
    images: ImageTable | None = None
    notes: str = ""  # split choices and other decisions, copied into the manifest

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}; expected one of {KINDS}")
        unknown = set(self.splits) - set(COMMON_SPLITS)
        if unknown:
            raise ValueError(f"{self.name}: unknown common split(s) {sorted(unknown)}")


def is_missing(value) -> bool:
    """None, "", NaN or the string "nan" (how MMBench's TSV-born columns mark an absent option)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in ("", "nan", "none")


def letter(index: int) -> str:
    return LETTERS[int(index)]


def text_id(value) -> str | None:
    """A source id as a string; None when the source row has none."""
    return None if is_missing(value) else str(value)


def answered_row(row_id, image, question: str, answers, *, context=None, options=()) -> dict | None:
    """A common-schema row (texts stripped; no context = ""), or None for a row without answers (an
    unlabelled test row)."""
    answers = [str(a).strip() for a in answers or []]
    if not answers:
        return None
    return {
        "id": text_id(row_id),
        "image": image,
        "question": str(question).strip(),
        "context": "" if is_missing(context) else str(context).strip(),
        "options": [str(o).strip() for o in options],
        "answers": answers,
    }
