"""Hub dataset adapters, run through prepare_hub_tasks on small local fixtures.

Each fixture reproduces its hub dataset's real column names and feature types (the sources are
named in each adapter module); tiny generated images carry their row number in the red channel,
so a test can tell which source image landed where. No network: the loader is injected.

Rows hold content only (question, context, options, answers); the text a model reads is the LLaVA-1.5
template's rendering of a row, which must stay exactly what LLaVA-1.5's evaluation prompts are.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import datasets
import pytest
from mllm_forgetting.data.benchmark import FEATURES, load_split
from mllm_forgetting.data.hub.coin import COIN_HUB_ID, COIN_SEQUENCE
from mllm_forgetting.data.hub.prepare import prepare_hub_tasks
from mllm_forgetting.data.hub.registry import HUB_DATASETS
from mllm_forgetting.prompts import LLAVA_1_5
from PIL import Image

# CoIN's tasks are read from local instruction files; tests/test_coin_datasets.py has their fixtures
PARQUET_DATASETS = {name: spec for name, spec in HUB_DATASETS.items() if spec.hub_id != COIN_HUB_ID}

S, I8, I32, I64, BOOL = (datasets.Value(t) for t in ("string", "int8", "int32", "int64", "bool"))
STRINGS = datasets.List(S)
IMAGE = datasets.Image()
SIZES = {"train": 2, "val": 2, "test": 3}

# The prompt suffixes of LLaVA-1.5's evaluation (scripts/v1_5/eval, as mirrored by lmms-eval).
SHORT_ANSWER = "\nAnswer the question using a single word or phrase."
OPTION_LETTER = "\nAnswer with the option's letter from the given choices directly."
CAPTION_PROMPT = "Provide a one-sentence caption for the provided image."


def prompt(row: dict) -> str:
    """The user's text a LLaVA-1.5-style backbone reads for a row."""
    return LLAVA_1_5.user_text(row)


def picture(i: int) -> Image.Image:
    return Image.new("RGB", (4, 4), (i % 256, 7, 9))


def red(pil) -> int:
    return pil.convert("RGB").getpixel((0, 0))[0]


def table(features: dict, rows: list[dict]) -> datasets.Dataset:
    return datasets.Dataset.from_list(rows, features=datasets.Features(features))


# ------------------------------------------------------------------ fixtures, one per hub source


def vqav2(n=10):
    feats = {
        "question_type": S,
        "multiple_choice_answer": S,
        "answers": datasets.List({"answer": S, "answer_confidence": S, "answer_id": I64}),
        "image_id": I64,
        "answer_type": S,
        "question_id": I64,
        "question": S,
        "image": IMAGE,
    }
    rows = [
        {
            "question_type": "how many",
            "multiple_choice_answer": "2",
            "answers": [
                {"answer": a, "answer_confidence": "yes", "answer_id": k + 1}
                for k, a in enumerate(["2"] * 7 + ["two", "3", "2"])
            ],
            "image_id": i,
            "answer_type": "number",
            "question_id": 1000 + i,
            "question": f"How many cats are there {i}?",
            "image": picture(i),
        }
        for i in range(n)
    ]
    return table(feats, rows)


def gqa_questions(n=10):
    feats = {
        "id": S,
        "imageId": S,
        "question": S,
        "answer": S,
        "fullAnswer": S,
        "isBalanced": BOOL,
        "semanticStr": S,
    }
    rows = [
        {
            "id": f"q{i}",
            "imageId": f"n{i % 4}",
            "question": f"Is the cup {i} on the left?",
            "answer": "left",
            "fullAnswer": "The cup is on the left.",
            "isBalanced": True,
            "semanticStr": "select: cup",
        }
        for i in range(n)
    ]
    return table(feats, rows)


def gqa_images():
    return table({"id": S, "image": IMAGE}, [{"id": f"n{k}", "image": picture(200 + k)} for k in range(4)])


def vizwiz(n=10):
    feats = {"question_id": S, "image": IMAGE, "question": S, "answers": STRINGS, "category": S}
    rows = [
        {
            "question_id": f"VizWiz_val_{i:08d}",
            "image": picture(i),
            "question": "what is this?",
            "answers": ["unanswerable"] * 6 + ["soup"] * 4,
            "category": "unanswerable",
        }
        for i in range(n)
    ]
    return table(feats, rows)


def scienceqa(n=10):
    feats = {
        "image": IMAGE,
        "question": S,
        "choices": STRINGS,
        "answer": I8,
        "hint": S,
        "task": S,
        "grade": S,
        "subject": S,
        "topic": S,
        "category": S,
        "skill": S,
        "lecture": S,
        "solution": S,
    }
    rows = [
        {
            "image": None if i % 4 == 1 else picture(i),
            "question": "Which animal is a mammal?",
            "choices": ["frog", "whale", "shark"],
            "answer": 1,
            "hint": "" if i % 2 else "Look at the picture.",
            "task": "closed choice",
            "grade": "grade4",
            "subject": "natural science",
            "topic": "biology",
            "category": "Classify",
            "skill": "Identify mammals",
            "lecture": "",
            "solution": "",
        }
        for i in range(n)
    ]
    return table(feats, rows)


def textvqa(n=10):
    feats = {
        "image_id": S,
        "question_id": I32,
        "question": S,
        "question_tokens": STRINGS,
        "image": IMAGE,
        "image_width": I32,
        "image_height": I32,
        "flickr_original_url": S,
        "flickr_300k_url": S,
        "answers": STRINGS,
        "image_classes": STRINGS,
        "set_name": S,
        "ocr_tokens": STRINGS,
    }
    rows = [
        {
            "image_id": f"img{i}",
            "question_id": 34602 + i,
            "question": "what brand is this?",
            "question_tokens": ["what", "brand", "is", "this"],
            "image": picture(i),
            "image_width": 4,
            "image_height": 4,
            "flickr_original_url": "",
            "flickr_300k_url": "",
            "answers": ["nokia"] * 10,
            "image_classes": ["phone"],
            "set_name": "val",
            "ocr_tokens": ["NOKIA"],
        }
        for i in range(n)
    ]
    return table(feats, rows)


def pope(n=10):
    feats = {
        "id": S,
        "question_id": S,
        "question": S,
        "answer": S,
        "image_source": S,
        "image": IMAGE,
        "category": S,
    }
    rows = [
        {
            "id": str(i),
            "question_id": str(i % 3 + 1),
            "question": "Is there a dog in the image?",
            "answer": "yes" if i % 2 else "no",
            "image_source": f"COCO_{i}",
            "image": picture(i),
            "category": ("adversarial", "popular", "random")[i % 3],
        }
        for i in range(n)
    ]
    return table(feats, rows)


def mmbench(n=10):
    feats = {
        "index": S,
        "question": S,
        "hint": S,
        "answer": S,
        "A": S,
        "B": S,
        "C": S,
        "D": S,
        "category": S,
        "image": IMAGE,
        "source": S,
        "L2-category": S,
        "comment": S,
        "split": S,
    }
    rows = [
        {
            "index": str(i),
            "question": "What is the main color?",
            "hint": "nan" if i % 2 else "A sunny day.",
            "answer": "B",
            "A": "red",
            "B": "blue",
            "C": "green" if i % 3 else "nan",
            "D": "nan",
            "category": "attribute",
            "image": picture(i),
            "source": "",
            "L2-category": "",
            "comment": "nan",
            "split": "dev",
        }
        for i in range(n)
    ]
    return table(feats, rows)


FLICKR_SPLITS = ["train"] * 6 + ["val"] * 3 + ["test"] * 4


def flickr30k():
    feats = {"image": IMAGE, "caption": STRINGS, "sentids": STRINGS, "split": S, "img_id": S, "filename": S}
    rows = [
        {
            "image": picture(i),
            "caption": [f"a photo number {i} caption {k}" for k in range(5)],
            "sentids": [str(5 * i + k) for k in range(5)],
            "split": split,
            "img_id": f"{split}{i}",
            "filename": f"{i}.jpg",
        }
        for i, split in enumerate(FLICKR_SPLITS)
    ]
    return table(feats, rows)


def okvqa_eval(n=10):
    feats = {
        "question_id": S,
        "image": IMAGE,
        "question": S,
        "answers": STRINGS,
        "question_type": S,
        "answer_type": S,
    }
    rows = [
        {
            "question_id": f"{5000 + i}",
            "image": picture(i),
            "question": "What sport can you use this for?",
            "answers": ["racing"] * 4 + ["race"] * 6,
            "question_type": "other",
            "answer_type": "other",
        }
        for i in range(n)
    ]
    return table(feats, rows)


def okvqa_train(n=10):
    feats = {
        "image": IMAGE,
        "question_type": S,
        "confidence": I32,
        "answers": STRINGS,
        "answers_original": datasets.List(
            {"answer": S, "raw_answer": S, "answer_confidence": S, "answer_id": I64}
        ),
        "id_image": I64,
        "answer_type": S,
        "question_id": I64,
        "question": S,
        "id": I64,
    }
    rows = [
        {
            "image": picture(100 + i),
            "question_type": "eight",
            "confidence": 3,
            "answers": ["pony"] * 10,
            "answers_original": [
                {"answer": "pony", "raw_answer": "pony", "answer_confidence": "yes", "answer_id": k + 1}
                for k in range(10)
            ],
            "id_image": i,
            "answer_type": "other",
            "question_id": 9000 + i,
            "question": "What breed is this?",
            "id": i,
        }
        for i in range(n)
    ]
    return table(feats, rows)


def aokvqa(n=10, labelled=True):
    feats = {
        "image": IMAGE,
        "question_id": S,
        "question": S,
        "choices": STRINGS,
        "correct_choice_idx": I8,
        "direct_answers": S,
        "difficult_direct_answer": BOOL,
        "rationales": STRINGS,
    }
    rows = [
        {
            "image": picture(i),
            "question_id": f"aok{i}",
            "question": "What is the man holding?",
            "choices": ["bat", "racket", "cup", "phone"],
            "correct_choice_idx": 1 if labelled else None,
            "direct_answers": str(["racket"] * 8 + ["tennis racket"] * 2) if labelled else None,
            "difficult_direct_answer": False,
            "rationales": ["He plays tennis."],
        }
        for i in range(n)
    ]
    return table(feats, rows)


def iconqa(n=12):
    types = ("choose_txt", "choose_img", "fill_in_blank")
    feats = {
        "question_id": S,
        "question": S,
        "choices": S,
        "answer": S,
        "query_image": IMAGE,
        "choice_image_0": IMAGE,
        "choice_image_1": IMAGE,
        "ques_type": S,
        "label": S,
        "grade": S,
        "skills": S,
    }
    rows = []
    for i in range(n):
        kind = types[i % 3]
        rows.append(
            {
                "question_id": f"ic{i}",
                "question": "How many dots are there?",
                "choices": {"choose_txt": "4,6,8", "choose_img": "choice_0.png,choice_1.png"}.get(kind, ""),
                "answer": {"choose_txt": "6", "choose_img": "choice_1.png"}.get(kind, "7"),
                "query_image": picture(i),
                "choice_image_0": picture(250) if kind == "choose_img" else None,
                "choice_image_1": picture(251) if kind == "choose_img" else None,
                "ques_type": kind,
                "label": "",
                "grade": "grade1",
                "skills": "counting",
            }
        )
    return table(feats, rows)


def textcaps(n=10):
    feats = {
        "question_id": S,
        "question": S,
        "image": IMAGE,
        "image_id": S,
        "image_classes": STRINGS,
        "flickr_original_url": S,
        "flickr_300k_url": S,
        "image_width": I64,
        "image_height": I64,
        "set_name": S,
        "image_name": S,
        "image_path": S,
        "caption_id": datasets.List(I64),
        "caption_str": STRINGS,
        "reference_strs": STRINGS,
    }
    rows = [
        {
            "question_id": str(i),
            "question": "",
            "image": picture(i),
            "image_id": f"tc{i}",
            "image_classes": ["sign"],
            "flickr_original_url": "",
            "flickr_300k_url": "",
            "image_width": 4,
            "image_height": 4,
            "set_name": "train",
            "image_name": f"{i}",
            "image_path": f"{i}.jpg",
            "caption_id": list(range(5)),
            "caption_str": [f"a sign that says stop {k}" for k in range(5)],
            "reference_strs": [f"a sign that says stop {k}" for k in range(5)],
        }
        for i in range(n)
    ]
    return table(feats, rows)


def pathvqa(n=10):
    rows = [
        {
            "image": picture(i),
            "question": "is this fibrosis?" if i % 2 else "what is present?",
            "answer": "yes" if i % 2 else "necrosis",
        }
        for i in range(n)
    ]
    return table({"image": IMAGE, "question": S, "answer": S}, rows)


FIXTURES = {
    ("lmms-lab/VQAv2", None, "validation"): vqav2,
    ("lmms-lab/GQA", "testdev_balanced_instructions", "testdev"): gqa_questions,
    ("lmms-lab/GQA", "testdev_balanced_images", "testdev"): gqa_images,
    ("lmms-lab/VizWiz-VQA", None, "val"): vizwiz,
    ("lmms-lab/ScienceQA", "ScienceQA-IMG", "validation"): scienceqa,
    ("lmms-lab/ScienceQA", "ScienceQA-IMG", "test"): scienceqa,
    ("lmms-lab/textvqa", None, "validation"): textvqa,
    ("lmms-lab/POPE", None, "test"): pope,
    ("lmms-lab/MMBench", "en", "dev"): mmbench,
    ("nlphuji/flickr30k", None, "test"): flickr30k,
    ("lmms-lab/OK-VQA", None, "val2014"): okvqa_eval,
    ("Multimodal-Fatima/OK-VQA_train", None, "train"): okvqa_train,
    ("HuggingFaceM4/A-OKVQA", None, "train"): aokvqa,
    ("HuggingFaceM4/A-OKVQA", None, "validation"): aokvqa,
    ("lmms-lab/ICON-QA", None, "val"): iconqa,
    ("lmms-lab/ICON-QA", None, "test"): iconqa,
    ("lmms-lab/TextCaps", None, "train"): textcaps,
    ("lmms-lab/TextCaps", None, "val"): textcaps,
    ("flaviagiammarino/path-vqa", None, "train"): pathvqa,
    ("flaviagiammarino/path-vqa", None, "validation"): pathvqa,
    ("flaviagiammarino/path-vqa", None, "test"): pathvqa,
}


class FakeHub:
    """The injectable loader: serves fixtures and records every request."""

    def __init__(self, overrides=None):
        self.calls = []
        self.overrides = overrides or {}

    def __call__(self, hub_id, config, split, revision=None):
        self.calls.append((hub_id, config, split, revision))
        key = (hub_id, config, split)
        if key in self.overrides:
            return self.overrides[key]
        if key not in FIXTURES:
            raise AssertionError(
                f"no fixture for {key}: the adapter asks for a source the test does not know"
            )
        return FIXTURES[key]()


def build(tmp_path, tasks, sizes=None, seed=0, hub=None, name="out"):
    out = tmp_path / name
    hub = hub or FakeHub()
    manifest = prepare_hub_tasks(out, list(tasks), sizes or SIZES, seed=seed, progress=False, load=hub)
    return out, manifest, hub


def rows(out, task, split):
    return list(load_split(out, task, split))


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------------- every dataset


def test_every_registered_dataset_has_a_fixture():
    sources = set()
    for spec in PARQUET_DATASETS.values():
        for hub_split in spec.splits.values():
            config = hub_split.config if hub_split.hub_id or hub_split.config else spec.config
            sources.add((hub_split.hub_id or spec.hub_id, config, hub_split.split))
        if spec.images:
            sources.add((spec.hub_id, spec.images.config, spec.images.split))
    assert sources <= set(FIXTURES)


def test_registry_holds_both_paper_lists():
    llava = {"vqav2", "gqa", "vizwiz", "scienceqa", "textvqa", "pope", "mmbench", "flickr30k", "okvqa"}
    minicpm = {
        "vizwiz",
        "okvqa",
        "aokvqa",
        "aokvqa_da",
        "textvqa",
        "iconqa",
        "pope",
        "mmbench",
        "textcaps",
        "pathvqa",
    }
    assert set(HUB_DATASETS) == llava | minicpm | set(COIN_SEQUENCE)
    for target in ("flickr30k", "okvqa", "textcaps", "pathvqa"):
        assert "train" in HUB_DATASETS[target].splits and "test" in HUB_DATASETS[target].splits


@pytest.mark.parametrize("task", sorted(PARQUET_DATASETS))
def test_common_schema_and_formatting(tmp_path, task):
    out, manifest, _ = build(tmp_path, [task])
    spec = HUB_DATASETS[task]
    for split in ("train", "val", "test"):
        ds = load_split(out, task, split)
        assert ds.features == FEATURES
        expected = SIZES[split] if split in spec.splits else 0
        assert len(ds) == expected, (split, len(ds))
        assert manifest["tasks"][task]["splits"][split]["rows"] == expected
        assert len(set(ds["id"])) == len(ds)
        for row in ds:
            assert row["task"] == task and row["kind"] == spec.kind
            assert row["id"].startswith(f"{task}-")
            assert isinstance(row["image"], Image.Image) and row["image"].size == (4, 4)
            assert row["answers"] and all(isinstance(a, str) for a in row["answers"])
            question, answers, options = row["question"], row["answers"], row["options"]
            text = prompt(row)
            # content only: no instruction or option list stored with the question, texts stripped
            assert SHORT_ANSWER not in question and OPTION_LETTER not in question and "\nA. " not in question
            assert question == question.strip() and row["context"] == row["context"].strip()
            assert all(o and o == o.strip() for o in options)
            if spec.kind != "multiple_choice":
                assert options == []
            if spec.kind in ("vqa", "open", "pathvqa", "yes_no"):
                assert question and text.endswith(SHORT_ANSWER)
                if task != "vizwiz":  # vizwiz: the unanswerable hint comes first (its own test)
                    assert text == question + SHORT_ANSWER
            if spec.kind == "vqa":
                assert len(answers) == 10  # every human answer kept, for the soft accuracy
            if spec.kind == "multiple_choice":
                assert question and len(options) >= 2
                assert text.endswith(OPTION_LETTER) and "\nA. " in text and "\nB. " in text
                assert answers[0] in "ABCD"[: len(options)] and f"\n{answers[0]}. " in text
                # LLaVA-1.5's layout: [context line] question, one "A. option" line each, the instruction
                prefix = "Context: " if task == "scienceqa" else ""
                context = f"{prefix}{row['context']}\n" if row["context"] else ""
                lines = "\n".join(f"{'ABCDEFGH'[k]}. {o}" for k, o in enumerate(options))
                assert text == f"{context}{question}\n{lines}{OPTION_LETTER}"
            if spec.kind == "yes_no":
                assert answers in (["yes"], ["no"])
            if spec.kind == "caption":
                assert question == "" and row["context"] == ""
                assert text == CAPTION_PROMPT and len(answers) == 5
    info = manifest["tasks"][task]
    assert info["kind"] == spec.kind and info["hub_id"] == spec.hub_id
    assert json.loads((out / "manifest.json").read_text()) == manifest


# ---------------------------------------------------------------------------- per dataset details


def test_vqav2_question_answers_and_ids(tmp_path):
    out, _, _ = build(tmp_path, ["vqav2"])
    row = rows(out, "vqav2", "test")[0]
    n = int(row["id"].split("-")[1]) - 1000
    assert row["question"] == f"How many cats are there {n}?"
    assert row["context"] == "" and row["options"] == []
    assert prompt(row) == f"How many cats are there {n}?\nAnswer the question using a single word or phrase."
    assert row["answers"] == ["2"] * 7 + ["two", "3", "2"]
    assert red(row["image"]) == n


def test_val_and_test_read_disjoint_rows_of_a_shared_split(tmp_path):
    out, manifest, hub = build(tmp_path, ["pope"], sizes={"val": 4, "test": 6})
    val, test = ({r["id"] for r in rows(out, "pope", s)} for s in ("val", "test"))
    assert len(val) == 4 and len(test) == 6 and not val & test
    assert hub.calls == [("lmms-lab/POPE", None, "test", None)]  # loaded once for both
    # a split of size None takes every remaining row
    out, manifest, _ = build(tmp_path, ["pope"], sizes={"val": 3, "test": None}, name="rest")
    assert len(rows(out, "pope", "test")) == 7
    with pytest.raises(ValueError, match="give all but one a size"):
        build(tmp_path, ["pope"], sizes={"val": None, "test": None}, name="clash")


def test_gqa_joins_images_on_image_id(tmp_path):
    out, manifest, hub = build(tmp_path, ["gqa"])
    assert ("lmms-lab/GQA", "testdev_balanced_images", "testdev", None) in hub.calls
    for row in rows(out, "gqa", "test"):
        q = int(row["id"].removeprefix("gqa-q"))
        assert red(row["image"]) == 200 + q % 4  # the picture of imageId n{q % 4}
        assert row["answers"] == ["left"]
    assert manifest["tasks"]["gqa"]["images"]["config"] == "testdev_balanced_images"


def test_vizwiz_keeps_unanswerable(tmp_path):
    out, _, _ = build(tmp_path, ["vizwiz"])
    row = rows(out, "vizwiz", "test")[0]
    assert row["answers"].count("unanswerable") == 6
    assert row["question"] == "what is this?" and row["context"] == "" and row["options"] == []
    assert prompt(row) == (
        "what is this?\nWhen the provided information is insufficient, respond with "
        "'Unanswerable'.\nAnswer the question using a single word or phrase."
    )


def test_scienceqa_drops_rows_without_image_and_formats_context(tmp_path):
    out, manifest, _ = build(tmp_path, ["scienceqa"], sizes={"val": None, "test": None})
    test = rows(out, "scienceqa", "test")
    kept = {i for i in range(10) if i % 4 != 1}  # rows 1, 5, 9 of the fixture have no image
    assert {int(r["id"].rsplit("-", 1)[1]) for r in test} == kept
    assert manifest["tasks"]["scienceqa"]["splits"]["test"]["rows"] == len(kept)
    by_index = {int(r["id"].rsplit("-", 1)[1]): r for r in test}
    assert all(r["question"] == "Which animal is a mammal?" for r in test)
    assert all(r["options"] == ["frog", "whale", "shark"] for r in test)
    assert by_index[0]["context"] == "Look at the picture."
    assert prompt(by_index[0]) == (
        "Context: Look at the picture.\nWhich animal is a mammal?\n"
        "A. frog\nB. whale\nC. shark\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert by_index[3]["context"] == ""  # empty hint: no context
    assert prompt(by_index[3]).startswith("Which animal is a mammal?\nA. frog")
    assert all(r["answers"] == ["B"] for r in test)


def test_mmbench_skips_absent_options_and_prefixes_hint(tmp_path):
    out, _, _ = build(tmp_path, ["mmbench"], sizes={"val": 0, "test": None})
    test = {int(r["id"].removeprefix("mmbench-")): r for r in rows(out, "mmbench", "test")}
    assert test[0]["question"] == test[1]["question"] == "What is the main color?"
    assert test[0]["context"] == "A sunny day." and test[0]["options"] == ["red", "blue"]
    assert test[1]["context"] == "" and test[1]["options"] == ["red", "blue", "green"]  # hint "nan": none
    assert prompt(test[0]) == (
        "A sunny day.\nWhat is the main color?\nA. red\nB. blue\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert prompt(test[1]) == (
        "What is the main color?\nA. red\nB. blue\nC. green\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert test[1]["answers"] == ["B"]


def test_pope_answers_are_yes_no(tmp_path):
    out, _, _ = build(tmp_path, ["pope"], sizes={"val": 0, "test": None})
    answers = [r["answers"][0] for r in rows(out, "pope", "test")]
    assert sorted(answers) == ["no"] * 5 + ["yes"] * 5


def test_flickr30k_uses_the_karpathy_split_column(tmp_path):
    out, manifest, hub = build(tmp_path, ["flickr30k"], sizes={"train": None, "val": None, "test": None})
    for split, n in (("train", 6), ("val", 3), ("test", 4)):
        got = rows(out, "flickr30k", split)
        assert len(got) == n
        assert all(r["id"].startswith(f"flickr30k-{split}") for r in got)  # img_id carries its split
        assert manifest["tasks"]["flickr30k"]["splits"][split]["where"] == ["split", split]
    assert {c[3] for c in hub.calls} == {"refs/convert/parquet"}
    first = rows(out, "flickr30k", "train")[0]
    assert first["answers"] == [f"a photo number {red(first['image'])} caption {k}" for k in range(5)]


def test_okvqa_trains_on_its_train_questions_and_tests_on_val2014(tmp_path):
    out, manifest, hub = build(tmp_path, ["okvqa"])
    assert ("Multimodal-Fatima/OK-VQA_train", None, "train", None) in hub.calls
    assert ("lmms-lab/OK-VQA", None, "val2014", None) in hub.calls
    train, val, test = (rows(out, "okvqa", s) for s in ("train", "val", "test"))
    assert all(red(r["image"]) >= 100 for r in train + val)  # training-repo pictures
    assert not {r["id"] for r in train} & {r["id"] for r in val}
    assert all(red(r["image"]) < 100 and r["answers"] == ["racing"] * 4 + ["race"] * 6 for r in test)
    assert manifest["tasks"]["okvqa"]["splits"]["train"]["hub_id"] == "Multimodal-Fatima/OK-VQA_train"


def test_aokvqa_multiple_choice_and_direct_answer_forms(tmp_path):
    out, _, _ = build(tmp_path, ["aokvqa", "aokvqa_da"])
    mc = rows(out, "aokvqa", "test")[0]
    assert mc["question"] == "What is the man holding?" and mc["context"] == ""
    assert mc["options"] == ["bat", "racket", "cup", "phone"]
    assert prompt(mc) == (
        "What is the man holding?\nA. bat\nB. racket\nC. cup\nD. phone\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert mc["answers"] == ["B"]
    da = rows(out, "aokvqa_da", "test")[0]
    assert da["question"] == "What is the man holding?" and da["options"] == []
    assert prompt(da) == "What is the man holding?\nAnswer the question using a single word or phrase."
    assert da["answers"] == ["racket"] * 8 + ["tennis racket"] * 2  # parsed from the stored repr
    # both forms read the same source with the same seed: the same questions
    for split in ("val", "test"):
        assert [r["id"].removeprefix("aokvqa-") for r in rows(out, "aokvqa", split)] == [
            r["id"].removeprefix("aokvqa_da-") for r in rows(out, "aokvqa_da", split)
        ]


def test_aokvqa_skips_unlabelled_rows(tmp_path):
    hub = FakeHub({("HuggingFaceM4/A-OKVQA", None, "validation"): aokvqa(labelled=False)})
    out, manifest, _ = build(tmp_path, ["aokvqa"], hub=hub)
    assert len(rows(out, "aokvqa", "test")) == 0 and len(rows(out, "aokvqa", "val")) == 2


def test_iconqa_keeps_single_image_text_choices(tmp_path):
    out, _, _ = build(tmp_path, ["iconqa"], sizes={"val": 0, "test": None})
    test = rows(out, "iconqa", "test")
    assert len(test) == 4  # rows 0, 3, 6, 9 are choose_txt
    for r in test:
        assert red(r["image"]) % 3 == 0  # the query image, not a choice image
        assert r["question"] == "How many dots are there?" and r["options"] == ["4", "6", "8"]
        assert prompt(r) == (
            "How many dots are there?\nA. 4\nB. 6\nC. 8\n"
            "Answer with the option's letter from the given choices directly."
        )
        assert r["answers"] == ["B"]


def test_textcaps_and_pathvqa(tmp_path):
    out, _, _ = build(tmp_path, ["textcaps", "pathvqa"], sizes={"train": 3, "val": 2, "test": None})
    train, val = rows(out, "textcaps", "train"), rows(out, "textcaps", "val")
    assert not {r["id"] for r in train} & {r["id"] for r in val}  # both from the hub train split
    assert train[0]["answers"] == [f"a sign that says stop {k}" for k in range(5)]
    test = rows(out, "pathvqa", "test")
    assert {r["answers"][0] for r in test} == {"yes", "necrosis"}
    assert all(r["kind"] == "pathvqa" for r in test)


def test_images_stored_as_bytes_or_paths_are_converted(tmp_path):
    # a copy whose image column is raw bytes, not datasets.Image, still ends as datasets.Image
    import io

    buf = io.BytesIO()
    picture(42).save(buf, format="PNG")
    raw = table(
        {"image": datasets.Value("binary"), "question": S, "answer": S},
        [{"image": buf.getvalue(), "question": "is it red?", "answer": "yes"}] * 4,
    )
    png = tmp_path / "p.png"
    picture(43).save(png)
    paths = table(
        {"image": S, "question": S, "answer": S},
        [{"image": str(png), "question": "is it red?", "answer": "no"}] * 4,
    )
    hub = FakeHub(
        {
            ("flaviagiammarino/path-vqa", None, "train"): raw,
            ("flaviagiammarino/path-vqa", None, "test"): paths,
        }
    )
    out, _, _ = build(tmp_path, ["pathvqa"], hub=hub)
    assert [red(r["image"]) for r in rows(out, "pathvqa", "train")] == [42, 42]
    assert [red(r["image"]) for r in rows(out, "pathvqa", "test")] == [43, 43, 43]


# ---------------------------------------------------------------------------- sampling, errors


def test_subsampling_is_deterministic(tmp_path):
    tasks = ["vqav2", "flickr30k", "gqa"]
    a, _, _ = build(tmp_path, tasks, name="a")
    b, _, _ = build(tmp_path, tasks, name="b")
    assert file_hashes(a) == file_hashes(b)  # byte-identical, state.json fingerprints included
    c, _, _ = build(tmp_path, tasks, seed=1, name="c")
    picked = {s: [r["id"] for r in rows(a, "vqav2", s)] for s in ("val", "test")}
    assert picked != {s: [r["id"] for r in rows(c, "vqav2", s)] for s in ("val", "test")}
    # val is drawn first: its rows depend on the seed and the val size only
    d, _, _ = build(tmp_path, ["vqav2"], sizes={"val": 2, "test": 6}, name="d")
    assert [r["id"] for r in rows(d, "vqav2", "val")] == picked["val"]


def test_val_is_kept_when_the_test_size_exceeds_the_source(tmp_path):
    out, manifest, _ = build(tmp_path, ["mmbench"], sizes={"val": 3, "test": 50})
    counts = {s: manifest["tasks"]["mmbench"]["splits"][s]["rows"] for s in ("val", "test")}
    assert counts == {"val": 3, "test": 7}  # the 10 fixture rows: val first, test the rest


def test_sizes_larger_than_the_source_take_what_exists(tmp_path):
    out, manifest, _ = build(tmp_path, ["pathvqa"], sizes={"train": 50, "val": 1, "test": 1})
    assert manifest["tasks"]["pathvqa"]["splits"]["train"]["rows"] == 10


def test_unknown_task_lists_the_valid_names(tmp_path):
    with pytest.raises(ValueError, match=r"unknown hub task\(s\) \['vqa3'\].*'gqa'.*'vqav2'"):
        build(tmp_path, ["vqa3"])


def test_missing_column_names_dataset_and_column(tmp_path):
    broken = vqav2().remove_columns("answers")
    hub = FakeHub({("lmms-lab/VQAv2", None, "validation"): broken})
    with pytest.raises(ValueError, match=r"lmms-lab/VQAv2 .*split 'validation'.* no column 'answers'"):
        build(tmp_path, ["vqav2"], hub=hub)
    broken_images = gqa_images().rename_column("image", "picture")
    hub = FakeHub({("lmms-lab/GQA", "testdev_balanced_images", "testdev"): broken_images})
    with pytest.raises(ValueError, match=r"lmms-lab/GQA .*testdev_balanced_images.* no column 'image'"):
        build(tmp_path, ["gqa"], hub=hub)


def test_bad_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown split"):
        build(tmp_path, ["pope"], sizes={"dev": 3})
    with pytest.raises(ValueError, match="non-negative"):
        build(tmp_path, ["pope"], sizes={"test": -1})
