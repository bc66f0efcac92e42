"""The continual DAG on a smoke-sized config: a three-task sequence learnt stage by stage by several methods.

Stage k trains from stage k-1's model and carry; the tests check the tables, the matrices' layout, that
editing one method's option reruns only its stages, that one stage reruns alone by its output path and
ends where it did, and that a stage killed mid-way resumes to the same bytes.
"""

import copy
import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from conftest import REPO, SMOKE, copy_workflow, script, snakemake
from mllm_forgetting.config.settings import load_config
from mllm_forgetting.spec import stage_train_spec, to_json

pytestmark = pytest.mark.slow
SEQUENCE = ["okvqa", "classify", "count"]
METHODS = {
    "seq_ft": {"type": "finetune", "label": "SeqFT"},
    "ewc": {"type": "ewc", "label": "EWC"},
    "replay": {"type": "replay", "label": "Replay", "fraction": 0.25},
    "mdgd_prev": {"type": "mdgd", "label": "MDGD (phi previous)", "phi": "previous"},
}
RESULTS = "results/continual-test"
RUN = f"{RESULTS}/continual/tiny-llava/tiny/{{method}}/seed0"


def continual_raw():
    raw = copy.deepcopy(SMOKE)
    raw["results"] = RESULTS
    raw["data"]["target_tasks"] = ["okvqa", "classify", "count"]
    raw["continual"] = {
        "sequences": {"tiny": SEQUENCE},
        "backbones": ["tiny-llava"],
        "methods": copy.deepcopy(METHODS),
        "seeds": [0],
        "training": {"steps": 6},
        "max_test_examples": 8,
    }
    return raw


def write_config(work, name, raw):
    (work / "config" / name).write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
    return f"config/{name}"


def jobs_of(work, configfile, *targets):
    out = snakemake(
        ["-n", "--configfile", configfile, "--replace-workflow-config", *targets], cwd=work
    ).stdout
    jobs, rule = [], None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("rule ") or line.startswith("localrule "):
            rule = line.split()[1].rstrip(":")
            jobs.append([rule, ""])
        elif line.startswith("wildcards:") and jobs:
            jobs[-1][1] = line[len("wildcards:") :].strip()
    return [tuple(j) for j in jobs]


@pytest.fixture(scope="module")
def continual_run(tmp_path_factory):
    work = copy_workflow(tmp_path_factory.mktemp("continual"))
    config = write_config(work, "continual.yaml", continual_raw())
    snakemake(["continual", "--cores", "2", "--configfile", config, "--replace-workflow-config"], cwd=work)
    return work


def test_tables_matrices_and_figures_of_every_method(continual_run):
    tables = continual_run / RESULTS / "continual/tables"
    df = pd.read_csv(tables / "tiny-llava_tiny.csv")
    assert list(df["method"]) == list(METHODS)
    for col in ("Last", "MAA", "MFT", "BWT", "F", "FWT", "Retention (points)", "#Params"):
        assert df[col].notna().all(), col
    for method in METHODS:
        matrix = pd.read_csv(tables / f"tiny-llava_tiny_{method}_matrix.csv")
        assert list(matrix["stage"]) == ["0_pretrained", "1_okvqa", "2_classify", "3_count"]
        assert list(matrix.columns[1:]) == SEQUENCE
        values = matrix[SEQUENCE].to_numpy()
        assert not pd.isna(values[0]).any()  # row 0: the pre-trained model on every task
        for k in range(1, 4):  # lower-triangular: stage k has scores for tasks 1..k only
            assert not pd.isna(values[k, :k]).any() and pd.isna(values[k, k:]).all()
    figures = continual_run / RESULTS / "continual/figures"
    for name in ("matrices", "task_curves", "erank_stages", "bwt_retention"):
        assert (figures / f"tiny-llava_tiny_{name}.png").stat().st_size > 1000


def test_every_stage_is_scored_on_the_whole_sequence_and_the_pretrained_tasks(continual_run):
    stage = continual_run / RUN.format(method="seq_ft") / "stage2_classify"
    metrics = json.loads((stage / "metrics.json").read_text())
    assert metrics["task_order"] == SMOKE["data"]["pretrain_tasks"] + SEQUENCE
    roles = {t: e["role"] for t, e in metrics["tasks"].items()}
    assert roles["classify"] == "target" and roles["count"] == roles["okvqa"] == "sequence"
    assert all(roles[t] == "pretrain" for t in SMOKE["data"]["pretrain_tasks"])
    assert all(e["erank_per_image"] > 0 for e in metrics["tasks"].values())
    assert (stage / "predictions.jsonl").stat().st_size > 0
    train = json.loads((stage / "train.json").read_text())
    assert train["index"] == 2 and train["sequence"] == "tiny"
    replay = json.loads(
        (continual_run / RUN.format(method="replay") / "stage3_count" / "train.json").read_text()
    )
    rows = SMOKE["data"]["sizes"]["train"]
    assert replay["rows"] == rows + 2 * (rows // 4)  # its task plus a quarter of each earlier one


def test_editing_one_methods_option_reruns_only_its_stages(continual_run):
    raw = continual_raw()
    assert jobs_of(continual_run, write_config(continual_run, "same.yaml", raw), "continual") == []
    raw["continual"]["methods"]["ewc"]["weight"] = 10.0
    jobs = jobs_of(continual_run, write_config(continual_run, "changed.yaml", raw), "continual")
    rules = sorted(rule for rule, _ in jobs)
    assert rules == sorted(
        ["continual", "aggregate_continual"] + ["train_stage"] * 3 + ["evaluate_stage"] * 3
    )
    assert all("smethod=ewc" in wc for rule, wc in jobs if rule in ("train_stage", "evaluate_stage"))


def test_adding_a_method_runs_only_its_stages_and_the_table(continual_run):
    raw = continual_raw()
    raw["continual"]["methods"]["lwf"] = {"type": "lwf", "label": "LwF"}
    jobs = jobs_of(continual_run, write_config(continual_run, "added.yaml", raw), "continual")
    rules = sorted(rule for rule, _ in jobs)
    assert rules == sorted(
        ["continual", "aggregate_continual"] + ["train_stage"] * 3 + ["evaluate_stage"] * 3
    )
    assert all("smethod=lwf" in wc for rule, wc in jobs if rule in ("train_stage", "evaluate_stage"))


def test_one_stage_reruns_alone_by_its_output_path_and_ends_where_it_did(continual_run):
    stage = RUN.format(method="seq_ft") + "/stage3_count"
    before = (continual_run / stage / "metrics.json").read_bytes()
    weights = (continual_run / stage / "model/model.safetensors").read_bytes()
    config = write_config(continual_run, "rerun.yaml", continual_raw())
    args = ["--configfile", config, "--replace-workflow-config", "--forcerun", f"{stage}/train.json"]
    jobs = jobs_of(continual_run, config, f"{stage}/metrics.json", "--forcerun", f"{stage}/train.json")
    assert sorted(rule for rule, _ in jobs) == ["evaluate_stage", "train_stage"], jobs
    snakemake([f"{stage}/metrics.json", "--cores", "1", *args], cwd=continual_run)
    assert (continual_run / stage / "model/model.safetensors").read_bytes() == weights
    assert (continual_run / stage / "metrics.json").read_bytes() == before


def test_a_stage_killed_mid_way_resumes_to_the_same_model(continual_run, tmp_path):
    raw = continual_raw()
    raw["continual"]["training"]["steps"] = 40
    config = load_config(raw)
    stage = config.stages("tiny-llava", "tiny", "ewc", 0)[1]  # stage 2: from stage 1's model and carry
    previous = continual_run / RUN.format(method="ewc") / "stage1_okvqa"

    def args(out):
        return [
            "--spec", to_json(stage_train_spec(config, stage)),
            "--data", continual_run / SMOKE["data"]["dir"],
            "--pretrained", continual_run / RESULTS / "checkpoints/tiny-llava",
            "--previous", previous, "--out", out, "--results", tmp_path / "untracked",
            "--threads", 1, "--checkpoint-every", 3, "--no-tracking",
        ]  # fmt: skip

    script("train_stage.py", *args(tmp_path / "whole"))
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts/train_stage.py"), *map(str, args(killed))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.time() + 120
    while not list((killed / "checkpoints").glob("step-*.json")):
        assert proc.poll() is None and time.time() < deadline, "no checkpoint before the stage ended"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "train.json").exists()
    resumed = script("train_stage.py", *args(killed))
    assert "resum" in resumed.stderr.lower()
    for name in ("model/model.safetensors", "carry.pt", "train_log.csv"):
        assert (killed / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
