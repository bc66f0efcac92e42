"""The probe sets: every label is what the image shows, splits are deterministic and apart."""

import numpy as np
import pytest
from mllm_forgetting.config.settings import load_config
from mllm_forgetting.config.typed import ConfigError
from mllm_forgetting.data.benchmark import build_benchmark
from mllm_forgetting.data.probes import ATTRIBUTES, load_probes
from mllm_forgetting.data.scenes import COLORS, POSITIONS

SIZES = {"train": 30, "test": 12}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("probes")
    build_benchmark(
        out, ["vqa"], {"train": 4, "val": 2, "test": 2}, seed=0, progress=False, probe_sizes=SIZES
    )
    return out


def _object_pixels(image):
    """Pixels of the drawn shapes: saturated colours, unlike the grey background."""
    a = np.asarray(image.convert("RGB"), dtype=float)
    return a, (a.max(axis=2) - a.min(axis=2)) > 100


def _colour(a, mask):
    mean = a[mask].mean(axis=0)
    return min(COLORS, key=lambda c: np.abs(np.array(COLORS[c]) - mean).sum())


def _quadrant(mask):
    ys, xs = np.nonzero(mask)
    half = mask.shape[0] / 2
    return POSITIONS[2 * int(ys.mean() >= half) + int(xs.mean() >= half)]


def test_every_attribute_has_its_images_and_labels_from_its_label_set(data):
    for split, n in SIZES.items():
        ds = load_probes(data, split)
        assert len(ds) == n * len(ATTRIBUTES)
        for attribute, labels in ATTRIBUTES.items():
            seen = [r["label"] for r in ds if r["attribute"] == attribute]
            assert len(seen) == n and set(seen) <= set(labels)
            assert len(set(seen)) > 1  # not a constant label


def test_colour_and_position_labels_match_the_pixels(data):
    ds = load_probes(data, "train")
    checked = 0
    for row in ds:
        if row["attribute"] in ("color", "position"):
            a, mask = _object_pixels(row["image"])
            found = _colour(a, mask) if row["attribute"] == "color" else _quadrant(mask)
            assert found == row["label"], row["id"]
            checked += 1
    assert checked == 2 * SIZES["train"]


def test_count_labels_match_the_number_of_occupied_quadrants(data):
    for row in load_probes(data, "test"):
        if row["attribute"] == "count":
            _, mask = _object_pixels(row["image"])
            quadrants = [q.any() for half in np.array_split(mask, 2) for q in np.array_split(half, 2, axis=1)]
            assert sum(quadrants) == int(row["label"]), row["id"]


def test_probe_splits_differ_and_rebuild_identically(data, tmp_path):
    train, test = (load_probes(data, s) for s in SIZES)
    assert not {r["image"].tobytes() for r in train} & {r["image"].tobytes() for r in test}
    build_benchmark(
        tmp_path, ["vqa"], {"train": 4, "val": 2, "test": 2}, seed=0, progress=False, probe_sizes=SIZES
    )
    again = load_probes(tmp_path, "test")
    assert [r["image"].tobytes() for r in again] == [r["image"].tobytes() for r in test]


def test_probes_of_hub_data_are_a_config_error():
    import yaml
    from conftest import REPO

    raw = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    raw["data"]["probes"] = {"train": 10, "test": 10}
    with pytest.raises(ConfigError, match="probes: the probe sets are drawn with the generated benchmark"):
        load_config(raw)
