"""Tests for the procedural benchmark (small sizes, a few seconds)."""

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from mllm_forgetting.data import scenes, tasks
from mllm_forgetting.data.benchmark import build_benchmark, load_split, read_vocabulary
from mllm_forgetting.data.scenes import Obj
from mllm_forgetting.data.tasks import FACTS, TASKS
from mllm_forgetting.metrics import KINDS
from mllm_forgetting.prompts import WORDS

SIZES = {"train": 40, "val": 10, "test": 20}
COLUMNS = ["id", "image", "question", "context", "options", "answers", "task", "kind"]
TEXT = r"[a-z0-9]+( [a-z0-9]+)*"


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    build_benchmark(out, list(TASKS), SIZES, seed=0, progress=False)
    return out


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def rows(bench, task):
    for split in SIZES:
        yield from load_split(bench, task, split)


def options(text: str) -> list[str]:
    """Option letters written inline after the word 'options' ('... options a red b blue')."""
    words = text.split()
    tail = words[words.index("options") + 1 :]
    return [w for w in tail if len(w) == 1 and w in "abcd"]


def test_build_is_byte_identical(bench, tmp_path):
    build_benchmark(tmp_path / "again", list(TASKS), SIZES, seed=0, progress=False)
    assert file_hashes(bench) == file_hashes(tmp_path / "again")
    build_benchmark(tmp_path / "other", ["vqa"], SIZES, seed=1, progress=False)
    assert (
        file_hashes(tmp_path / "other")["vqa/train/data-00000-of-00001.arrow"]
        != file_hashes(bench)["vqa/train/data-00000-of-00001.arrow"]
    )


# answers longer than one word: gqa and classify name an object or class by two words, ocr reads two
# digits
ANSWER_WORDS = {"gqa": 2, "classify": 2, "ocr": 2}


def test_schema_and_text_rules(bench):
    for task, spec in TASKS.items():
        assert spec.kind in KINDS
        for split, n in SIZES.items():
            ds = load_split(bench, task, split)
            assert ds.column_names == COLUMNS and len(ds) == n
            for i, ex in enumerate(ds):
                assert ex["id"] == f"{task}-{split}-{i:05d}"
                assert ex["task"] == task and ex["kind"] == spec.kind
                assert ex["image"].size == (32, 32) and ex["image"].mode == "RGB"
                assert len(WORDS.user_text(ex).split()) <= 20  # what the tiny backbones read
                assert ex["context"] == ""  # the generated tasks state everything in the question
                assert bool(ex["options"]) == (spec.kind == "multiple_choice")
                if spec.kind == "caption":
                    assert ex["question"] == ""  # the prompt template asks
                    assert WORDS.user_text(ex) == "describe the image"
                    assert 3 <= len(ex["answers"]) <= 5 and len(set(ex["answers"])) == len(ex["answers"])
                    assert all(len(a.split()) <= 12 for a in ex["answers"])
                else:  # one word, except names of two words and boxes of four (ANSWER_WORDS)
                    assert len(ex["answers"]) == 1
                    assert len(ex["answers"][0].split()) == ANSWER_WORDS.get(task, 1)
                if spec.kind != "caption":
                    assert re.fullmatch(TEXT, ex["question"]), ex["question"]
                for text in [*ex["options"], *ex["answers"]]:
                    assert re.fullmatch(TEXT, text), text
                assert re.fullmatch(TEXT, WORDS.user_text(ex)), WORDS.user_text(ex)


def test_pope_balanced_and_vizwiz_half_degraded(bench):
    for split, n in SIZES.items():
        pope = [ex["answers"][0] for ex in load_split(bench, "pope", split)]
        assert pope.count("yes") == pope.count("no") == n // 2
        viz = [ex["answers"][0] for ex in load_split(bench, "vizwiz", split)]
        assert viz.count("unanswerable") == n // 2


def test_multiple_choice_answers_are_listed_letters(bench):
    for task in ("sqa", "mmbench"):
        for ex in rows(bench, task):
            letters = list("abcd"[: len(ex["options"])])
            # the tiny backbones read the options inline, as the data held them before prompts were templates
            written = " ".join(f"{letter} {option}" for letter, option in zip(letters, ex["options"]))
            assert WORDS.user_text(ex) == f"{ex['question']} options {written}"
            assert options(WORDS.user_text(ex)) == letters
            assert len(letters) == 4 if task == "mmbench" else len(letters) in (2, 3)
            assert ex["answers"][0] in letters


def test_unknown_task_and_missing_data(tmp_path):
    with pytest.raises(ValueError, match="valid tasks.*vqa"):
        build_benchmark(tmp_path, ["nope"], SIZES, seed=0, progress=False)
    with pytest.raises(FileNotFoundError, match="prepare_data"):
        load_split(tmp_path / "missing", "vqa", "train")
    with pytest.raises(FileNotFoundError, match="prepare_data"):
        read_vocabulary(tmp_path / "missing")


def test_vocabulary_covers_all_text(bench):
    vocab = read_vocabulary(bench)
    assert vocab == sorted(set(vocab))
    examples = [ex for t in TASKS for ex in rows(bench, t)]
    texts = [[ex["question"], ex["context"], *ex["options"], *ex["answers"]] for ex in examples]
    words = {w for row in texts for s in row for w in s.split()}
    assert words == set(vocab)
    # a built backbone's vocabulary (the data's words + its template's) covers every prompt it reads
    read = {w for ex in examples for w in WORDS.user_text(ex).split()}
    assert read <= set(vocab) | set(WORDS.words())
    assert not read <= set(vocab)  # the template's own words ("options", "describe") are not data


def test_digit_scans_disjoint_between_splits(monkeypatch):
    pools = {s: {scan.tobytes() for scan in scenes.digit_pool(s)[0]} for s in scenes.DIGIT_SPLITS}
    assert not (pools["train"] & pools["test"]) and not (pools["train"] & pools["val"])
    used = []
    monkeypatch.setattr(tasks, "paste_digit", lambda img, scan, pos, dark: used.append(scan.tobytes()))
    tasks.TASKS["textvqa"].generate(np.random.default_rng(0), 30, "test", 32)
    assert used and all(u in pools["test"] for u in used)


def test_okvqa_follows_fact_table(bench):
    for template, attr, table in FACTS.values():
        assert set(table) == set(scenes.COLORS if attr == "color" else scenes.SHAPES)  # covers all values
        for value, answer in table.items():  # a single-object scene pins down the expected fact
            o = Obj("circle" if attr == "color" else value, value if attr == "color" else "red", 0)
            asked = [tasks.qa_okvqa(np.random.default_rng(seed), [o]) for seed in range(30)]
            assert all(opts == [] for _, _, opts in asked)  # an open question: no options
            hits = [a for q, a, _ in asked if q == template.format(shape=o.shape, color=o.color)]
            assert hits and all(a == answer for a in hits)
    for ex in rows(bench, "okvqa"):  # built rows: answer belongs to the relation the question asks
        rel = next(r for r, (t, _, _) in FACTS.items() if ex["question"].startswith(t.split("{")[0]))
        assert ex["answers"][0] in FACTS[rel][2].values()
