"""The Snakemake DAG end to end on the smoke config: outputs, incremental reruns, tracking, lint, bad configs."""

import json
import re

import pandas as pd
import pytest
import yaml
from conftest import SMOKE, copy_workflow, snakemake

pytestmark = pytest.mark.slow
BACKBONES, TARGETS, METHODS = list(SMOKE["backbones"]), SMOKE["targets"], list(SMOKE["methods"])
SMOKE_ARGS = ["--configfile", "config/smoke.yaml", "--replace-workflow-config"]


def test_every_table_and_figure_is_produced(smoke_run):
    for backbone in BACKBONES:
        for target in TARGETS:
            table = pd.read_csv(smoke_run / f"results/tables/{backbone}_{target}.csv")
            assert len(table) == len(METHODS)
            assert {"Avg", "Hscore", target} <= set(table.columns)
            for figure in ("erank", "top_tokens", "tsne", "alpha", "learning_curves"):
                png = smoke_run / f"results/figures/{backbone}_{target}_{figure}.png"
                assert png.stat().st_size > 5000, png


def test_each_rule_records_a_benchmark(smoke_run):
    assert len(list((smoke_run / "results/benchmarks/train").rglob("*.tsv"))) == len(BACKBONES) * len(
        TARGETS
    ) * len(METHODS)
    assert len(list((smoke_run / "results/benchmarks/pretrain").glob("*.tsv"))) == len(BACKBONES)


def test_cell_metrics_hold_scores_and_effective_ranks(smoke_run):
    cell = json.loads(
        (smoke_run / f"results/cells/{BACKBONES[0]}/{TARGETS[0]}/mdgd/seed0/metrics.json").read_text()
    )
    assert cell["task_order"][-1] == TARGETS[0]
    for task, result in cell["tasks"].items():
        assert 0 <= result["score"] <= 100
        assert result["erank_per_image"] > 1 and result["erank_pooled"] > 1
    log = pd.read_csv(
        smoke_run / f"results/cells/{BACKBONES[0]}/{TARGETS[0]}/mdgd_gm_0.5/seed0/train_log.csv"
    )
    assert (log["fraction_updated"] <= 0.5).all() and (log["fraction_updated"] > 0).all()


def test_one_mlflow_run_per_cell_with_tags_and_metrics(smoke_run):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{smoke_run / 'results' / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=[SMOKE["mlflow"]["experiment"]])
    assert len(runs) == len(BACKBONES) * len(TARGETS) * len(METHODS)
    assert set(runs["tags.method"]) == set(METHODS)
    assert runs["tags.data_version"].notna().all()
    assert runs[f"metrics.{TARGETS[0]}.score"].notna().all()
    mdgd = runs[runs["tags.method"] == "mdgd"]
    assert mdgd["metrics.lv"].notna().all() and mdgd["metrics.cosine"].notna().all()
    # without MLFLOW_TRACKING_URI the artifacts sit beside the store, not in ./mlruns of the working directory
    assert len(list((smoke_run / "results" / "mlartifacts").rglob("metrics.json"))) == len(runs)
    assert not (smoke_run / "mlruns").exists()


def dry_run_jobs(work, configfile):
    """(rule, wildcards) of every job a dry run would execute."""
    out = snakemake(["-n", "--configfile", configfile, "--replace-workflow-config"], cwd=work).stdout
    jobs, rule = [], None
    for line in out.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line.strip()):
            rule = m.group(1)
            jobs.append((rule, ""))
        elif line.strip().startswith("wildcards:") and jobs:
            jobs[-1] = (rule, line.strip()[len("wildcards:") :].strip())
    return jobs


def test_changing_one_method_reruns_only_its_cells(smoke_run):
    assert dry_run_jobs(smoke_run, "config/smoke.yaml") == []  # everything is up to date
    changed = yaml.safe_load((smoke_run / "config/smoke.yaml").read_text())
    changed["methods"]["lora"]["r"] = 2
    (smoke_run / "config/changed.yaml").write_text(yaml.safe_dump(changed, allow_unicode=True))
    jobs = dry_run_jobs(smoke_run, "config/changed.yaml")
    rules = sorted(rule for rule, _ in jobs)
    cells = len(BACKBONES) * len(TARGETS)
    assert rules == sorted(["all"] + ["aggregate"] * cells + ["evaluate"] * cells + ["train"] * cells), jobs
    assert all("method=lora" in wc for rule, wc in jobs if rule in ("train", "evaluate"))


def test_lint_reports_no_problems(tmp_path):
    work = copy_workflow(tmp_path)
    proc = snakemake(["--lint", *SMOKE_ARGS], cwd=work, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in text, text[-3000:]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(unknown_key=1), "unknown_key"),
        (lambda c: c["methods"]["mdgd_gm_0.5"].update(alpha=1.5), "alpha"),
        (lambda c: c.update(targets=["flickr"]), "unknown target 'flickr'; valid"),
    ],
)
def test_bad_config_fails_with_a_clear_message(tmp_path, edit, message):
    work = copy_workflow(tmp_path)
    cfg = yaml.safe_load((work / "config/smoke.yaml").read_text())
    edit(cfg)
    (work / "config/bad.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    proc = snakemake(
        ["-n", "--configfile", "config/bad.yaml", "--replace-workflow-config"], cwd=work, check=False
    )
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_run_profile_reads_the_runs_benchmarks(smoke_run):
    from conftest import script

    out = script("run_profile.py", "--benchmarks", smoke_run / "results/benchmarks").stdout
    trained = len(BACKBONES) * len(TARGETS)
    assert re.search(rf"^\| train/mdgd \| {trained} \| \d+ \| [\d.]+% \|", out, re.M), out
    assert re.search(r"^\| pretrain \| 2 \|", out, re.M), out
    assert "job-seconds over 2 cores" in out


def test_step_benchmark_prints_the_ratios_as_a_last_json_line(smoke_run):
    """It runs and reports every method and the passes of an MDGD step (a benchmark: nothing timed is asserted)."""
    from conftest import script

    out = script(
        "benchmark_step.py",
        "--config",
        "config/smoke.yaml",
        "--backbones",
        "tiny-llava",
        "--steps",
        "1",
        "--batch-size",
        "8",
        cwd=smoke_run,
    ).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    assert [s["backbone"] for s in summary] == ["tiny-llava"]
    for key in (
        "mdgd_vs_finetune_time",
        "mdgd_vs_finetune_peak_mem",
        "mdgd_gm_vs_finetune_time",
        "mdgd_gm_vs_finetune_optimizer_state",
    ):
        assert summary[0][key] > 0, key
    assert summary[0]["mdgd_gm_vs_finetune_optimizer_state"] < 1  # AdamW state only for the selected tensors
    for method in ("finetune", "lora", "mdgd", "mdgd_sequential", "mdgd_no_align", "mdgd_gm"):
        assert re.search(rf"^\| {method} \| [\d.]+ \|", out, re.M), method
    assert re.search(
        r"passes of a finetune step \(median ms\): forward [\d.]+, backward [\d.]+$", out, re.M
    ), out
    assert re.search(
        r"passes of a mdgd step \(median ms\): forward theta [\d.]+, forward phi [\d.]+, "
        r"backward theta \(g, h\) [\d.]+, backward phi \(g, h\) [\d.]+, gradient algebra [\d.]+$",
        out,
        re.M,
    ), out
