"""TextCaps (MiniCPM-V target task): captions that read the text in the image, scored by CIDEr."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row

# Schema: huggingface.co/datasets/lmms-lab/TextCaps README dataset_info (question_id, question, image,
# image_id, ..., caption_id, caption_str: sequence of reference captions, reference_strs; splits
# train 21953, val 3166, test 3289 unlabelled; one row per image) and lmms-eval
# tasks/textcaps/utils.py (references = caption_str).


def convert(row: dict) -> dict | None:  # no question: the prompt template asks for the caption
    return answered_row(row["image_id"], row["image"], "", row["caption_str"])


TEXTCAPS = HubDataset(
    name="textcaps",
    hub_id="lmms-lab/TextCaps",
    config=None,
    kind="caption",
    splits={"train": HubSplit("train"), "val": HubSplit("train"), "test": HubSplit("val")},
    convert=convert,
    columns=("image_id", "caption_str", "image"),
    notes="test is the official val split (test captions are hidden); train and val are disjoint "
    "samples of the train split",
)
