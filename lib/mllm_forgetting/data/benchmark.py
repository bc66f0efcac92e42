"""Build the benchmark as Hugging Face datasets on disk, and load it back.

Layout: out_dir/<task>/ (DatasetDict, one shard per split), out_dir/vocab.txt, out_dir/manifest.json.
Same arguments -> byte-identical files (DVC hashes the directory), so every rng and fingerprint
is derived from the arguments only.
"""

import hashlib
import io
import json
import re
import shutil
import zlib
from contextlib import contextmanager
from pathlib import Path

import datasets
import numpy as np
import pyarrow.compute as pc
from tqdm.auto import tqdm

from .tasks import TASKS

# The common schema of every task: content only (the backbone's prompt template writes it out).
# context: text the question relies on ("" without); options: a multiple-choice question's options, whose
# letters (A, B, ... in order) the answers give; answers: every accepted answer or reference caption.
FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "image": datasets.Image(),
        "question": datasets.Value("string"),
        "context": datasets.Value("string"),
        "options": datasets.List(datasets.Value("string")),
        "answers": datasets.List(datasets.Value("string")),
        "task": datasets.Value("string"),
        "kind": datasets.Value("string"),
    }
)
# Snakemake takes an existing data directory as up to date however incomplete it is: the rule must be forced.
PREPARE_HINT = (
    "prepare the data again: `snakemake prepare_data --force --cores 1` (add `--configfile` for a config "
    "other than config/config.yaml), or restore the versioned copy with `dvc pull`"
)
_TEXT = re.compile(r"[a-z0-9]+( [a-z0-9]+)*")  # word-level tokenizer: no punctuation, single spaces


def check_tasks(tasks) -> None:
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; valid tasks: {sorted(TASKS)}")


def png_bytes(img) -> bytes:
    """A PIL image as PNG with fixed settings, so the same image always gives the same bytes."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def fixed_fingerprint(parts) -> str:
    """A dataset fingerprint derived from the arguments that made it. datasets otherwise draws a
    random one, which lands in state.json and changes the files (and DVC's hash) on every build."""
    return hashlib.sha256(json.dumps(parts, default=repr).encode()).hexdigest()[:16]


@contextmanager
def quiet_datasets():
    """datasets' own bars off while our per-task bar runs (save_to_disk's and map's would interleave)."""
    bars_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if bars_on:
            datasets.enable_progress_bars()


def _check_text(task: str, s: str, may_be_empty: bool = False) -> str:
    if not (_TEXT.fullmatch(s) or (may_be_empty and s == "")):
        raise ValueError(f"{task}: text breaks the lowercase [a-z0-9] word rule: {s!r}")
    return s


def build_split(task: str, split: str, n: int, seed: int, image_size: int = 32) -> datasets.Dataset:
    """Generate one (task, split) as an in-memory Dataset with a deterministic fingerprint."""
    check_tasks([task])
    spec = TASKS[task]
    # crc32, not hash(): Python's str hash is salted per process
    ss = np.random.SeedSequence([seed, zlib.crc32(task.encode()), zlib.crc32(split.encode())])
    rows = spec.generate(np.random.default_rng(ss), n, split, image_size)
    cols = {
        "id": [f"{task}-{split}-{i:05d}" for i in range(len(rows))],
        "image": [{"bytes": png_bytes(r["image"]), "path": None} for r in rows],
        "question": [_check_text(task, r["question"], may_be_empty=True) for r in rows],
        "context": [_check_text(task, r.get("context", ""), may_be_empty=True) for r in rows],
        "options": [[_check_text(task, o) for o in r.get("options", [])] for r in rows],
        "answers": [[_check_text(task, a) for a in r["answers"]] for r in rows],
        "task": [task] * len(rows),
        "kind": [spec.kind] * len(rows),
    }
    ds = datasets.Dataset.from_dict(cols, features=FEATURES)
    return datasets.Dataset(
        ds.data, info=ds.info, fingerprint=fixed_fingerprint([task, split, n, seed, image_size])
    )


def build_benchmark(
    out_dir,
    tasks: list[str],
    sizes: dict[str, int],
    seed: int,
    image_size: int = 32,
    progress: bool = True,
    probe_sizes: dict[str, int] | None = None,
) -> None:
    """Write every task's splits, plus the shared vocabulary and a manifest, under out_dir; with
    `probe_sizes` ({train: n, test: n} images per attribute) the probe sets too (data/probes.py)."""
    check_tasks(tasks)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    words: set[str] = set()
    with quiet_datasets():
        for task in tasks:
            bar = tqdm(total=sum(sizes.values()), desc=f"build {task}", disable=not progress)
            splits = {}
            for split, n in sizes.items():
                splits[split] = ds = build_split(task, split, n, seed, image_size)
                texts = list(ds["question"]) + list(ds["context"])
                texts += [t for column in ("options", "answers") for values in ds[column] for t in values]
                for text in texts:
                    words.update(text.split())
                bar.update(n)
            bar.close()
            shutil.rmtree(out / task, ignore_errors=True)  # no stale splits from an earlier build
            datasets.DatasetDict(splits).save_to_disk(str(out / task), num_shards={s: 1 for s in splits})
        from .probes import PROBE_DIR, build_probes

        shutil.rmtree(out / PROBE_DIR, ignore_errors=True)  # no stale probe sets from an earlier build
        if probe_sizes is not None:
            build_probes(out, probe_sizes, seed=seed, image_size=image_size)
    (out / "vocab.txt").write_text("".join(w + "\n" for w in sorted(words)))
    manifest = {
        "seed": seed,
        "image_size": image_size,
        "sizes": dict(sizes),
        "tasks": {t: TASKS[t].kind for t in tasks},
        "probes": dict(probe_sizes) if probe_sizes is not None else None,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def load_split(data_dir, task: str, split: str) -> datasets.Dataset:
    """A prepared split. Missing, unreadable or unusable data raises one message naming task, split,
    path (or row) and the fix, instead of pyarrow's or datasets' own errors."""
    path = Path(data_dir) / task / split
    if not path.is_dir():
        tasks = _prepared_tasks(data_dir)
        if tasks is not None and task not in tasks:
            raise FileNotFoundError(
                f"task {task!r} is not in the prepared data at {data_dir} (it holds {tasks}); "
                f"add it to the config's data tasks and rerun the prepare_data rule"
            )
        raise FileNotFoundError(f"no split {split!r} of task {task!r} at {path}; {PREPARE_HINT}")
    try:
        ds = datasets.load_from_disk(str(path))
    except (
        Exception
    ) as err:  # a truncated or overwritten file fails in pyarrow, json or the OS: all mean "unreadable"
        raise ValueError(
            f"task {task!r} split {split!r}: cannot read {path} ({type(err).__name__}: {err}); {PREPARE_HINT}"
        ) from err
    check_rows(ds, task, split)
    return ds


def _prepared_tasks(data_dir) -> list[str] | None:
    """The tasks the data directory's manifest lists (None when there is no readable manifest)."""
    try:
        return sorted(json.loads((Path(data_dir) / "manifest.json").read_text())["tasks"])
    except (OSError, ValueError, KeyError):
        return None


def check_rows(ds: datasets.Dataset, task: str, split: str) -> None:
    """Refuse rows no model can use: no image, no question, no answer or a blank one (a caption has several
    answers, all non-blank). Checked on the Arrow columns, so no image is decoded."""
    missing = [c for c in FEATURES if c not in ds.column_names]
    if missing:
        raise ValueError(f"task {task!r} split {split!r} lacks column(s) {missing}; {PREPARE_HINT}")
    table = ds.data.table
    image, answers = table.column("image"), table.column("answers")
    blank = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(pc.list_flatten(answers))), 0), True)
    problems = {
        "no image": pc.and_(
            pc.is_null(pc.struct_field(image, "bytes")), pc.is_null(pc.struct_field(image, "path"))
        ),
        "no question": pc.is_null(table.column("question")),
        "no answer": pc.equal(pc.fill_null(pc.list_value_length(answers), 0), 0),
    }
    bad = {
        cause: set(np.flatnonzero(mask.to_numpy(zero_copy_only=False))) for cause, mask in problems.items()
    }
    bad["a blank answer"] = set(
        pc.list_parent_indices(answers).to_numpy()[blank.to_numpy(zero_copy_only=False)]
    )
    rows = sorted(set().union(*bad.values()))
    if rows:
        first = int(rows[0])
        causes = " and ".join(cause for cause, found in bad.items() if first in found)
        more = f" ({len(rows)} such rows)" if len(rows) > 1 else ""
        raise ValueError(
            f"task {task!r} split {split!r}: row {first} (id {table.column('id')[first].as_py()!r}) "
            f"has {causes}{more}; the data is damaged or badly prepared: {PREPARE_HINT}"
        )


def read_vocabulary(data_dir) -> list[str]:
    path = Path(data_dir) / "vocab.txt"
    if not path.is_file():
        raise FileNotFoundError(f"no vocabulary at {path}; {PREPARE_HINT}")
    return path.read_text().split()
