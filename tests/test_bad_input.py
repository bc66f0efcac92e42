"""Bad input of every kind ends in one line, `error: <cell or step>: <cause>`: no traceback, hang or wrong
result.

One case per script and kind of failure runs the real script as a process (two at a time: they are
import-bound), on a tiny benchmark and unpretrained tiny checkpoints; a full disk is injected by a few lines
of Python run before the script in its process. Config mistakes go through a Snakemake dry run. The other
cells run in this process through cli.run, exactly as scripts/train.py calls it, and the checks behind the
messages are tested directly, where they are cheap.
"""

import copy
import dataclasses
import errno
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml
from conftest import REPO, SMOKE, copy_workflow, evaluate_spec_for, smoke_config, train_spec_for
from mllm_forgetting.data.benchmark import (
    FEATURES,
    PREPARE_HINT,
    build_benchmark,
    load_split,
    read_vocabulary,
)
from mllm_forgetting.files import atomic_output
from mllm_forgetting.methods import METHODS
from mllm_forgetting.models.loading import check_checkpoint
from mllm_forgetting.models.registry import ARCHITECTURES, build_backbone
from mllm_forgetting.spec import pretrain_spec, to_json
from mllm_forgetting.steps.common import UNTUNED, save_npz

pytestmark = pytest.mark.faults

CONFIG = smoke_config()
LLAVA, RESAMPLER = CONFIG.backbones["tiny-llava"], CONFIG.backbones["tiny-resampler"]
CELL = "tiny-llava/okvqa/m/seed0"
TRAINING = {"steps": 2, "batch_size": 2}
# `python -c RUNNER PATCH SCRIPT ARGS...`: run PATCH, then SCRIPT as __main__ with its own argv
RUNNER = (
    "import runpy, sys; exec(sys.argv[1]); sys.argv = sys.argv[2:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)
# A disk that fills up half-way through writing train.json, or the representations of evaluate.
FULL_DISK_JSON = """
import errno, pathlib
_write_text = pathlib.Path.write_text
def write_text(self, data, *args, **kwargs):
    if self.name.startswith("train.json"):
        _write_text(self, data[:len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")
    return _write_text(self, data, *args, **kwargs)
pathlib.Path.write_text = write_text
"""
FULL_DISK_NPZ = """
import errno, numpy
def savez_compressed(file, *args, **kwargs):
    file.write(b"PK half an archive")
    raise OSError(errno.ENOSPC, "No space left on device")
numpy.savez_compressed = savez_compressed
"""


# ------------------------------------------------------------------------------------------- inputs


def save_checkpoint(cfg, words, out):
    model, processor = build_backbone(cfg.architecture, cfg.size, words)
    model.save_pretrained(out)
    processor.save_pretrained(out)


def rewrite_split(data, task, split, edit):
    """Replace a split by an edited copy of its rows (as stored: images stay bytes)."""
    rows = load_split(data, task, split).data.table.to_pylist()
    edit(rows)
    shutil.rmtree(data / task / split)
    datasets.Dataset.from_list(rows, features=FEATURES).save_to_disk(str(data / task / split))


def bad_copy(world, name, edit):
    shutil.copytree(world / "data", world / name)
    edit(world / name)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny benchmark (vqa, okvqa), broken copies of it, unpretrained checkpoints of both smoke backbones
    and a zero-shot cell's train outputs (train.json, model/ pointing at phi) for evaluate."""
    root = tmp_path_factory.mktemp("bad_input")
    build_benchmark(
        root / "data",
        ["vqa", "okvqa"],
        {"train": 4, "val": 2, "test": 4},
        seed=0,
        progress=False,
        probe_sizes={"train": 4, "test": 4},
    )
    words = read_vocabulary(root / "data") + CONFIG.prompt_of("tiny-llava").words()
    save_checkpoint(LLAVA, words, root / "llava")
    save_checkpoint(RESAMPLER, words, root / "resampler")
    arrow = (root / "data/okvqa/train/data-00000-of-00001.arrow").read_bytes()
    name = "okvqa/train/data-00000-of-00001.arrow"
    bad_copy(root, "truncated", lambda d: (d / name).write_bytes(arrow[: len(arrow) // 2]))
    bad_copy(root, "garbage", lambda d: (d / name).write_bytes(np.random.default_rng(0).bytes(len(arrow))))
    bad_copy(
        root,
        "no_image",
        lambda d: rewrite_split(d, "okvqa", "train", lambda rows: rows[2].update(image=None)),
    )
    summary = {
        "backbone": "tiny-llava",
        "target": "okvqa",
        "method": "m",
        "seed": 0,
        "method_type": "zero_shot",
        "label": "Zero-shot",
        "options": {},
        "trainable_params": 0,
        "steps": 0,
        "mlflow_run_id": None,
    }
    (root / "zero_shot/model").mkdir(parents=True)
    (root / "zero_shot/train.json").write_text(json.dumps(summary))
    (root / "zero_shot/model" / UNTUNED).write_text(json.dumps({"pretrained": str(root / "llava")}))
    return root


def cell_spec(*, target="okvqa", method=None, training=TRAINING, edit=None) -> str:
    """The TrainSpec JSON of tiny-llava/<target>/m/seed0 (method entry `method`, default finetune); `edit`
    may change the plain spec afterwards, as a hand-edited or stale spec would be."""
    spec = json.loads(
        to_json(
            train_spec_for(
                "tiny-llava", "m", target=target, entry=method or {"type": "finetune"}, training=training
            )
        )
    )
    if edit:
        edit(spec)
    return json.dumps(spec)


def train_args(world, name, *, data="data", method=None, training=TRAINING):
    return [
        "scripts/train.py",
        "--spec",
        cell_spec(method=method, training=training),
        "--data",
        world / data,
        "--pretrained",
        world / "llava",
        "--out",
        world / "out" / name,
        "--results",
        world / "results" / name,
        "--threads",
        1,
        "--checkpoint-every",
        50,
    ]


def unknown_architecture_spec() -> str:
    """tiny-llava's PretrainSpec renamed tiny-llama, its architecture one no registry knows."""
    spec = json.loads(to_json(pretrain_spec(CONFIG, "tiny-llava")))
    spec["backbone_name"], spec["backbone"]["architecture"] = "tiny-llama", "llama"
    return json.dumps(spec)


def script_cases(world):
    """name -> (patch run first, script and arguments): one case per script and kind of failure."""
    return {
        "unknown_architecture": (
            "",
            [
                "scripts/pretrain.py",
                "--spec",
                unknown_architecture_spec(),
                "--data",
                world / "data",
                "--out",
                world / "out" / "pretrain",
                "--state-dir",
                world / "out" / "pretrain_state",
                "--threads",
                1,
                "--checkpoint-every",
                0,
            ],
        ),
        "truncated": ("", train_args(world, "truncated", data="truncated")),
        "non_finite": ("", train_args(world, "non_finite", training={**TRAINING, "steps": 4, "lr": 1e30})),
        "full_disk_train": (
            FULL_DISK_JSON,
            train_args(world, "full_disk_train", method={"type": "zero_shot"}),
        ),
        "full_disk_evaluate": (
            FULL_DISK_NPZ,
            [
                "scripts/evaluate.py",
                "--spec",
                to_json(
                    evaluate_spec_for(
                        "tiny-llava",
                        "m",
                        target="okvqa",
                        seed=0,
                        pretrain_tasks=["vqa"],
                        evaluation={"batch_size": 4, "representation_layer": -1, "erank": {}},
                    )
                ),
                "--data",
                world / "data",
                "--pretrained",
                world / "llava",
                "--model",
                world / "zero_shot" / "model",
                "--train-json",
                world / "zero_shot" / "train.json",
                "--out",
                world / "out" / "evaluate",
                "--results",
                world / "results" / "evaluate",
                "--threads",
                1,
            ],
        ),
    }


# config edit -> the one line the dry run must print, `error: <this>` (test_workflow.py has an unknown
# top-level target and alpha > 1)
CONFIG_CASES = {
    "architecture": (
        lambda c: c["backbones"]["tiny-llava"].update(architecture="llama"),
        "backbones.tiny-llava: unknown architecture 'llama' (did you mean 'llava'? "
        "valid: llava, idefics2, qwen2_vl)",
    ),
    "method_type": (
        lambda c: c["methods"]["lora"].update(type="lora2"),
        f"methods.lora: unknown method type 'lora2' (did you mean 'lora'? valid: {', '.join(METHODS)})",
    ),
    "unknown_key": (
        lambda c: c.update(unknown_key=1),
        "config: unknown option 'unknown_key' (valid: data, backbones, targets, methods, training, "
        "evaluation, seeds, threads, checkpoint_every, results, mlflow, prompts, "
        "continual)",
    ),
    "backbone_target": (
        lambda c: c["backbones"]["tiny-resampler"].update(targets=["okvqa", "flickr"]),
        "backbones.tiny-resampler: unknown target 'flickr'; valid (data.target_tasks): caption, okvqa",
    ),
}


@pytest.fixture(scope="module")
def runs(world, tmp_path_factory):
    """Every script case and config dry run, finished; two at a time (they are import-bound)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLLMF_DEBUG", "MLFLOW_TRACKING_URI")}
    jobs = {
        name: ([sys.executable, "-c", RUNNER, patch, *map(str, args)], REPO)
        for name, (patch, args) in script_cases(world).items()
    }
    work = copy_workflow(tmp_path_factory.mktemp("bad_configs"))
    for name, (edit, _) in CONFIG_CASES.items():
        cfg = copy.deepcopy(SMOKE)
        edit(cfg)
        (work / f"config/{name}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
        jobs[name] = (
            [
                sys.executable,
                "-m",
                "snakemake",
                "-n",
                "--configfile",
                f"config/{name}.yaml",
                "--replace-workflow-config",
            ],
            work,
        )

    def run(job):
        args, cwd = job
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(jobs, pool.map(run, jobs.values())))


def error_line(returncode: int, stderr: str, context: str) -> str:
    """The one-line error a script ends with: exit 1, no traceback, last line `error: <context>: ...`."""
    assert returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    last = [line for line in re.split(r"[\r\n]+", stderr) if line.strip()][-1]
    assert last.startswith(f"error: {context}: "), last
    return last


def script_error(proc, context: str) -> str:
    return error_line(proc.returncode, proc.stderr, context)


@pytest.fixture
def tune(world, capsys, monkeypatch):
    """Run one cell as scripts/train.py does (cli.run around from_json and tune_cell, in the spec's context),
    in this process; returns its error line. `edit` changes the plain spec the script is handed."""
    import torch
    from mllm_forgetting.cli import run, spec_context
    from mllm_forgetting.spec import TrainSpec, from_json
    from mllm_forgetting.steps.tune import tune_cell

    monkeypatch.delenv("MLLMF_DEBUG", raising=False)
    threads = torch.get_num_threads()  # tune_cell pins them for the cell; later tests keep theirs

    def tune(name, *, target="okvqa", data="data", pretrained="llava", method=None, edit=None):
        spec = cell_spec(target=target, method=method, edit=edit)

        def main():
            tune_cell(
                from_json(TrainSpec, spec),
                data_dir=str(world / data),
                pretrained_dir=str(world / pretrained),
                out_dir=str(world / "out" / name),
                results_dir=str(world / "results" / name),
                threads=threads,
                checkpoint_every=50,
                track=False,
            )

        context = spec_context(spec, "train")
        assert context == f"cell tiny-llava/{target}/m/seed0", context
        with pytest.raises(SystemExit) as stop:
            run(main, context)
        return error_line(stop.value.code, capsys.readouterr().err, context)

    yield tune
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------- through the scripts


def test_unknown_architecture(runs):
    line = script_error(runs["unknown_architecture"], "pretrain tiny-llama")
    assert line.endswith(
        "unknown architecture 'llama' (did you mean 'llava'? valid: llava, idefics2, qwen2_vl)"
    )
    # the builder's own check, behind the spec's, for a caller that skips the spec
    with pytest.raises(
        ValueError, match=r"^unknown backbone architecture 'llama'; valid: llava, idefics2, qwen2_vl$"
    ):
        build_backbone("llama", LLAVA.size, ["a", "b"])


def test_truncated_dataset_file(runs, world):
    line = script_error(runs["truncated"], f"cell {CELL}")
    assert f"task 'okvqa' split 'train': cannot read {world / 'truncated/okvqa/train'} (" in line
    assert line.endswith(PREPARE_HINT)


def test_non_finite_loss(runs, world):
    line = script_error(runs["non_finite"], f"cell {CELL}")
    assert re.search(
        r"non-finite task loss \((nan|inf|-inf)\) at step \d+; lower the learning rate$", line
    ), line
    assert line.count(CELL) == 1, line  # the loop's label is the cell: not repeated by the script's context
    assert not (world / "out/non_finite/train.json").exists()


def test_full_disk_while_writing_train_json(runs, world):
    out = world / "out/full_disk_train"
    assert script_error(runs["full_disk_train"], f"cell {CELL}").endswith(
        f"No space left on device while writing {out / 'train.json'}"
    )
    # the half-written file is gone, not left for a rerun or a later rule to take as complete
    assert not (out / "train.json").exists() and not (out / "train.json.tmp").exists()
    assert (out / "model" / UNTUNED).exists()  # the failure came at the end: the zero-shot cell had run


def test_full_disk_while_writing_representations(runs, world):
    out = world / "out/evaluate"
    assert script_error(runs["full_disk_evaluate"], f"cell {CELL}").endswith(
        f"No space left on device while writing {out / 'representations.npz'}"
    )
    assert [p.name for p in out.glob("representations*")] == []
    assert not (out / "metrics.json").exists()


@pytest.mark.parametrize("name", list(CONFIG_CASES))
def test_bad_config_names_the_key_and_cause(runs, name):
    proc, message = runs[name], CONFIG_CASES[name][1]
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-3000:]
    # exactly the cause, on one line: not Snakemake's traceback or a dump of the whole schema and config
    assert text.splitlines() == [f"error: {message}"], text[-3000:]


# ------------------------------------------------------------------ through cli.run, as train.py calls it


def test_unknown_task_names_the_prepared_ones(tune, world):
    assert tune("unknown_task", target="nope").endswith(
        f"task 'nope' is not in the prepared data at {world / 'data'} (it holds ['okvqa', 'vqa']); "
        "add it to the config's data tasks and rerun the prepare_data rule"
    )


def test_row_without_image(tune):
    line = tune("no_image", data="no_image")
    assert "task 'okvqa' split 'train': row 2 (id 'okvqa-train-00002') has no image;" in line


def test_checkpoint_of_another_backbone(tune, world):
    assert tune("other_backbone", pretrained="resampler").endswith(
        f"checkpoint {world / 'resampler'} holds a model of type 'idefics2', but the backbone config expects "
        "architecture 'llava'; re-run this backbone's pretrain rule, or point at its own checkpoint"
    )


def test_alpha_outside_the_unit_interval(tune):
    """A spec the config loader never made (hand-edited, from older code) is checked again by the script."""
    line = tune(
        "alpha", method={"type": "mdgd_gm", "alpha": 0.5}, edit=lambda s: s["method"].update(alpha=1.5)
    )
    assert line.endswith("spec.method: alpha must be in (0, 1]; got 1.5"), line


def test_a_failed_retraining_leaves_no_old_scores_behind(tune, world):
    """Scores of the model a forced retraining replaces must not survive its failure: Snakemake would take
    them as current (train.json is gone, metrics.json of the old model stays)."""
    out = world / "out" / "retrained"
    out.mkdir(parents=True)
    for old in ("metrics.json", "representations.npz", "train.json"):
        (out / old).write_text("{}")
    tune("retrained", target="nope")
    assert not (out / "metrics.json").exists() and not (out / "representations.npz").exists()


@contextmanager
def read_only(path: Path):
    """path made unwritable: chmod for a user, the immutable attribute for root (whom chmod does not stop);
    the test is skipped where neither holds."""
    path.mkdir(parents=True)
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
        undo = ["chattr", "-i", str(path)]
    else:
        path.chmod(0o555)
        done, undo = True, ["chmod", "755", str(path)]
    try:
        probe = path / "probe"
        try:
            probe.touch()
            probe.unlink()
            done = False
        except OSError:
            pass
        if not done:
            pytest.skip(f"cannot make {path} read-only here")
        yield path
    finally:
        subprocess.run(undo, capture_output=True)


def test_a_read_only_cell_directory_stops_with_one_line(tune, world):
    """A new cell whose output directory cannot be written: before, a traceback."""
    with read_only(world / "out" / "read_only"):
        line = tune("read_only")
    assert re.search(r"(Permission denied|Operation not permitted) while writing .*read_only/", line), line


def test_a_batch_larger_than_the_split_is_recorded_as_used(world, capsys):
    import torch
    from mllm_forgetting.spec import TrainSpec, from_json
    from mllm_forgetting.steps.tune import tune_cell

    threads = torch.get_num_threads()
    out = world / "out" / "big_batch"
    try:
        summary = tune_cell(
            from_json(TrainSpec, cell_spec(training={"steps": 1, "batch_size": 64})),
            data_dir=str(world / "data"),
            pretrained_dir=str(world / "llava"),
            out_dir=str(out),
            results_dir=str(world / "results" / "big_batch"),
            threads=threads,
            checkpoint_every=0,
            track=False,
        )
    finally:
        torch.set_num_threads(threads)
    assert summary["batch_size"] == 4  # the 4 training rows of the tiny benchmark
    assert json.loads((out / "params.json").read_text())["params"]["effective"] == {"batch_size": 4}
    assert (
        "cell tiny-llava/okvqa/m/seed0: training.batch_size 64 exceeds the 4 training rows of okvqa; every "
        "step uses all 4 (recorded as effective.batch_size)" in capsys.readouterr().err
    )


# ---------------------------------------------------------------------------- the checks in-process


def test_missing_split_and_data_directory(world):
    with pytest.raises(
        FileNotFoundError,
        match=r"no split 'dev' of task 'vqa' at .*vqa/dev; prepare the data again: `snakemake",
    ):
        load_split(world / "data", "vqa", "dev")
    with pytest.raises(
        FileNotFoundError, match=r"no split 'train' of task 'vqa' at .*nowhere/vqa/train; .*prepare"
    ):
        load_split(world / "nowhere", "vqa", "train")


def test_overwritten_dataset_file(world):
    with pytest.raises(
        ValueError, match=r"task 'okvqa' split 'train': cannot read .*garbage/okvqa/train \(\w+: "
    ):
        load_split(world / "garbage", "okvqa", "train")


@pytest.mark.parametrize(
    "row, cause",
    [
        ({"answers": []}, "no answer"),
        ({"answers": ["a cherry", " "]}, "a blank answer"),
        ({"question": None}, "no question"),
        ({"image": None, "answers": [""]}, "no image and a blank answer"),
    ],
)
def test_unusable_row_names_task_split_row_and_cause(tmp_path, world, row, cause):
    data = tmp_path / "data"
    shutil.copytree(world / "data", data)
    rewrite_split(data, "okvqa", "test", lambda rows: (rows[1].update(row), rows[3].update(answers=[])))
    with pytest.raises(
        ValueError,
        match=rf"task 'okvqa' split 'test': row 1 \(id 'okvqa-test-00001'\) has {cause} "
        r"\(2 such rows\); .*`dvc pull`",
    ):
        load_split(data, "okvqa", "test")


def test_several_answers_and_hub_ids_are_fine(tmp_path, world):
    data = tmp_path / "data"
    shutil.copytree(world / "data", data)
    captions = ["a red circle", "a circle at the top left"] * 5
    rewrite_split(
        data,
        "okvqa",
        "test",
        lambda rows: [r.update(id=f"okvqa-{i}", answers=captions) for i, r in enumerate(rows)],
    )
    assert load_split(data, "okvqa", "test")[3]["answers"] == captions


def test_hub_preparation_drops_blank_answers(tmp_path):
    """Real sources may hold blank answers: the preparer leaves them out, so what it writes always loads."""
    from test_hub_datasets import IMAGE, FakeHub, S, build, picture, table, vqav2

    blank_first = table(
        {"image": IMAGE, "question": S, "answer": S},
        [
            {"image": picture(i), "question": "what is present?", "answer": " " if i < 5 else "necrosis"}
            for i in range(10)
        ],
    )
    one_blank = vqav2().map(
        lambda r: {"answers": [{**a, "answer": ""} if k == 3 else a for k, a in enumerate(r["answers"])]}
    )
    hub = FakeHub(
        {
            ("flaviagiammarino/path-vqa", None, "test"): blank_first,
            ("lmms-lab/VQAv2", None, "validation"): one_blank,
        }
    )
    out, manifest, _ = build(tmp_path, ["pathvqa", "vqav2"], sizes={"test": 3}, hub=hub)
    assert [r["answers"] for r in load_split(out, "pathvqa", "test")] == [["necrosis"]] * 3
    assert all(len(r["answers"]) == 9 and "" not in r["answers"] for r in load_split(out, "vqav2", "test"))


@pytest.mark.parametrize("name", list(SMOKE["backbones"]) + ["qwen2_vl"])
def test_checkpoint_size_is_checked_key_by_key(tmp_path, world, name):
    cfg = CONFIG.backbones.get(name) or dataclasses.replace(
        LLAVA,
        architecture=name,
        size=ARCHITECTURES[name].size(
            vision_hidden=32,
            vision_layers=1,
            text_hidden=64,
            text_layers=2,
            heads=2,
            image_size=32,
            patch_size=8,
        ),
    )
    model, _ = build_backbone(cfg.architecture, cfg.size, ["a", "b"])
    model.config.save_pretrained(tmp_path)  # the config is all the check reads
    check_checkpoint(tmp_path, cfg)
    for key in [f.name for f in dataclasses.fields(cfg.size)]:  # every key of the size, defaults included
        if key != "image_size" or name != "qwen2_vl":  # Qwen2-VL's image size is its processor's pixel budget
            value = getattr(cfg.size, key)
            wrong = dataclasses.replace(cfg, size=dataclasses.replace(cfg.size, **{key: value * 2}))
            with pytest.raises(
                ValueError,
                match=rf"checkpoint {re.escape(str(tmp_path))} does not have the "
                rf"backbone config's size: expected {key} {value * 2} \(found [a-z_.]+ = {value}\)",
            ):
                check_checkpoint(tmp_path, wrong)


def test_damaged_checkpoint(tmp_path, world):
    from mllm_forgetting.steps.common import load_model

    shutil.copytree(world / "llava", tmp_path / "ckpt")
    weights = tmp_path / "ckpt/model.safetensors"
    weights.write_bytes(
        weights.read_bytes()[: weights.stat().st_size // 2]
    )  # a save cut short by a full disk
    with pytest.raises(
        ValueError,
        match=rf"checkpoint {re.escape(str(tmp_path / 'ckpt'))} is damaged "
        r"\(SafetensorError: .*\); delete it and rerun the step that wrote it",
    ):
        load_model(tmp_path / "ckpt", LLAVA, "cpu")
    (tmp_path / "ckpt/config.json").write_text('{"model_type": "lla')
    with pytest.raises(ValueError, match=r"is damaged \(JSONDecodeError"):
        load_model(tmp_path / "ckpt", LLAVA, "cpu")


def test_atomic_outputs_leave_nothing_behind_a_failed_write(tmp_path):
    (tmp_path / "old.npz").write_bytes(b"the previous, complete run")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with atomic_output(tmp_path / "old.npz") as tmp:
            tmp.write_bytes(b"half")
            raise Boom
    assert [p.name for p in tmp_path.iterdir()] == ["old.npz"]
    save_npz(tmp_path / "new.npz", {"x": np.arange(3)})  # through a file object: no "new.npz.tmp.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.npz", "old.npz"]
    assert np.load(tmp_path / "new.npz")["x"].tolist() == [0, 1, 2]


def test_cli_describes_os_errors_and_missing_keys(capsys, monkeypatch):
    from mllm_forgetting.cli import run

    monkeypatch.delenv("MLLMF_DEBUG", raising=False)
    for err, expected in [
        (PermissionError(errno.EACCES, "Permission denied", "/x/y"), "Permission denied: /x/y"),
        (KeyError("prompt"), "missing key 'prompt'"),
        (ValueError("first line\n  second line"), "first line second line"),
    ]:

        def fail(err=err):
            raise err

        with pytest.raises(SystemExit) as stop:
            run(fail, "cell a/b/c/seed0")
        assert stop.value.code == 1
        assert capsys.readouterr().err == f"error: cell a/b/c/seed0: {expected}\n"


# ------------------------------------------------------------------------------------------ configs


def test_schema_names_every_architecture_and_method_type():
    schema = yaml.safe_load((REPO / "config/schema.yaml").read_text())
    backbone = schema["properties"]["backbones"]["additionalProperties"]["properties"]
    method = schema["properties"]["methods"]["additionalProperties"]["properties"]
    assert sorted(a for a in backbone["architecture"]["enum"] if a is not None) == sorted(ARCHITECTURES)
    assert sorted(method["type"]["enum"]) == sorted(METHODS)
