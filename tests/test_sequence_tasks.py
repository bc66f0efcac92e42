"""The continual-learning sequence tasks (classify, grounding, ocr, count): formats, balance, what the image
shows, and that adding them changed neither the existing tasks' rows nor the benchmark vocabulary."""

import hashlib
import json
import re
from collections import Counter

import numpy as np
import pytest
from mllm_forgetting.data import scenes, tasks
from mllm_forgetting.data.benchmark import build_split
from mllm_forgetting.data.scenes import COLORS, GridObj
from mllm_forgetting.data.tasks import CLASS_COLOR, CLASS_SHAPE, FACTS, NUMBER_WORDS, TASKS

NEW = ("classify", "grounding", "ocr", "count")
OLD = ("vqa", "gqa", "vizwiz", "sqa", "textvqa", "pope", "mmbench", "caption", "okvqa")
TEXT = r"[a-z0-9]+( [a-z0-9]+)*"
# The vocabulary of the existing tasks (data/vocab.txt of the default build), hard-coded because every
# pre-trained backbone's word-level tokenizer was built from it: a new task adding a word would force
# re-pre-training. test_existing_vocabulary_is_the_hard_coded_one checks it against the existing generators.
VOCAB = set(
    "0 1 2 3 4 5 6 7 8 9 a above and animal are at b background banana blue blueberry bottom c canary "
    "cardinal cherry church circle color colors corners cross d dark four frog fruit green has how image in "
    "is left like lime many more most no number object of on one or polygon polygons red right shape shaped "
    "shapes shows square tent the there thing three top triangle two unanswerable warm whale what wheel "
    "where which window with written yellow yes".split()
)
# sha256 (first 16 hex) of build_split(task, "train", 20, 0), computed with the code before the sequence tasks
# were added (see digest): their rows must stay byte-identical.
OLD_DIGESTS = {
    "vqa": "138402bf259a9820",
    "gqa": "bd1b845a99d36fa2",
    "vizwiz": "80d23cb06965bbc3",
    "sqa": "ecf4d11643de9f49",
    "textvqa": "7765536014b38383",
    "pope": "aa768b37f04970aa",
    "mmbench": "63f66a3f7a34d3bb",
    "caption": "07f68da6c10cf8a1",
    "okvqa": "d8a8f587c42e2f16",
}


def digest(ds) -> str:
    h = hashlib.sha256()
    for r in ds.data.table.to_pylist():
        h.update(r.pop("image")["bytes"])
        h.update(json.dumps(r, sort_keys=True).encode())
    return h.hexdigest()[:16]


def words(ds) -> set[str]:
    texts = list(ds["question"]) + list(ds["context"])
    texts += [t for column in ("options", "answers") for values in ds[column] for t in values]
    return {w for t in texts for w in t.split()}


@pytest.fixture(scope="module")
def built():
    return {t: build_split(t, "test", 200, 0) for t in NEW}


def answers(ds) -> list[str]:
    assert all(len(a) == 1 for a in ds["answers"])
    return [a[0] for a in ds["answers"]]


def pure(img, color: str, tol: int = 8) -> np.ndarray:
    """Mask of the pixels wholly covered by an object of `color` (anti-aliased edges excluded)."""
    a = np.asarray(img, dtype=int)
    return np.abs(a - np.array(COLORS[color])).max(axis=-1) <= tol


@pytest.mark.parametrize("task", OLD)
def test_existing_tasks_unchanged(task):
    assert digest(build_split(task, "train", 20, 0)) == OLD_DIGESTS[task]


def test_existing_vocabulary_is_the_hard_coded_one():
    assert set().union(*(words(build_split(t, "train", 100, 0)) for t in OLD)) == VOCAB


def test_registered_open_and_text_rule(built):
    for task, ds in built.items():
        assert TASKS[task].kind == "open"
        assert set(ds["kind"]) == {"open"} and all(o == [] for o in ds["options"])
        for ex in ds:
            assert ex["image"].size == (32, 32) and ex["image"].mode == "RGB"
            for text in [ex["question"], *ex["answers"]]:
                assert re.fullmatch(TEXT, text), text


def test_no_new_word(built):
    for split in ("train", "val"):
        for task in NEW:
            assert words(build_split(task, split, 50, 1)) <= VOCAB, task
    for task, ds in built.items():
        assert words(ds) <= VOCAB, task


def test_deterministic():
    for task in NEW:
        a, b = build_split(task, "train", 30, 3), build_split(task, "train", 30, 3)
        assert digest(a) == digest(b)
        assert digest(a) != digest(build_split(task, "train", 30, 4))


def test_other_image_sizes():
    for task in NEW:
        ds = build_split(task, "train", 20, 0, image_size=64)
        assert all(ex["image"].size == (64, 64) for ex in ds)


def test_classify(built):
    ds = built["classify"]
    assert set(ds["question"]) == {"what is in the image"}
    table = {(s, c): f"{CLASS_SHAPE[s]} {CLASS_COLOR[c]}" for s in scenes.SHAPES for c in COLORS}
    assert len(set(table.values())) == 16
    counts = Counter(answers(ds))
    assert set(counts) == set(table.values()) and max(counts.values()) - min(counts.values()) <= 1
    # no class word is what okvqa (any of its facts) or vqa/gqa answer for the same object
    for (shape, color), name in table.items():
        said = {t[getattr(scenes.Obj(shape, color, 0), attr)] for _, attr, t in FACTS.values()}
        assert not set(name.split()) & (said | {shape, color})
    for ex in ds:  # the colour drawn is the one the class name encodes
        color = next(c for c, w in CLASS_COLOR.items() if ex["answers"][0].endswith(" " + w))
        assert pure(ex["image"], color).sum() >= 10


def test_grounding_cells_balanced_and_drawn(built):
    ds = built["grounding"]
    cells = answers(ds)
    assert set(cells) == {str(c) for c in range(1, 10)}  # reading order, one digit
    assert max(Counter(cells).values()) - min(Counter(cells).values()) <= 1
    for ex in ds:
        q = ex["question"].split()
        assert q[:3] == ["where", "is", "the"] and q[3] in COLORS and q[4] in scenes.SHAPES and len(q) == 5
        x0, y0, x1, y1 = scenes.cell_box(int(ex["answers"][0]) - 1)
        ys, xs = np.nonzero(pure(ex["image"], q[3]))
        size = ex["image"].size[0]
        assert len(xs) >= 4
        assert xs.min() * 10 >= x0 * size and (xs.max() + 1) * 10 <= x1 * size
        assert ys.min() * 10 >= y0 * size and (ys.max() + 1) * 10 <= y1 * size


@pytest.mark.parametrize("size", [16, 32, 48, 64, 100])
def test_grid_objects_stay_in_their_box(size):
    rng = np.random.default_rng(size)
    for cell in range(9):
        for shape in scenes.SHAPES:
            img = scenes.render_grid_scene([GridObj(shape, "red", cell)], size, rng)
            a = np.asarray(img, dtype=int)
            ys, xs = np.nonzero((a != a[-1, -1]).any(axis=-1))  # the last tenth is always background
            x0, y0, x1, y1 = scenes.cell_box(cell)
            assert len(xs) > 0
            assert xs.min() * 10 >= x0 * size and (xs.max() + 1) * 10 <= x1 * size
            assert ys.min() * 10 >= y0 * size and (ys.max() + 1) * 10 <= y1 * size


def test_ocr_reads_the_pasted_digits(monkeypatch, built):
    ds = built["ocr"]
    assert set(ds["question"]) == {"what number is written in the image"}
    assert all(re.fullmatch(r"[0-9] [0-9]", a) for a in answers(ds))
    assert len(set(answers(ds))) >= 80  # 100 numbers, each n // 100 or one more times
    scans, labels = scenes.digit_pool("test")
    label = {s.tobytes(): int(y) for s, y in zip(scans, labels)}
    pasted = []
    monkeypatch.setattr(
        tasks, "paste_digit", lambda img, scan, pos, dark: pasted.append((pos, scan.tobytes()))
    )
    rows = tasks.gen_ocr(np.random.default_rng(0), 40, "test", 32)
    for i, row in enumerate(rows):
        (p0, s0), (p1, s1) = pasted[2 * i : 2 * i + 2]
        assert p0 in (0, 2) and p1 == p0 + 1  # side by side in one row, left digit first
        assert all(s in label for s in (s0, s1))  # the split's own scans
        assert row["answers"] == [f"{label[s0]} {label[s1]}"]


def test_count_balanced_and_matches_image(built):
    ds = built["count"]
    counts = Counter(answers(ds))
    assert set(counts) <= set(NUMBER_WORDS[1:]) and max(counts.values()) <= 0.4 * len(ds)
    for ex in ds:
        q = ex["question"].split()
        assert q[:2] == ["how", "many"] and q[3:] == ["shapes", "are", "there"] and q[2] in COLORS
        mask = pure(ex["image"], q[2])
        h = ex["image"].size[0] // 2  # one object per quadrant: count the quadrants holding the colour
        quads = [mask[r * h : (r + 1) * h, c * h : (c + 1) * h].sum() >= 4 for r in (0, 1) for c in (0, 1)]
        assert NUMBER_WORDS[sum(quads)] == ex["answers"][0]
    # the scene maker itself: exactly k objects of the asked colour, colours may repeat among the rest
    rng = np.random.default_rng(0)
    for k in range(1, 5):
        for n in range(k, 5):
            scene = scenes.count_scene(rng, "blue", k, n)
            assert len(scene) == n and [o.color for o in scene].count("blue") == k
            assert len({o.pos for o in scene}) == n
    with pytest.raises(ValueError):
        scenes.count_scene(rng, "blue", 0, 2)
