"""CoIN (Chen et al. 2024, arXiv 2403.08350): the continual instruction-tuning sequence ScienceQA ->
TextVQA -> ImageNet -> GQA -> VizWiz -> Grounding -> VQAv2 -> OCR-VQA, from CoIN's own instruction files.

Design. CoIN releases JSON instruction files (hub dataset Zacks-Chen/CoIN, no parquet, no images) that
point into the images of the ten source datasets, which every user assembles locally (`cl_dataset/`).
`datasets.load_dataset("Zacks-Chen/CoIN", <config>)` cannot read them (the repository declares no
configs, so every JSON of every instruction variant would land in one table), and the images are not on
the hub at all, so a local directory is needed whatever reads the JSON. Each task is therefore an
ordinary `HubDataset` (registry, kinds, sampling, id checks, manifest: all of prepare.py unchanged), whose
(hub_id, config, split) name a file of the hub repository, `<config>/<split>.json`, and `coin_loader`
is the `load` that prepare_hub_tasks already accepts: it reads those files from a local copy and passes
every other dataset to the hub loader. Layout of the local copy (`COIN_ROOT`, or `root=`):

    <root>/Instructions_Original/<Task>/{train,test,val}.json   download_instructions(root), pinned revision
    <root>/cl_dataset/...                                        the images, as CoIN's README organises them
                                                                 (`COIN_IMAGE_ROOT` or `images=` elsewhere)

The loader flattens each file into {id, image (absolute path or None), prompt, answers, source} rows, one
per (question, answer) turn; `convert` takes the prompt apart (no "<image>" marker, no answer-format
line, ScienceQA's options and context apart) as the other adapters keep rows content-only.

Facts and where they were read (code search over GitHub and stored hub pages; the JSON files themselves
could not be opened here):
- Task order, files and image root: zackschen/CoIN scripts/LLaVA/Train/{1_Science,2_TextVQA,3_ImageNet,
  4_GQA,5_VizWiz,6_Grounding,7_vqav2,8_OCRVQA}.sh (`--data_path ./playground/Instructions_Original/<Task>/
  train.json --image_folder ./cl_dataset`) and scripts/LLaVA/Eval/{1_eval_sqa,...,8_eval_ocrvqa}.sh: the
  evaluation files are ScienceQA/test.json, TextVQA/val.json, ImageNet/test.json, GQA/test.json,
  VizWiz/val.json, Grounding/test.json, VQAv2/val.json, OCRVQA/test.json.
- Hub layout: zackschen/CoIN README.md (instructions on huggingface.co/datasets/Zacks-Chen/CoIN, images
  downloaded from each source dataset into cl_dataset: COCO2014/train2014, GQA/images, OCR-VQA/images,
  TextVQA/train_images, ...); hub pages huggingface.co/datasets/Zacks-Chen/CoIN/tree/main (folders
  Instructions_Original, Instructions_Diverse, Instructions_10Type), .../tree/232280836c44afcdf047fddc65c7
  8553912bbbd3 (the "Upload 20 files" commit that added Instructions_Original; pinned below) and
  .../commit/289d304ea6a65b66801bf58b4ad3de6018255fe2 (.gitattributes lists Instructions_Original/VQAv2/
  {test,train,val}.json).
- Row format: zackschen/CoIN ETrain/Dataset/LAVIS/datasets/CoIN_dataset.py (train rows: id, optional
  image, conversations alternating human/gpt, the first human value holding "<image>\\n"; test rows:
  question_id, optional image, text, and answer or, for Grounding, answer_bbox);
  ETrain/Eval/LLaVA/CoIN/model_vqa.py and model_text_vqa.py (the script prepends the image token to
  `text`), model_vqa_science.py (ScienceQA's text may hold "<image>"; rows without image exist);
  create_prompt.py (a test text's last line is its answer-format instruction; every CoIN test row has
  `answer`, Grounding's `answer_bbox`).
- Scoring: ETrain/Eval/LLaVA/CoIN/eval_grounding.py (answer_bbox "[x1, y1, x2, y2]" normalised to the
  image padded to a square, plus `size`; correct when IoU > 0.5), eval_ImagetNet.py (class name; right
  when either string contains the other), eval_ocrvqa.py / eval_vizwiz.py / eval_vqav2.py (one `answer`,
  case-insensitive exact match), eval_textvqa.py (soft accuracy over TextVQA_0.5.1_val.json's 10
  answers), eval_science_qa.py (problems.json option index), eval_gqa.py (GQA testdev questions).
- ImageNet test rows: zackschen/CoIN history, commit fa896c9 results/CoIN/LLaVA-alphabet/ImageNet/OCRVQA/
  Result.text (question_id "ILSVRC2012_val_00030746.JPEG", text "What is the object in the image?\\n
  Answer the question using a single word or phrase.", answer "Dandie dinmont") and results/CoIN/Qwen/
  ImageNet/OCRVQA/Result.text (image "ImageNet_withlabel/val/<file>").
- Third-party users of the files: VincentAshton/CoIN scripts/CoIN_Replay/build_replay_data.py (ScienceQA
  train rows may lack `image`), preflight_data.py and tools/imagenet_extract.py (ImageNet paths under
  ImageNet_withlabel/, 5050 test rows), docs/experiments/coin_replay/analysis/imagenet_round3_diagnostic.md
  (GQA test 12578 rows); an unattributed README of a Qwen conversion of CoIN (ScienceQA train row: image
  "ScienceQA/images/train/1/image.png", "Which of these states is farthest north?\\nA. West Virginia\\n...
  \\nAnswer with the option's letter from the given choices directly." -> "A").
Not verified (no file content seen): the wording of the Grounding, TextVQA, GQA, VizWiz, VQAv2 and OCR-VQA
instructions, whether ScienceQA hints appear as a "Context: " line, whether test `answer` of ScienceQA is
the letter or the option text (both accepted), and whether training conversations are multi-turn (handled:
one row per turn).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .common import LETTERS, HubDataset, HubSplit, answered_row, letter

COIN_HUB_ID = "Zacks-Chen/CoIN"
COIN_REVISION = "232280836c44afcdf047fddc65c78553912bbbd3"  # the commit that uploaded Instructions_Original
VARIANT = "Instructions_Original"  # CoIN's default instruction set (Diverse / 10Type are the ablations)
ROOT_ENV, IMAGE_ENV = "COIN_ROOT", "COIN_IMAGE_ROOT"
REVISION_FILE = ".coin_revision"  # written by download_instructions: which hub commit the copy is
COLUMNS = ("id", "image", "prompt", "answers", "source")

IMAGE_MARKER = "<image>"
# Answer-format lines CoIN's Original instructions end with (LLaVA-1.5's), removed from the question: the
# backbone's prompt template writes its own (prompts.py). Removed from the end only, repeatedly.
FORMAT_LINES = (
    "Answer the question using a single word or phrase.",
    "Answer with the option's letter from the given choices directly.",
    "When the provided information is insufficient, respond with 'Unanswerable'.",
)
_OPTION = re.compile(r"([A-Z])\.\s+(.*)")
_CONTEXT = "Context:"
_OCR = "Reference OCR token:"


# ------------------------------------------------------------------------------------------ reading


def coin_loader(root=None, images=None, fallback: Callable | None = None) -> Callable:
    """A `load` for prepare_hub_tasks: CoIN's files from the local copy, any other dataset from `fallback`
    (default: the hub). root/images default to $COIN_ROOT and $COIN_IMAGE_ROOT (else <root>/cl_dataset),
    read when a CoIN file is first asked for, so a run without CoIN tasks needs neither."""

    def load(hub_id, config, split, revision=None):
        if hub_id != COIN_HUB_ID:
            if fallback is not None:
                return fallback(hub_id, config, split, revision)
            # imported here, not at the top: prepare imports the registry, which imports this module
            from .prepare import load_from_hub

            return load_from_hub(hub_id, config, split, revision)
        base = _root(root)
        return load_coin_file(base, config, split, revision=revision, images=_images(base, images))

    return load


def _root(root) -> Path:
    value = root if root is not None else os.environ.get(ROOT_ENV)
    if not value:
        raise FileNotFoundError(
            f"CoIN tasks read a local copy of {COIN_HUB_ID}: set ${ROOT_ENV} (or pass root=) to the "
            f"directory holding {VARIANT}/ and cl_dataset/; fetch the instructions with "
            f"`python -m mllm_forgetting.data.hub.coin download <dir>` and organise the images as CoIN's "
            f"README says"
        )
    return Path(value)


def _images(root: Path, images) -> Path:
    value = images if images is not None else os.environ.get(IMAGE_ENV)
    return Path(value) if value else root / "cl_dataset"


def load_coin_file(root, config: str, split: str, revision=None, images=None):
    """<root>/<config>/<split>.json as a datasets.Dataset of {id, image, prompt, answers, source}, a row
    per answered turn. A malformed file or row raises ValueError naming the file and the row."""
    import datasets  # not at import: loading a config reads the registry and must stay light

    root = Path(root)
    _check_revision(root, revision)
    path = root / config / f"{split}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no CoIN file {path} (hub file {config}/{split}.json of {COIN_HUB_ID}); "
            f"download it with `python -m mllm_forgetting.data.hub.coin download {root}`"
        )
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a JSON file ({err})") from err
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON array of rows, got {type(entries).__name__}")
    image_root = Path(images) if images is not None else root / "cl_dataset"
    rows = []
    for index, entry in enumerate(entries):
        where = f"{path} row {index}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected an object, got {type(entry).__name__}")
        image = _image_path(entry, where, image_root)
        found = (
            _train_rows(entry, where, image) if "conversations" in entry else [_test_row(entry, where, image)]
        )
        rows += [
            dict(r, row=str(index) if len(found) == 1 else f"{index}-{n + 1}") for n, r in enumerate(found)
        ]
    _unique_ids(rows)
    columns = {c: [r[c] for r in rows] for c in COLUMNS}
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "answers": datasets.List(datasets.Value("string")),
            "source": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(columns, features=features)


def _check_revision(root: Path, revision) -> None:
    marker = root / REVISION_FILE
    if revision is None or not marker.is_file():
        return  # a copy assembled by hand: nothing to compare
    found = marker.read_text().strip()
    if found != revision:
        raise ValueError(
            f"{root} holds {COIN_HUB_ID} at revision {found}, but the adapters are pinned to {revision}; "
            f"download that revision (`python -m mllm_forgetting.data.hub.coin download {root}`)"
        )


def _native_id(entry: dict, where: str, key: str) -> str:
    value = entry.get(key)
    if value is None or str(value).strip() == "":
        raise ValueError(f"{where}: no {key!r}")
    return str(value).strip()


def _image_path(entry: dict, where: str, image_root: Path) -> str | None:
    image = entry.get("image")
    if image is None or image == "":
        return None  # a text-only question (ScienceQA has them): convert skips it
    if not isinstance(image, str):
        raise ValueError(f"{where}: 'image' must be a path string, got {type(image).__name__}")
    return str(image_root / image)


def _train_rows(entry: dict, where: str, image) -> list[dict]:
    """A LLaVA conversation: one row per (human, gpt) pair; a multi-turn one's ids get -1, -2, ..."""
    turns = entry["conversations"]
    if not isinstance(turns, list) or len(turns) < 2 or len(turns) % 2:
        raise ValueError(f"{where}: 'conversations' must be a list of human/gpt pairs")
    for k, turn in enumerate(turns):
        expected = "human" if k % 2 == 0 else "gpt"
        if (
            not isinstance(turn, dict)
            or turn.get("from") != expected
            or not isinstance(turn.get("value"), str)
        ):
            raise ValueError(
                f"{where}: conversations[{k}] must be {{'from': {expected!r}, 'value': <text>}}, got {turn!r}"
            )
    native = _native_id(entry, where, "id" if "id" in entry else "question_id")
    pairs = [(turns[k]["value"], turns[k + 1]["value"]) for k in range(0, len(turns), 2)]
    return [
        {
            "id": native if len(pairs) == 1 else f"{native}-{n + 1}",
            "image": image,
            "prompt": prompt,
            "answers": [answer],
            "source": where if len(pairs) == 1 else f"{where} turn {n + 1}",
        }
        for n, (prompt, answer) in enumerate(pairs)
    ]


def _test_row(entry: dict, where: str, image) -> dict:
    text = entry.get("text")
    if not isinstance(text, str):
        raise ValueError(f"{where}: neither 'conversations' (a train row) nor a 'text' string (a test row)")
    for key in ("answers", "answer", "answer_bbox"):
        if key in entry:
            value = entry[key]
            break
    else:
        raise ValueError(f"{where}: no 'answer' (or 'answer_bbox')")
    answers = value if isinstance(value, list) else [value]
    if not all(isinstance(a, (str, int, float)) for a in answers):
        raise ValueError(f"{where}: {key!r} must be a string or a list of strings, got {value!r}")
    native = _native_id(entry, where, "question_id")
    return {
        "id": native,
        "image": image,
        "prompt": text,
        "answers": [str(a) for a in answers],
        "source": where,
    }


def _unique_ids(rows: list[dict]) -> None:
    """A file whose ids repeat (one image, several entries) keeps them apart by row number."""
    counts = Counter(r["id"] for r in rows)
    for r in rows:
        if counts[r["id"]] > 1:
            r["id"] = f"{r['id']}-r{r['row']}"


# ------------------------------------------------------------------------------------------ converting


def content_lines(prompt: str) -> list[str]:
    """The instruction's lines without the "<image>" marker and the trailing answer-format lines."""
    lines = [line.strip() for line in prompt.replace(IMAGE_MARKER, "").strip().split("\n")]
    lines = [line for line in lines if line]
    while lines and lines[-1] in FORMAT_LINES:
        lines.pop()
    return lines


def _image(row: dict) -> str | None:
    path = row["image"]
    if path is not None and not Path(path).is_file():
        raise FileNotFoundError(
            f"{row['source']}: image {path} is missing; CoIN's images are the source datasets' own, "
            f"organised under cl_dataset/ as CoIN's README says (or set ${IMAGE_ENV})"
        )
    return path


def convert_open(row: dict) -> dict | None:
    """A short-answer task: the question is the instruction's content; a TextVQA-style OCR line is context."""
    if row["image"] is None:
        return None
    lines = content_lines(row["prompt"])
    context = [line for line in lines if line.startswith(_OCR)]
    question = "\n".join(line for line in lines if not line.startswith(_OCR))
    if not question:
        raise ValueError(f"{row['source']}: the instruction holds no question: {row['prompt']!r}")
    return answered_row(row["id"], _image(row), question, row["answers"], context="\n".join(context))


def convert_scienceqa(row: dict) -> dict | None:
    """ "[Context: ...]\\n<question>\\nA. ...\\nB. ..." (+ the letter instruction) -> context, question,
    options; the answer is the option's letter (a test row's option text is turned into its letter)."""
    if row["image"] is None:  # CoIN keeps ScienceQA's text-only questions; the common schema needs an image
        return None
    lines = content_lines(row["prompt"])
    start = len(lines)
    while start > 0 and _OPTION.fullmatch(lines[start - 1]):
        start -= 1
    options = [_OPTION.fullmatch(line).group(2).strip() for line in lines[start:]]
    letters = [_OPTION.fullmatch(line).group(1) for line in lines[start:]]
    if len(options) < 2 or "".join(letters) != LETTERS[: len(options)]:
        raise ValueError(
            f"{row['source']}: coin_scienceqa expects option lines 'A. ...', 'B. ...' after the question, "
            f"got {row['prompt']!r}"
        )
    body = lines[:start]
    context = ""
    if body and body[0].startswith(_CONTEXT):
        context = body.pop(0)[len(_CONTEXT) :].strip()
    question = "\n".join(body)
    if not question:
        raise ValueError(f"{row['source']}: no question before the options: {row['prompt']!r}")
    answers = [_option_letter(a, options, row) for a in row["answers"]]
    return answered_row(row["id"], _image(row), question, answers, context=context, options=options)


def _option_letter(answer: str, options: list[str], row: dict) -> str:
    text = answer.strip()
    match = re.fullmatch(r"(?:The answer is\s+)?\(?([A-Z])\)?(?:\.\s.*|\.)?", text)
    if match and match.group(1) in LETTERS[: len(options)]:
        return match.group(1)
    if text in options:
        return letter(options.index(text))
    raise ValueError(f"{row['source']}: answer {answer!r} is neither an option letter nor one of {options}")


# ------------------------------------------------------------------------------------------ tasks


def _task(name, folder, kind, test_file, convert=convert_open, notes="") -> HubDataset:
    return HubDataset(
        name=name,
        hub_id=COIN_HUB_ID,
        config=f"{VARIANT}/{folder}",
        kind=kind,
        # val: a held-out slice of CoIN's train.json (prepare draws val first, disjoint from train)
        splits={"train": HubSplit("train"), "val": HubSplit("train"), "test": HubSplit(test_file)},
        convert=convert,
        columns=COLUMNS,
        revision=COIN_REVISION,
        notes=f"CoIN {folder}: train/val from {VARIANT}/{folder}/train.json, test {test_file}.json; "
        f"read by coin_loader from a local copy (images under cl_dataset/). {notes}".strip(),
    )


COIN_SCIENCEQA = _task(
    "coin_scienceqa",
    "ScienceQA",
    "multiple_choice",
    "test",
    convert_scienceqa,
    "Text-only questions (no image) are dropped; CoIN scores the option letter against problems.json.",
)
COIN_TEXTVQA = _task(
    "coin_textvqa",
    "TextVQA",
    "open",
    "val",
    notes="Exact match against the file's answer(s); CoIN reports soft accuracy over the 10 answers of "
    "TextVQA_0.5.1_val.json, which the instruction file does not hold. An OCR-token line is context.",
)
COIN_IMAGENET = _task(
    "coin_imagenet",
    "ImageNet",
    "open",
    "test",
    notes="Answer: the class name. Exact match; CoIN counts a prediction right when it contains the class "
    "name or is contained in it.",
)
COIN_GQA = _task("coin_gqa", "GQA", "open", "test", notes="Exact match (CoIN: GQA testdev accuracy).")
COIN_VIZWIZ = _task(
    "coin_vizwiz",
    "VizWiz",
    "open",
    "val",
    notes="One answer per question (CoIN: case-insensitive exact match), 'unanswerable' included.",
)
COIN_GROUNDING = _task(
    "coin_grounding",
    "Grounding",
    "open",
    "test",
    notes="RefCOCO/+/g referring expressions; the answer is the box string '[x1, y1, x2, y2]', normalised "
    "to the image padded to a square. Scored here by exact match of that string as a stand-in: CoIN "
    "counts a box right when IoU > 0.5 (eval_grounding.py), a metric this repository has not got.",
)
COIN_VQAV2 = _task(
    "coin_vqav2",
    "VQAv2",
    "open",
    "val",
    notes="One answer per question (CoIN: case-insensitive exact match, not VQA soft accuracy).",
)
COIN_OCRVQA = _task(
    "coin_ocrvqa",
    "OCRVQA",
    "open",
    "test",
    notes="Book covers; one answer per question (CoIN: case-insensitive exact match).",
)

# CoIN's training order (scripts/LLaVA/Train/1_Science.sh ... 8_OCRVQA.sh)
COIN_TASKS = (
    COIN_SCIENCEQA,
    COIN_TEXTVQA,
    COIN_IMAGENET,
    COIN_GQA,
    COIN_VIZWIZ,
    COIN_GROUNDING,
    COIN_VQAV2,
    COIN_OCRVQA,
)
COIN_SEQUENCE = tuple(t.name for t in COIN_TASKS)


# ------------------------------------------------------------------------------------------ fetching


def download_instructions(root, revision: str = COIN_REVISION) -> Path:
    """Fetch CoIN's Original instruction files at the pinned revision into <root>/ (on the submitting
    host: it needs the network), and record the revision for the loader to check. The images are not on
    the hub."""
    from huggingface_hub import snapshot_download

    root = Path(root)
    snapshot_download(
        repo_id=COIN_HUB_ID,
        repo_type="dataset",
        revision=revision,
        local_dir=str(root),
        allow_patterns=[f"{VARIANT}/*/*.json"],
    )
    (root / REVISION_FILE).write_text(revision + "\n")
    return root


if __name__ == "__main__":  # python -m mllm_forgetting.data.hub.coin download <dir> [revision]
    import sys

    if len(sys.argv) not in (3, 4) or sys.argv[1] != "download":
        sys.exit("usage: python -m mllm_forgetting.data.hub.coin download <dir> [revision]")
    print(download_instructions(*sys.argv[2:]))
