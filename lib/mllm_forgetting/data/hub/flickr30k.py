"""Flickr30k captions (LLaVA-1.5 target task) on the Karpathy split, scored by CIDEr."""

from __future__ import annotations

from .common import HubDataset, HubSplit, answered_row

# Schema: nlphuji/flickr30k loading script flickr30k.py (features image, caption: list of 5 strings,
# sentids, split: Karpathy "train"/"val"/"test", img_id, filename; one hub split "test" holding all
# 31,014 images). The repo is a loading script, which datasets>=4 no longer runs, so rows are read
# from the hub's own parquet export (revision refs/convert/parquet), which keeps those features.


def convert(row: dict) -> dict | None:  # no question: the prompt template asks for the caption
    return answered_row(row["img_id"], row["image"], "", row["caption"])


FLICKR30K = HubDataset(
    name="flickr30k",
    hub_id="nlphuji/flickr30k",
    config=None,
    kind="caption",
    revision="refs/convert/parquet",
    splits={
        "train": HubSplit("test", where=("split", "train")),
        "val": HubSplit("test", where=("split", "val")),
        "test": HubSplit("test", where=("split", "test")),
    },
    convert=convert,
    columns=("image", "caption", "split", "img_id"),
    notes="Karpathy split (29000/1014/1000 images) from the `split` column of the single hub split",
)
