import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SMOKE = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
SMOKE_RESULTS = SMOKE["results"]  # where a smoke run writes (apart from the committed results/)


def smoke_config(edit=None):
    """The smoke config, typed; `edit(raw)` may change the raw mapping first (a deep copy)."""
    from mllm_forgetting.config.settings import load_config

    raw = copy.deepcopy(SMOKE)
    if edit:
        edit(raw)
    return load_config(raw)


def train_spec_for(
    backbone="tiny-llava", method="finetune", *, target="okvqa", seed=0, entry=None, training=None
):
    """The TrainSpec of a smoke cell; `entry` replaces (or adds) the method's entry, `training` updates
    the training block."""
    from mllm_forgetting.cells import Cell
    from mllm_forgetting.spec import train_spec

    def edit(raw):
        if entry is not None:
            raw["methods"][method] = entry
        raw["training"].update(training or {})

    return train_spec(smoke_config(edit), Cell(backbone, target, method, seed))


def evaluate_spec_for(
    backbone="tiny-llava", method="finetune", *, target="okvqa", seed=0, pretrain_tasks=None, evaluation=None
):
    """The EvaluateSpec of a smoke cell; `pretrain_tasks` / `evaluation` override the backbone's tasks /
    the evaluation block."""
    import dataclasses

    from mllm_forgetting.cells import Cell
    from mllm_forgetting.spec import evaluate_spec

    def edit(raw):
        raw["evaluation"].update(evaluation or {})

    spec = evaluate_spec(smoke_config(edit), Cell(backbone, target, method, seed))
    return dataclasses.replace(spec, pretrain_tasks=pretrain_tasks) if pretrain_tasks else spec


def check_mdgd_first_step(model, ctx, batch):
    """MDGD's first step on `batch` gives twice the fine-tuning gradient: theta == phi, so L_v = 0 and h = 0,
    g_bar_theta = g_bar_phi = g and Eq. 10 gives g + 0 + g = 2g. Returns the fine-tuning gradient."""
    import torch
    from mllm_forgetting.methods import make_method

    finetune = make_method("finetune")
    finetune.prepare(model, ctx)
    finetune.step(model, batch, ctx)
    plain = [p.grad.clone() for p in finetune.params]
    for p in finetune.params:
        p.grad = None
    mdgd = make_method("mdgd")
    mdgd.prepare(model, ctx)
    logs = mdgd.step(model, batch, ctx)
    assert float(logs["lv"]) == 0.0 and abs(logs["cosine"] - 1) < 1e-6
    for p, g in zip(mdgd.params, plain):
        assert torch.allclose(p.grad, 2 * g, atol=1e-6, rtol=1e-4)
    return plain


def snakemake(args, cwd, check=True, env=None):
    """Run Snakemake with this interpreter's environment first on PATH (rules call `python`)."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **(env or {}),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def copy_workflow(dest: Path) -> Path:
    for item in ("workflow", "config", "scripts", "environment.yml", "data.dvc"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / item)
    return dest


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The whole DAG on config/smoke.yaml, run once per test session with 2 parallel jobs."""
    work = copy_workflow(tmp_path_factory.mktemp("smoke"))
    snakemake(["--cores", "2", "--configfile", "config/smoke.yaml", "--replace-workflow-config"], cwd=work)
    return work


@pytest.fixture(scope="session")
def tiny_sizes():
    return {name: b["size"] for name, b in SMOKE["backbones"].items()}


def script(name, *args, cwd=None, env=None, check=True, timeout=600):
    """Run scripts/<name> with this interpreter; returns the CompletedProcess."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def smoke_inputs(smoke_run):
    """The smoke DAG's datasets and pre-trained tiny-llava, for tests that run single cells as processes.

    Returns (data_dir, pretrained_dir, backbone_config); read only (the DAG's own tests check its directory).
    """
    return (
        smoke_run / SMOKE["data"]["dir"],
        smoke_run / SMOKE_RESULTS / "checkpoints/tiny-llava",
        SMOKE["backbones"]["tiny-llava"],
    )


# ---------------------------------------------------------------- the fault-injection suite's summary line

FAULTS = {"tried": 0, "survived": 0, "lost": 0}


def pytest_runtest_logreport(report):
    if "faults" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        FAULTS["tried"] += 1
        FAULTS["survived"] += report.outcome == "passed"
        FAULTS["lost"] += sum(int(v) for k, v in report.user_properties if k == "results_lost")


def pytest_terminal_summary(terminalreporter):
    if FAULTS["tried"]:
        terminalreporter.write_line(
            f"faults: {FAULTS['tried']} tried, {FAULTS['survived']} survived, {FAULTS['lost']} results lost"
        )
