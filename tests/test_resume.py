"""Cells killed mid-training resume bitwise; the same seed gives the same metrics; Snakemake keeps one writer.

Training runs as the real script (train.py) in its own process, as Snakemake runs it, so it can be killed;
evaluation runs in-process (the same evaluate_cell that scripts/evaluate.py calls).
"""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import (
    REPO,
    SMOKE,
    SMOKE_RESULTS,
    copy_workflow,
    evaluate_spec_for,
    script,
    smoke_config,
    snakemake,
    train_spec_for,
)
from mllm_forgetting.spec import pretrain_spec, to_json
from mllm_forgetting.steps.evaluate import evaluate_cell

pytestmark = pytest.mark.faults
CELL_STEPS = 30  # long enough to be killed mid-run, short enough for CI
TRAINING = {**SMOKE["training"], "steps": CELL_STEPS}
EVERY = 4


def cell_args(inputs, method, out, tracking=None, training=TRAINING):
    """train.py's arguments; tracking: a results directory whose MLflow store the cell logs to (None: none);
    training: the smoke training block with CELL_STEPS steps, or a changed one."""
    data, pretrained, _ = inputs
    spec = train_spec_for("tiny-llava", method, target="okvqa", seed=0, training=training)
    return [
        "--spec",
        to_json(spec),
        "--data",
        data,
        "--pretrained",
        pretrained,
        "--out",
        out,
        "--results",
        tracking or out.parent / "untracked",  # unused with --no-tracking
        "--threads",
        1,
        *([] if tracking else ["--no-tracking"]),
        "--checkpoint-every",
        EVERY,
    ]


def evaluate(inputs, method, out) -> bytes:
    """The cell's metrics.json, evaluated in this process (deterministic given the weights; saves a
    start-up)."""
    data, pretrained, _ = inputs
    threads = torch.get_num_threads()  # evaluate_cell pins them for the cell; later tests keep theirs
    try:
        evaluate_cell(
            evaluate_spec_for("tiny-llava", method, target="okvqa", seed=0),
            data_dir=str(data),
            pretrained_dir=str(pretrained),
            model_dir=str(out / "model"),
            train_json=str(out / "train.json"),
            out_dir=str(out),
            results_dir=str(out.parent / "untracked"),
            threads=1,
            track=False,
        )
    finally:
        torch.set_num_threads(threads)
    return (out / "metrics.json").read_bytes()


def finished_cell(inputs, method, out) -> dict:
    """Train and evaluate one cell uninterrupted; the bytes of everything it produced."""
    script("train.py", *cell_args(inputs, method, out))
    return outputs(inputs, method, out)


def outputs(inputs, method, out) -> dict:
    files = {
        "metrics.json": evaluate(inputs, method, out),
        "train_log.csv": (out / "train_log.csv").read_bytes(),
    }
    for weights in sorted((out / "model").glob("*.safetensors")):
        files[weights.name] = weights.read_bytes()
    return files


def start_cell(inputs, method, out, tracking=None):
    args = cell_args(inputs, method, out, tracking)
    return subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "train.py"), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoint(proc, out, timeout=120):
    """Block until the running cell has written its first complete checkpoint."""
    deadline = time.time() + timeout
    while not list((out / "checkpoints").glob("step-*.json")):
        assert proc.poll() is None, (
            f"cell ended before its first checkpoint:\n{proc.communicate()[1][-3000:]}"
        )
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def references(smoke_inputs, tmp_path_factory):
    """Uninterrupted runs of each method, the results a killed and resumed run must reproduce."""
    root = tmp_path_factory.mktemp("reference")
    return {m: finished_cell(smoke_inputs, m, root / m) for m in ("finetune", "lora", "mdgd")}


@pytest.fixture(scope="module")
def interrupted(smoke_inputs, tmp_path_factory):
    """The checkpoints of a finetune cell SIGKILLed after its second checkpoint (two kept: one to fall back
    on)."""
    out = tmp_path_factory.mktemp("interrupted") / "finetune"
    proc = start_cell(smoke_inputs, "finetune", out)
    deadline = time.time() + 120
    while len(list((out / "checkpoints").glob("step-*.json"))) < 2:
        assert proc.poll() is None and time.time() < deadline, "the cell ended before its second checkpoint"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return out / "checkpoints"


def resume_from(interrupted, tmp_path):
    """A cell directory holding a copy of the interrupted cell's checkpoints."""
    out = tmp_path / "finetune"
    shutil.copytree(interrupted, out / "checkpoints")
    return out


@pytest.mark.parametrize("method", ["finetune", "lora", "mdgd"])
def test_sigkill_at_a_random_step_then_rerun_ends_bitwise_identical(
    smoke_inputs, references, tmp_path, method, record_property
):
    out = tmp_path / method
    proc = start_cell(smoke_inputs, method, out)
    wait_for_checkpoint(proc, out)
    time.sleep(random.Random(method).uniform(0.0, 0.6))  # a different instant per method, reproducible
    assert proc.poll() is None, "the cell finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = max(json.loads(p.read_text())["step"] for p in (out / "checkpoints").glob("step-*.json"))
    assert 0 < killed_at < CELL_STEPS and not (out / "train.json").exists()

    rerun = script("train.py", *cell_args(smoke_inputs, method, out))
    assert f"resuming from checkpoint step-{killed_at:06d}.pt" in rerun.stderr
    resumed = outputs(smoke_inputs, method, out)
    lost = sum(resumed.get(name) != data for name, data in references[method].items())
    record_property("results_lost", lost)
    assert lost == 0, [name for name, data in references[method].items() if resumed.get(name) != data]
    assert not (out / "checkpoints").exists(), "a finished cell leaves no checkpoints behind"


def test_sigterm_checkpoints_and_exits_cleanly_then_resumes(
    smoke_inputs, references, tmp_path, record_property, monkeypatch
):
    """Also: the resumed attempt continues the interrupted attempt's MLflow run (one run per cell)."""
    import mlflow
    from mllm_forgetting.tracking import init_store

    out, tracking = tmp_path / "mdgd", tmp_path / "results"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    init_store(tracking)
    os.environ.pop(
        "MLFLOW_TRACKING_URI", None
    )  # mlflow.set_tracking_uri exported it; later tests must not see it
    proc = start_cell(smoke_inputs, "mdgd", out, tracking)
    wait_for_checkpoint(proc, out)
    proc.send_signal(signal.SIGTERM)  # what SLURM sends before the time limit and on pre-emption
    _, stderr = proc.communicate(timeout=60)
    last = stderr.strip().splitlines()[-1]
    assert proc.returncode == 143, stderr[-2000:]
    assert last.startswith("stopped: cell tiny-llava/okvqa/mdgd/seed0: SIGTERM after step "), last
    assert "Traceback" not in stderr
    step = max(json.loads(p.read_text())["step"] for p in (out / "checkpoints").glob("step-*.json"))
    assert f"after step {step} of {CELL_STEPS}" in last  # the checkpoint holds the step it stopped at

    script("train.py", *cell_args(smoke_inputs, "mdgd", out, tracking))
    lost = sum(outputs(smoke_inputs, "mdgd", out).get(n) != d for n, d in references["mdgd"].items())
    record_property("results_lost", lost)
    assert lost == 0
    client = mlflow.MlflowClient(f"sqlite:///{tracking / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("mllm-forgetting").experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    logged = [m.step for m in client.get_metric_history(runs[0].info.run_id, "loss")]
    assert logged == sorted(set(logged)) and len(logged) == CELL_STEPS // TRAINING["log_every"] + 1


@pytest.mark.parametrize("method", ["finetune", "mdgd"])
def test_same_config_and_seed_give_the_same_metrics(smoke_inputs, references, tmp_path, method):
    again = finished_cell(smoke_inputs, method, tmp_path / method)
    assert again["metrics.json"] == references[method]["metrics.json"]
    assert again == references[method]


def test_a_corrupted_checkpoint_is_reported_and_the_previous_one_used(
    smoke_inputs, references, interrupted, tmp_path, record_property
):
    out = resume_from(interrupted, tmp_path)
    newest = sorted((out / "checkpoints").glob("step-*.pt"))[-1]
    newest.write_bytes(
        newest.read_bytes()[: newest.stat().st_size // 2]
    )  # a truncated write, e.g. a full disk

    rerun = script("train.py", *cell_args(smoke_inputs, "finetune", out))
    assert (
        f"checkpoint {newest.name} is corrupted (checksum mismatch); trying the previous one" in rerun.stderr
    )
    assert "resuming from checkpoint step-" in rerun.stderr
    lost = sum(outputs(smoke_inputs, "finetune", out).get(n) != d for n, d in references["finetune"].items())
    record_property("results_lost", lost)
    assert lost == 0


def test_a_checkpoint_of_another_backbone_is_refused_with_one_line(smoke_inputs, interrupted, tmp_path):
    out = resume_from(interrupted, tmp_path)
    for manifest in (out / "checkpoints").glob("step-*.json"):  # as if copied from the tiny-resampler cell
        facts = json.loads(manifest.read_text())
        facts["fingerprint"]["backbone"] = "tiny-resampler"
        manifest.write_text(json.dumps(facts))
    rerun = script("train.py", *cell_args(smoke_inputs, "finetune", out), check=False)
    last = rerun.stderr.strip().splitlines()[-1]
    assert rerun.returncode == 1 and "Traceback" not in rerun.stderr
    assert (
        last.startswith("error: cell tiny-llava/okvqa/finetune/seed0: checkpoint in ")
        and "'tiny-resampler'" in last
    )


def test_a_changed_configuration_discards_old_checkpoints(smoke_inputs, interrupted, tmp_path):
    out = resume_from(interrupted, tmp_path)
    changed = cell_args(smoke_inputs, "finetune", out, training={**TRAINING, "lr": TRAINING["lr"] / 2})
    rerun = script("train.py", *changed)
    # the warning names what changed (the training block, or a path into it), not just "the spec"
    assert re.search(
        r"belong to another configuration \(differs in [^)]*\btraining\b[^)]*\); discarding them",
        rerun.stderr,
    ), rerun.stderr[-3000:]
    assert "resuming" not in rerun.stderr and (out / "train.json").exists()


def edited_copy(directory: Path, dest: Path, file: str) -> Path:
    """A copy of a data or checkpoint directory with one file's content changed (a key added to a JSON)."""
    shutil.copytree(directory, dest)
    data = json.loads((dest / file).read_text())
    (dest / file).write_text(json.dumps({**data, "edited": True}))
    return dest


@pytest.mark.parametrize("changed, file", [("data", "manifest.json"), ("phi", "pretrain.json")])
def test_checkpoints_of_other_data_or_another_phi_are_discarded(
    smoke_inputs, interrupted, tmp_path, changed, file
):
    """A cell resumed after its data were re-prepared (another data.seed) or phi re-trained must not continue
    from a state trained on the old ones."""
    data, pretrained, backbone = smoke_inputs
    out = resume_from(interrupted, tmp_path)
    inputs = (
        (edited_copy(data, tmp_path / "data", file), pretrained, backbone)
        if changed == "data"
        else (data, edited_copy(pretrained, tmp_path / "phi", file), backbone)
    )
    rerun = script("train.py", *cell_args(inputs, "finetune", out))
    assert f"belong to another configuration (differs in {changed}); discarding them" in rerun.stderr, (
        rerun.stderr[-3000:]
    )
    assert "resuming" not in rerun.stderr and (out / "train.json").exists()


def kill_pretraining_once_saved(args, state: Path) -> None:
    """Run pretrain.py and SIGKILL it once its `state` directory holds a checkpoint."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "pretrain.py"), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not list(state.glob("step-*.json")):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_pretraining_state_of_other_data_is_discarded(smoke_inputs, tmp_path):
    data, _, _ = smoke_inputs
    spec = pretrain_spec(
        smoke_config(
            lambda raw: raw["backbones"]["tiny-llava"]["pretrain"].update(
                stages=[{"tasks": ["gqa"], "steps": 200}, {"tasks": "all", "steps": 2}]
            )
        ),
        "tiny-llava",
    )

    def args(data_dir):
        return [
            "--spec",
            to_json(spec),
            "--data",
            data_dir,
            "--out",
            tmp_path / "model",
            "--state-dir",
            tmp_path / "state",
            "--threads",
            1,
            "--checkpoint-every",
            5,
        ]

    kill_pretraining_once_saved(args(data), tmp_path / "state/stage1")
    rerun = script("pretrain.py", *args(edited_copy(data, tmp_path / "data", "manifest.json")))
    assert "belong to another configuration (differs in data); discarding them" in rerun.stderr
    assert "resuming" not in rerun.stderr


def test_pretraining_killed_in_its_second_stage_resumes_bitwise(smoke_inputs, tmp_path, record_property):
    data, _, _ = smoke_inputs

    def two_stages(raw):
        stages = [{"tasks": ["gqa"], "steps": 10}, {"tasks": "all", "steps": 30}]
        raw["backbones"]["tiny-llava"]["pretrain"]["stages"] = stages

    spec = pretrain_spec(smoke_config(two_stages), "tiny-llava")
    assert spec.tasks == SMOKE["data"]["pretrain_tasks"]

    def args(out):
        return [
            "--spec",
            to_json(spec),
            "--data",
            data,
            "--out",
            out / "model",
            "--state-dir",
            out / "state",
            "--threads",
            1,
            "--checkpoint-every",
            5,
        ]

    reference, out = tmp_path / "reference", tmp_path / "killed"
    script("pretrain.py", *args(reference))
    kill_pretraining_once_saved(args(out), out / "state/stage2")  # stage 1 finished, stage 2 under way

    rerun = script("pretrain.py", *args(out))
    stage1, stage2 = [int(s) for s in re.findall(r"resuming from checkpoint step-(\d+)\.pt", rerun.stderr)]
    assert stage1 == 10 and 0 < stage2 < 30  # stage 1 from its finished state, stage 2 from mid-way
    files = ("model.safetensors", "pretrain.json", "pretrain_log.csv")
    lost = sum((out / "model" / f).read_bytes() != (reference / "model" / f).read_bytes() for f in files)
    record_property("results_lost", lost)
    assert lost == 0
    assert not (out / "state").exists() and not (reference / "state").exists()


def test_snakemake_refuses_a_second_invocation_and_resumes_a_killed_job(
    smoke_inputs, tmp_path, record_property
):
    """While a cell runs, a second `snakemake` on the directory is refused (incomplete outputs, or the lock);
    when the job then dies, Snakemake deletes its declared outputs but not its checkpoints: the rerun
    resumes."""
    data, pretrained, _ = smoke_inputs
    work = copy_workflow(tmp_path)
    config = yaml.safe_load((work / "config/smoke.yaml").read_text())
    config["training"]["steps"], config["checkpoint_every"] = (
        1000,
        50,
    )  # ~30 s: outlives the other invocations
    (work / "config/long.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    os.symlink(data, work / SMOKE["data"]["dir"])  # no rule rebuilds it: the pre-trained model below is newer
    (work / SMOKE_RESULTS / "checkpoints").mkdir(parents=True)
    os.symlink(pretrained, work / SMOKE_RESULTS / "checkpoints/tiny-llava")
    args = [
        "--cores",
        "1",
        "--configfile",
        "config/long.yaml",
        "--replace-workflow-config",
        f"{SMOKE_RESULTS}/cells/tiny-llava/okvqa/finetune/seed0/train.json",
    ]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    first = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *args],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    cell = work / SMOKE_RESULTS / "cells/tiny-llava/okvqa/finetune/seed0"
    deadline = time.time() + 120
    while not list((cell / "checkpoints").glob("step-*.json")):  # the first is mid-cell
        assert first.poll() is None and time.time() < deadline, first.communicate()[0][-3000:]
        time.sleep(0.05)

    plain = snakemake(args, cwd=work, check=False)
    forced = snakemake([*args, "--rerun-incomplete"], cwd=work, check=False)  # as the SLURM profile runs
    assert first.poll() is None, "the first invocation ended before the others were tried"
    assert plain.returncode != 0 and re.search("IncompleteFilesException|cannot be locked", plain.stderr), (
        plain.stderr
    )
    assert forced.returncode != 0 and "cannot be locked" in forced.stderr, forced.stderr[-3000:]

    [job] = processes_running(f"{work}/scripts/train.py")
    os.kill(job, signal.SIGKILL)  # the job dies (a lost node); Snakemake reports it failed
    output, _ = first.communicate(timeout=120)
    assert first.returncode != 0 and not (cell / "train.json").exists(), output[-3000:]
    saved = max(json.loads(p.read_text())["step"] for p in (cell / "checkpoints").glob("step-*.json"))

    snakemake(["--rerun-incomplete", *args], cwd=work)
    lost = int(
        not (cell / "train.json").exists() or json.loads((cell / "train.json").read_text())["steps"] != 1000
    )
    record_property("results_lost", lost)
    assert lost == 0
    log = (work / SMOKE_RESULTS / "logs/train/tiny-llava/okvqa/finetune/seed0.log").read_text()
    assert f"resuming from checkpoint step-{saved:06d}.pt" in log, log[-3000:]
    assert not (cell / "checkpoints").exists()


def processes_running(script_path: str) -> list[int]:
    """Pids of Python processes running script_path, an absolute path (read from /proc: no procps needed;
    the shell that Snakemake started it from is not one of them). The rules name the script relative to
    the working directory, so a process's argument is resolved against its cwd."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0") if entry.name.isdigit() else []
            cwd = Path(os.readlink(entry / "cwd")) if len(argv) > 1 else None
        except OSError:  # the process ended while we looked
            continue
        if len(argv) > 1 and Path(argv[0]).name.startswith("python") and str(cwd / argv[1]) == script_path:
            found.append(int(entry.name))
    return found
