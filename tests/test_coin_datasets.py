"""CoIN adapters (data/hub/coin.py), run through prepare_hub_tasks on local fixtures.

The fixtures reproduce the structure of CoIN's Instructions_Original files as CoIN's own code reads them
(the sources are listed in coin.py): train.json holds LLaVA conversations {id, image, conversations:
[{from: human, value: "<image>\\n..."}, {from: gpt, value}]}, the evaluation file {question_id, image,
text, answer | answer_bbox}; image paths are relative to cl_dataset/. Tiny images carry their number in
the red channel, so a test can tell which file landed where. No network: coin_loader reads tmp_path.
"""

from __future__ import annotations

import json

import pytest
from mllm_forgetting.data.benchmark import FEATURES, load_split
from mllm_forgetting.data.hub import coin
from mllm_forgetting.data.hub.coin import COIN_HUB_ID, COIN_REVISION, COIN_SEQUENCE, coin_loader
from mllm_forgetting.data.hub.prepare import prepare_hub_tasks
from mllm_forgetting.data.hub.registry import HUB_DATASETS
from mllm_forgetting.prompts import LLAVA_1_5
from PIL import Image

SHORT = "\nAnswer the question using a single word or phrase."
LETTER = "\nAnswer with the option's letter from the given choices directly."
SIZES = {"train": 3, "val": 2, "test": 3}


def picture(path, i: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (i % 256, 7, 9)).save(path, format="PNG")  # lossless, whatever the name
    return str(path)


def red(pil) -> int:
    return pil.convert("RGB").getpixel((0, 0))[0]


def write(root, task: str, split: str, rows: list) -> None:
    path = root / "Instructions_Original" / task / f"{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2))


def conversation(row_id, image, question, answer, image_first=True):
    value = f"<image>\n{question}" if image_first else f"{question}\n<image>"
    row = {
        "id": row_id,
        "conversations": [{"from": "human", "value": value}, {"from": "gpt", "value": answer}],
    }
    if image is not None:
        row["image"] = image
    return row


# ---------------------------------------------------------------------------- fixtures, one per task


def scienceqa(root, n=8):
    images = root / "cl_dataset"
    train, test = [], []
    for i in range(n):
        image = f"ScienceQA/images/train/{i}/image.png"
        picture(images / image, i)
        context = "Context: Look at the map.\n" if i % 2 else ""
        text = (
            f"{context}Which of these states is farthest north?\nA. West Virginia\nB. Louisiana\nC. Arizona"
        )
        train.append(conversation(str(i), None if i == 3 else image, text + LETTER, "A"))
        test_image = f"ScienceQA/images/test/{100 + i}/image.png"
        picture(images / test_image, 100 + i)
        row = {
            "question_id": str(100 + i),
            "text": "<image>\n" + text + LETTER,
            "answer": "B" if i % 2 else "Louisiana",
        }
        if i != 5:  # a text-only test question
            row["image"] = test_image
        test.append(row)
    write(root, "ScienceQA", "train", train)
    write(root, "ScienceQA", "test", test)


def grounding(root, n=6):
    images = root / "cl_dataset"
    train, test = [], []
    for i in range(n):
        image = f"COCO2014/train2014/COCO_train2014_{i:012d}.jpg"
        picture(images / image, i)
        text = f"Please provide the bounding box coordinate of the region this sentence describes: man {i}."
        train.append(conversation(f"g{i}", image, text, "[0.12, 0.3, 0.55, 0.9]"))
        test.append(
            {
                "question_id": f"ref{i}",
                "image": image,
                "text": text,
                "answer_bbox": f"[0.1, 0.2, 0.{i + 3}, 0.8]",
                "size": [640, 480],
            }
        )
    write(root, "Grounding", "train", train)
    write(root, "Grounding", "test", test)


def imagenet(root, n=6):
    images = root / "cl_dataset"
    train, test = [], []
    for i in range(n):
        image = f"ImageNet_withlabel/train/n0215{i}/n0215{i}_{i}.JPEG"
        picture(images / image, i)
        train.append(
            conversation(f"n0215{i}_{i}.JPEG", image, "What is the object in the image?" + SHORT, "Quail")
        )
        name = f"ILSVRC2012_val_{i:08d}.JPEG"
        picture(images / "ImageNet_withlabel" / "val" / name, 100 + i)
        test.append(
            {
                "question_id": name,
                "image": f"ImageNet_withlabel/val/{name}",
                "text": "What is the object in the image?" + SHORT,
                "answer": "Dandie dinmont",
            }
        )
    write(root, "ImageNet", "train", train)
    write(root, "ImageNet", "test", test)


def ocrvqa(root, n=4):
    """LLaVA's OCR-VQA rows are multi-turn: several questions about one book cover."""
    images = root / "cl_dataset"
    train, test = [], []
    for i in range(n):
        image = f"OCR-VQA/images/00019585{i}X.jpg"
        picture(images / image, i)
        turns = [
            {"from": "human", "value": "<image>\nWho wrote this book?" + SHORT},
            {"from": "gpt", "value": f"Author {i}"},
            {"from": "human", "value": "What is the genre of this book?" + SHORT},
            {"from": "gpt", "value": "Travel"},
        ]
        train.append({"id": f"00019585{i}X", "image": image, "conversations": turns})
        test.append(
            {"question_id": f"q{i}", "image": image, "text": "Is this a comedy book?" + SHORT, "answer": "No"}
        )
    write(root, "OCRVQA", "train", train)
    write(root, "OCRVQA", "test", test)


def short_answer(root, folder, test_file, image_dir, n=6, text="What is written on the sign?", ocr=False):
    """The other short-answer tasks (TextVQA, GQA, VizWiz, VQAv2): one question per row."""
    images = root / "cl_dataset"
    train, test = [], []
    for i in range(n):
        image = f"{image_dir}/{folder.lower()}_{i}.jpg"
        picture(images / image, i)
        ocr_line = "\nReference OCR token: STOP, 24" if ocr else ""
        train.append(conversation(f"{folder}{i}", image, text + ocr_line + SHORT, "stop"))
        test.append({"question_id": 5000 + i, "image": image, "text": text + SHORT, "answer": "stop"})
    write(root, folder, "train", train)
    write(root, folder, test_file, test)


def coin_root(tmp_path):
    root = tmp_path / "coin"
    scienceqa(root)
    grounding(root)
    imagenet(root)
    ocrvqa(root)
    short_answer(root, "TextVQA", "val", "TextVQA/train_images", ocr=True)
    short_answer(root, "GQA", "test", "GQA/images", text="Is the cup on the left?")
    short_answer(root, "VizWiz", "val", "VizWiz/val", text="What is this?")
    short_answer(root, "VQAv2", "val", "COCO2014/train2014", text="How many cats are there?")
    return root


def build(tmp_path, tasks, sizes=None, root=None, name="out", **loader):
    root = root or coin_root(tmp_path)
    out = tmp_path / name
    manifest = prepare_hub_tasks(
        out, list(tasks), sizes or SIZES, seed=0, progress=False, load=coin_loader(root, **loader)
    )
    return out, manifest


def rows(out, task, split):
    return list(load_split(out, task, split))


def prompt(row) -> str:
    return LLAVA_1_5.user_text(row)


# ---------------------------------------------------------------------------- registry


def test_registry_lists_the_eight_coin_tasks_in_coin_order():
    assert COIN_SEQUENCE == (
        "coin_scienceqa",
        "coin_textvqa",
        "coin_imagenet",
        "coin_gqa",
        "coin_vizwiz",
        "coin_grounding",
        "coin_vqav2",
        "coin_ocrvqa",
    )
    kinds = {t: HUB_DATASETS[t].kind for t in COIN_SEQUENCE}
    assert kinds == {t: "multiple_choice" if t == "coin_scienceqa" else "open" for t in COIN_SEQUENCE}
    tests = {t: HUB_DATASETS[t].splits["test"].split for t in COIN_SEQUENCE}
    assert tests == {
        "coin_scienceqa": "test",
        "coin_textvqa": "val",
        "coin_imagenet": "test",
        "coin_gqa": "test",
        "coin_vizwiz": "val",
        "coin_grounding": "test",
        "coin_vqav2": "val",
        "coin_ocrvqa": "test",
    }
    for task in COIN_SEQUENCE:
        spec = HUB_DATASETS[task]
        assert spec.hub_id == COIN_HUB_ID and spec.revision == COIN_REVISION
        assert spec.config.startswith("Instructions_Original/")
        assert set(spec.splits) == {"train", "val", "test"}  # every CoIN task is learnt in the sequence
    assert "IoU > 0.5" in HUB_DATASETS["coin_grounding"].notes


# ---------------------------------------------------------------------------- every task


@pytest.mark.parametrize("task", COIN_SEQUENCE)
def test_common_schema(tmp_path, task):
    out, manifest = build(tmp_path, [task])
    spec = HUB_DATASETS[task]
    ids = {}
    for split in ("train", "val", "test"):
        ds = load_split(out, task, split)
        assert ds.features == FEATURES
        assert len(ds) == SIZES[split], split
        assert manifest["tasks"][task]["splits"][split]["rows"] == SIZES[split]
        ids[split] = set(ds["id"])
        for row in ds:
            assert row["task"] == task and row["kind"] == spec.kind and row["id"].startswith(f"{task}-")
            assert isinstance(row["image"], Image.Image) and row["image"].size == (4, 4)
            assert row["answers"] and all(isinstance(a, str) and a for a in row["answers"])
            question = row["question"]
            assert question and "<image>" not in question and question == question.strip()
            assert "Answer the question using" not in question and "option's letter" not in question
            text = prompt(row)
            assert text.endswith(LETTER if spec.kind == "multiple_choice" else SHORT)
    assert not ids["train"] & ids["val"]  # val is held out of CoIN's train.json
    info = manifest["tasks"][task]
    assert info["hub_id"] == COIN_HUB_ID and info["revision"] == COIN_REVISION
    assert info["splits"]["test"]["split"] == spec.splits["test"].split


# ---------------------------------------------------------------------------- per task


def test_scienceqa_options_context_letters_and_text_only_rows(tmp_path):
    out, manifest = build(tmp_path, ["coin_scienceqa"], sizes={"train": None, "val": 0, "test": None})
    train = {r["id"]: r for r in rows(out, "coin_scienceqa", "train")}
    assert set(train) == {f"coin_scienceqa-{i}" for i in range(8) if i != 3}  # row 3 has no image
    test = {r["id"]: r for r in rows(out, "coin_scienceqa", "test")}
    assert set(test) == {f"coin_scienceqa-{100 + i}" for i in range(8) if i != 5}  # 105 is text-only
    plain, hinted = train["coin_scienceqa-0"], train["coin_scienceqa-1"]
    assert plain["question"] == "Which of these states is farthest north?"
    assert plain["options"] == ["West Virginia", "Louisiana", "Arizona"] and plain["answers"] == ["A"]
    assert plain["context"] == "" and red(plain["image"]) == 0
    # without a hint the LLaVA-1.5 template writes CoIN's own instruction back, character for character
    assert prompt(plain) == (
        "Which of these states is farthest north?\nA. West Virginia\nB. Louisiana\nC. Arizona" + LETTER
    )
    assert hinted["context"] == "Look at the map." and hinted["question"] == plain["question"]
    # a test answer given as the letter or as the option's text is the letter
    assert test["coin_scienceqa-100"]["answers"] == ["B"] and test["coin_scienceqa-101"]["answers"] == ["B"]
    assert red(test["coin_scienceqa-100"]["image"]) == 100
    assert manifest["tasks"]["coin_scienceqa"]["config"] == "Instructions_Original/ScienceQA"


def test_grounding_keeps_the_box_string_and_the_referring_instruction(tmp_path):
    out, _ = build(tmp_path, ["coin_grounding"], sizes={"train": 2, "val": 0, "test": None})
    test = sorted(rows(out, "coin_grounding", "test"), key=lambda r: r["id"])
    assert [r["id"] for r in test] == [f"coin_grounding-ref{i}" for i in range(6)]
    for i, r in enumerate(test):
        assert r["answers"] == [f"[0.1, 0.2, 0.{i + 3}, 0.8]"]  # answer_bbox, verbatim
        assert r["question"] == (
            f"Please provide the bounding box coordinate of the region this sentence describes: man {i}."
        )
        assert red(r["image"]) == i and r["kind"] == "open"
    assert all(r["answers"] == ["[0.12, 0.3, 0.55, 0.9]"] for r in rows(out, "coin_grounding", "train"))


def test_imagenet_class_names_and_val_images(tmp_path):
    out, _ = build(tmp_path, ["coin_imagenet"])
    for r in rows(out, "coin_imagenet", "test"):
        assert r["id"].startswith("coin_imagenet-ILSVRC2012_val_") and r["answers"] == ["Dandie dinmont"]
        assert red(r["image"]) >= 100  # the val image, not a train one
        assert prompt(r) == "What is the object in the image?" + SHORT  # CoIN's text, as CoIN wrote it
    assert {r["answers"][0] for r in rows(out, "coin_imagenet", "train")} == {"Quail"}


def test_ocrvqa_multi_turn_conversations_give_one_row_per_turn(tmp_path):
    out, _ = build(tmp_path, ["coin_ocrvqa"], sizes={"train": None, "val": 0, "test": None})
    train = {r["id"]: r for r in rows(out, "coin_ocrvqa", "train")}
    assert len(train) == 8
    first, second = train["coin_ocrvqa-000195850X-1"], train["coin_ocrvqa-000195850X-2"]
    assert (first["question"], first["answers"]) == ("Who wrote this book?", ["Author 0"])
    assert (second["question"], second["answers"]) == ("What is the genre of this book?", ["Travel"])
    assert red(first["image"]) == red(second["image"]) == 0  # both turns ask about the same cover
    assert all(r["answers"] == ["No"] for r in rows(out, "coin_ocrvqa", "test"))


def test_textvqa_ocr_tokens_are_context_not_question(tmp_path):
    out, _ = build(tmp_path, ["coin_textvqa"])
    for r in rows(out, "coin_textvqa", "train"):
        assert r["question"] == "What is written on the sign?"
        assert r["context"] == "Reference OCR token: STOP, 24"
    assert all(r["context"] == "" for r in rows(out, "coin_textvqa", "test"))
    # numeric question ids (VQAv2, TextVQA) become strings
    assert all(r["id"].startswith("coin_textvqa-50") for r in rows(out, "coin_textvqa", "test"))


def test_the_build_is_deterministic_and_disjoint(tmp_path):
    root = coin_root(tmp_path)
    a, _ = build(tmp_path, ["coin_gqa", "coin_vqav2"], root=root, name="a")
    b, _ = build(tmp_path, ["coin_gqa", "coin_vqav2"], root=root, name="b")
    for task in ("coin_gqa", "coin_vqav2"):
        for split in ("train", "val", "test"):
            assert [r["id"] for r in rows(a, task, split)] == [r["id"] for r in rows(b, task, split)]


# ---------------------------------------------------------------------------- the loader


def test_repeated_ids_are_told_apart_by_row(tmp_path):
    root = tmp_path / "coin"
    picture(root / "cl_dataset" / "GQA/images/x.jpg", 1)
    write(
        root,
        "GQA",
        "train",
        [conversation("same", "GQA/images/x.jpg", f"Question {i}?", "yes") for i in range(3)],
    )
    ds = coin.load_coin_file(root, "Instructions_Original/GQA", "train")
    assert ds["id"] == ["same-r0", "same-r1", "same-r2"]
    assert ds["source"][1].endswith("Instructions_Original/GQA/train.json row 1")


def test_other_datasets_go_to_the_fallback_loader(tmp_path):
    calls = []
    load = coin_loader(tmp_path, fallback=lambda *args: calls.append(args) or "hub rows")
    assert load("lmms-lab/VQAv2", None, "validation", None) == "hub rows"
    assert calls == [("lmms-lab/VQAv2", None, "validation", None)]


def test_an_unset_root_says_how_to_get_the_files(tmp_path, monkeypatch):
    monkeypatch.delenv("COIN_ROOT", raising=False)
    with pytest.raises(FileNotFoundError, match=r"COIN_ROOT.*download"):
        coin_loader()(COIN_HUB_ID, "Instructions_Original/GQA", "train", COIN_REVISION)
    with pytest.raises(FileNotFoundError, match=r"Instructions_Original/GQA/train\.json"):
        coin_loader(tmp_path)(COIN_HUB_ID, "Instructions_Original/GQA", "train", COIN_REVISION)


def test_environment_roots_are_read_when_a_coin_file_is_asked_for(tmp_path, monkeypatch):
    root = coin_root(tmp_path)
    moved = tmp_path / "images"
    (root / "cl_dataset").rename(moved)
    monkeypatch.setenv("COIN_ROOT", str(root))
    monkeypatch.setenv("COIN_IMAGE_ROOT", str(moved))
    ds = coin_loader()(COIN_HUB_ID, "Instructions_Original/ImageNet", "test", COIN_REVISION)
    assert ds[0]["image"].startswith(str(moved))


def test_a_copy_of_another_revision_is_refused(tmp_path):
    root = coin_root(tmp_path)
    (root / coin.REVISION_FILE).write_text("0" * 40 + "\n")
    with pytest.raises(ValueError, match=r"revision 0{40}.*pinned to " + COIN_REVISION):
        build(tmp_path, ["coin_gqa"], root=root)
    (root / coin.REVISION_FILE).write_text(COIN_REVISION + "\n")
    build(tmp_path, ["coin_gqa"], root=root, name="pinned")


def test_download_fetches_only_the_original_instructions_at_the_pinned_revision(tmp_path, monkeypatch):
    import huggingface_hub

    seen = {}
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kwargs: seen.update(kwargs))
    coin.download_instructions(tmp_path)
    assert seen["repo_id"] == COIN_HUB_ID and seen["repo_type"] == "dataset"
    assert seen["revision"] == COIN_REVISION and seen["allow_patterns"] == ["Instructions_Original/*/*.json"]
    assert (tmp_path / coin.REVISION_FILE).read_text().strip() == COIN_REVISION


# ---------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"id": "7", "image": "x.png"}, r"neither 'conversations'"),
        (
            {"id": "7", "conversations": [{"from": "human", "value": "<image>\nq"}]},
            r".conversations. must be a list of human/gpt pairs",
        ),
        (
            {"id": "7", "conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "q"}]},
            r"conversations\[0\] must be \{'from': 'human'",
        ),
        (
            {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
            r"no 'question_id'",
        ),
        ({"question_id": "7", "text": "q?"}, r"no 'answer'"),
        ({"question_id": "7", "text": "q?", "answer": "a", "image": ["x.png"]}, r"'image' must be a path"),
        (["not", "an", "object"], r"expected an object"),
    ],
)
def test_a_malformed_row_names_file_and_row(tmp_path, bad, message):
    root = coin_root(tmp_path)
    path = root / "Instructions_Original" / "GQA" / "train.json"
    good = json.loads(path.read_text())
    path.write_text(json.dumps(good[:2] + [bad] + good[2:]))
    with pytest.raises(ValueError, match=r"Instructions_Original/GQA/train\.json row 2: " + message):
        build(tmp_path, ["coin_gqa"], root=root)


def test_a_file_that_is_not_a_json_array_names_the_file(tmp_path):
    root = coin_root(tmp_path)
    path = root / "Instructions_Original" / "VizWiz" / "val.json"
    path.write_text('{"question_id": 1}')
    with pytest.raises(ValueError, match=r"VizWiz/val\.json: expected a JSON array"):
        build(tmp_path, ["coin_vizwiz"], root=root)
    path.write_text("[{")
    with pytest.raises(ValueError, match=r"VizWiz/val\.json: not a JSON file"):
        build(tmp_path, ["coin_vizwiz"], root=root)


def test_a_missing_image_names_the_row_and_the_image_root(tmp_path):
    root = coin_root(tmp_path)
    for image in (root / "cl_dataset" / "ImageNet_withlabel" / "val").iterdir():
        image.unlink()
    with pytest.raises(
        FileNotFoundError, match=r"ImageNet/test\.json row \d+: image .*ILSVRC2012_val_.* is missing"
    ):
        build(tmp_path, ["coin_imagenet"], root=root)


def test_scienceqa_without_lettered_options_or_with_a_foreign_answer_is_refused(tmp_path):
    root = coin_root(tmp_path)
    image = "ScienceQA/images/train/0/image.png"
    write(
        root,
        "ScienceQA",
        "train",
        [conversation("1", image, "Which is north?\n(A) Ohio (B) Utah" + LETTER, "A")],
    )
    with pytest.raises(ValueError, match=r"ScienceQA/train\.json row 0: coin_scienceqa expects option lines"):
        build(tmp_path, ["coin_scienceqa"], root=root)
    write(
        root,
        "ScienceQA",
        "train",
        [conversation("1", image, "Which is north?\nA. Ohio\nB. Utah" + LETTER, "Texas")],
    )
    with pytest.raises(ValueError, match=r"row 0: answer 'Texas' is neither an option letter"):
        build(tmp_path, ["coin_scienceqa"], root=root, name="again")
