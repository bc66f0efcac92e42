"""Probe sets: images each labelled with one attribute of their scene, for linear probes of visual knowledge.

An attribute has images of its own, drawn as the tasks' images are (scenes.py): the colour, the shape and the
position of a single object; the number of objects (1-3); the digit of one handwritten scan (the split's own
scans, as textvqa uses them, so test reads unseen handwriting). A probe trained on the train images' frozen
representations and scored on the test images tells whether a model still encodes what the tasks ask about,
whatever it answers (metrics/probes.py).

Layout: <data dir>/probes/ (DatasetDict, splits train and test), written by build_benchmark.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import datasets
import numpy as np

from .scenes import COLORS, POSITIONS, SHAPES, digit_pool, paste_digit, random_scene, render_scene

PROBE_DIR = "probes"
PROBE_SPLITS = ("train", "test")
# attribute -> its label set, in order (chance = 1 / len)
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "color": tuple(COLORS),
    "shape": SHAPES,
    "position": POSITIONS,
    "count": ("1", "2", "3"),
    "digit": tuple(str(d) for d in range(10)),
}
FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "image": datasets.Image(),
        "attribute": datasets.Value("string"),
        "label": datasets.Value("string"),
    }
)


def probe_example(attribute: str, rng: np.random.Generator, split: str, size: int):
    """(image, label) of one probe image for `attribute`."""
    if attribute == "count":
        scene = random_scene(rng, int(rng.integers(1, 4)))
        return render_scene(scene, size, rng), str(len(scene))
    if attribute == "digit":
        scans, labels = digit_pool(split)
        img = render_scene([], size, rng)
        j = int(rng.integers(len(scans)))
        paste_digit(img, scans[j], int(rng.integers(4)), dark_ink=bool(rng.random() < 0.5))
        return img, str(labels[j])
    if attribute not in ATTRIBUTES:
        raise ValueError(f"unknown probe attribute {attribute!r}; valid: {list(ATTRIBUTES)}")
    (obj,) = random_scene(rng, 1)
    label = {"color": obj.color, "shape": obj.shape, "position": POSITIONS[obj.pos]}[attribute]
    return render_scene([obj], size, rng), label


def build_probe_split(split: str, n: int, seed: int, image_size: int) -> datasets.Dataset:
    """n images per attribute, attribute after attribute, with a fingerprint derived from the arguments."""
    from .benchmark import fixed_fingerprint, png_bytes

    cols = {name: [] for name in FEATURES}
    for attribute in ATTRIBUTES:
        parts = [
            seed,
            zlib.crc32(PROBE_DIR.encode()),
            zlib.crc32(attribute.encode()),
            zlib.crc32(split.encode()),
        ]
        rng = np.random.default_rng(np.random.SeedSequence(parts))
        for i in range(n):
            image, label = probe_example(attribute, rng, split, image_size)
            cols["id"].append(f"probe-{attribute}-{split}-{i:05d}")
            cols["image"].append({"bytes": png_bytes(image), "path": None})
            cols["attribute"].append(attribute)
            cols["label"].append(label)
    ds = datasets.Dataset.from_dict(cols, features=FEATURES)
    fingerprint = fixed_fingerprint([PROBE_DIR, split, n, seed, image_size])
    return datasets.Dataset(ds.data, info=ds.info, fingerprint=fingerprint)


def build_probes(out_dir, sizes: dict[str, int], seed: int, image_size: int) -> None:
    splits = {split: build_probe_split(split, sizes[split], seed, image_size) for split in PROBE_SPLITS}
    datasets.DatasetDict(splits).save_to_disk(
        str(Path(out_dir) / PROBE_DIR), num_shards={s: 1 for s in splits}
    )


def has_probes(data_dir) -> bool:
    return (Path(data_dir) / PROBE_DIR).is_dir()


def load_probes(data_dir, split: str) -> datasets.Dataset:
    from .benchmark import PREPARE_HINT

    path = Path(data_dir) / PROBE_DIR / split
    if not path.is_dir():
        raise FileNotFoundError(f"no probe split {split!r} at {path}; {PREPARE_HINT}")
    ds = datasets.load_from_disk(str(path))
    missing = [c for c in FEATURES if c not in ds.column_names]
    if missing:
        raise ValueError(f"probe split {split!r} at {path} lacks column(s) {missing}; {PREPARE_HINT}")
    return ds
