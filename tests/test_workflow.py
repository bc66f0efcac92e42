"""The Snakemake DAG end to end on the smoke config: outputs, incremental reruns, tracking, lint, pins."""

import json
import math
import os
import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import REPO, SMOKE, SMOKE_RESULTS, copy_workflow, snakemake
from mllm_forgetting.data.probes import ATTRIBUTES
from mllm_forgetting.methods import METHODS as METHOD_TYPES
from mllm_forgetting.reporting import FIGURES
from mllm_forgetting.reporting.tables import SUMMARY_COLUMNS

pytestmark = pytest.mark.slow
BACKBONES, TARGETS, METHODS = list(SMOKE["backbones"]), SMOKE["targets"], list(SMOKE["methods"])
SMOKE_ARGS = ["--configfile", "config/smoke.yaml", "--replace-workflow-config"]


def test_every_table_and_figure_is_produced(smoke_run):
    for backbone in BACKBONES:
        for target in TARGETS:
            table = pd.read_csv(smoke_run / SMOKE_RESULTS / f"tables/{backbone}_{target}.csv")
            assert len(table) == len(METHODS)
            assert {*SUMMARY_COLUMNS, target} <= set(table.columns)
            for figure in FIGURES:
                png = smoke_run / SMOKE_RESULTS / f"figures/{backbone}_{target}_{figure}.png"
                assert png.stat().st_size > 5000, png


def test_each_rule_records_a_benchmark(smoke_run):
    assert len(list((smoke_run / SMOKE_RESULTS / "benchmarks/train").rglob("*.tsv"))) == len(BACKBONES) * len(
        TARGETS
    ) * len(METHODS)
    assert len(list((smoke_run / SMOKE_RESULTS / "benchmarks/pretrain").glob("*.tsv"))) == len(BACKBONES)


def test_cell_metrics_hold_scores_and_effective_ranks(smoke_run):
    path = smoke_run / SMOKE_RESULTS / f"cells/{BACKBONES[0]}/{TARGETS[0]}/mdgd/seed0/metrics.json"
    cell = json.loads(path.read_text())
    assert cell["task_order"][-1] == TARGETS[0]
    for result in cell["tasks"].values():
        assert 0 <= result["score"] <= 100
        assert result["erank_per_image"] > 1 and result["erank_pooled"] > 1
        closed = result["kind"] in ("multiple_choice", "yes_no")
        assert ("likelihood" in result) == closed
        if closed:
            assert len(result["likelihood"]["per_question"]) == len(result["per_question"])
    probes = cell["probes"]
    assert sorted(probes) == sorted(ATTRIBUTES)
    for attribute, probe in probes.items():
        assert (probe["n_train"], probe["n_test"]) == (
            SMOKE["data"]["probes"]["train"],
            SMOKE["data"]["probes"]["test"],
        )
        assert probe["classes"] == len(ATTRIBUTES[attribute]) and 0 <= probe["score"] <= 100
    from mllm_forgetting.evaluation.predictions import read_predictions, rescore

    lines = read_predictions(path.with_name("predictions.jsonl"))
    for field, key in (("prediction", None), ("likelihood_prediction", "likelihood")):
        for task, found in rescore(lines, field=field).items():
            result = cell["tasks"][task] if key is None else cell["tasks"][task][key]
            assert found["score"] == pytest.approx(result["score"]), (field, task)
    knowledge = pd.read_csv(smoke_run / SMOKE_RESULTS / f"tables/{BACKBONES[0]}_{TARGETS[0]}_knowledge.csv")
    assert len(knowledge) == len(METHODS) and "probe: digit" in knowledge and "pope (likelihood)" in knowledge
    log = pd.read_csv(
        smoke_run / SMOKE_RESULTS / f"cells/{BACKBONES[0]}/{TARGETS[0]}/mdgd_gm_0.5/seed0/train_log.csv"
    )
    # Eq. 11's threshold set holds at least alpha (the tensor that reaches it overshoots)
    assert (log["fraction_updated"] >= 0.5).all() and (log["fraction_updated"] <= 1).all()


def test_one_mlflow_run_per_cell_with_tags_and_metrics(smoke_run):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{smoke_run / SMOKE_RESULTS / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=[SMOKE["mlflow"]["experiment"]])
    assert len(runs) == len(BACKBONES) * len(TARGETS) * len(METHODS)
    assert set(runs["tags.method"]) == set(METHODS)
    assert runs["tags.data_version"].notna().all()
    assert runs[f"metrics.{TARGETS[0]}.score"].notna().all()
    mdgd = runs[runs["tags.method"] == "mdgd"]
    assert mdgd["metrics.lv"].notna().all() and mdgd["metrics.cosine"].notna().all()
    # without MLFLOW_TRACKING_URI the artifacts sit beside the store, not in ./mlruns of the working directory
    assert len(list((smoke_run / SMOKE_RESULTS / "mlartifacts").rglob("metrics.json"))) == len(runs)
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

    out = script("run_profile.py", "--benchmarks", smoke_run / SMOKE_RESULTS / "benchmarks").stdout
    trained = len(BACKBONES) * len(TARGETS)
    assert re.search(rf"^\| train/mdgd \| {trained} \| \d+ \| [\d.]+% \|", out, re.M), out
    assert re.search(r"^\| pretrain \| 2 \|", out, re.M), out
    assert "job-seconds over 2 cores" in out


def test_step_benchmark_prints_the_ratios_as_a_last_json_line(smoke_run):
    """It runs and reports every training method of the config and the passes of each step (a benchmark:
    nothing timed is asserted)."""
    from conftest import script

    extra = "{mdgd_sequential: {type: mdgd, schedule: sequential}}"
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
        "--methods",
        extra,
        cwd=smoke_run,
    ).stdout
    (summary,) = json.loads(out.strip().splitlines()[-1])
    # every method with a training step (not zero-shot, not Model Tailor, which tailors fine-tune's model)
    trained = [m for m, e in SMOKE["methods"].items() if METHOD_TYPES[e["type"]].method.trains]
    trained.append("mdgd_sequential")
    assert summary["backbone"] == "tiny-llava" and summary["reference"] == "finetune"
    assert sorted(k for k in summary if k not in ("backbone", "reference")) == sorted(
        set(trained) - {"finetune"}
    )
    for method in set(trained) - {"finetune"}:
        assert all(summary[method][k] > 0 for k in ("time", "peak_mem", "optimizer_state")), method
    # AdamW state only for the selected tensors: at most fine-tuning's (all of them where every tensor's
    # cosine ties at theta == phi, as it did on one CPU kind after the single timed step)
    assert summary["mdgd_gm_0.5"]["optimizer_state"] <= 1
    for method in trained:
        assert re.search(rf"^\| {re.escape(method)} \| [\d.]+ \|", out, re.M), method
    assert re.search(
        r"passes of a finetune step \(median ms\): forward [\d.]+, backward [\d.]+$", out, re.M
    ), out
    assert re.search(
        r"passes of a mdgd step \(median ms\): forward theta [\d.]+, forward phi [\d.]+, "
        r"backward theta \(g, h\) [\d.]+, backward phi \(g, h\) [\d.]+, gradient algebra [\d.]+$",
        out,
        re.M,
    ), out
    assert "forward phi, no graph" in out  # the sequential schedule's extra pass


def test_a_deleted_model_reruns_its_cell_and_what_depends_on_it(smoke_run, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(smoke_run, work, symlinks=True)
    shutil.rmtree(work / SMOKE_RESULTS / "cells/tiny-llava/okvqa/lora/seed0/model")
    jobs = dry_run_jobs(work, "config/smoke.yaml")
    assert sorted(jobs) == sorted(
        [
            ("train", "backbone=tiny-llava, target=okvqa, method=lora, seed=0"),
            ("evaluate", "backbone=tiny-llava, target=okvqa, method=lora, seed=0"),
            ("aggregate", "backbone=tiny-llava, target=okvqa"),
            ("all", ""),
        ]
    ), jobs


def test_changing_a_backbones_prompt_reruns_exactly_its_pretraining_and_cells(smoke_run):
    from mllm_forgetting.config.typed import as_plain
    from mllm_forgetting.prompts import WORDS

    changed = yaml.safe_load((smoke_run / "config/smoke.yaml").read_text())
    reworded = as_plain(WORDS)
    reworded["turn"] = "<image> {text} reply"
    changed["prompts"] = {"reworded": reworded}
    changed["backbones"]["tiny-resampler"]["prompt"] = "reworded"
    (smoke_run / "config/reworded.yaml").write_text(
        yaml.safe_dump(changed, allow_unicode=True, sort_keys=False)
    )
    jobs = dry_run_jobs(smoke_run, "config/reworded.yaml")
    cells = len(TARGETS) * len(METHODS)
    expected = (
        ["all"] + ["aggregate"] * len(TARGETS) + ["evaluate"] * cells + ["pretrain"] + ["train"] * cells
    )
    assert sorted(rule for rule, _ in jobs) == sorted(expected), jobs
    assert all("backbone=tiny-resampler" in wc for rule, wc in jobs if rule != "all")


def test_a_smoke_run_writes_nothing_git_tracks(smoke_run):
    """A smoke run in a checkout leaves `git status` clean: all it writes is under its own results and data
    directories (and Snakemake's), which .gitignore covers, never the committed tables and figures."""
    copied = {"workflow", "config", "scripts", "environment.yml", "data.dvc"}
    written = sorted(
        p.relative_to(smoke_run).as_posix()
        for p in smoke_run.rglob("*")
        if p.is_file() and p.relative_to(smoke_run).parts[0] not in copied
    )
    assert any(w.startswith(f"{SMOKE_RESULTS}/tables/") for w in written), written[:20]
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", "--verbose", "--non-matching", "--stdin"],
        cwd=REPO,
        input="\n".join(written),
        capture_output=True,
        text=True,
    )
    tracked = [line.split("\t")[-1] for line in proc.stdout.splitlines() if line.startswith("::")]
    assert tracked == [], tracked[:20]


PINS = REPO / "tests/pins/smoke.json"


def test_smoke_results_are_pinned(smoke_run):
    """The smoke run's per-task scores and likelihood scores exactly (MDGD-GM's: see below), its probe
    accuracies within one test image, its pooled effective ranks and final training losses to 1e-2 (float
    sums differ across CPU kinds by up to 3e-3 relative, measured): a change of results shows here and is
    re-pinned on purpose with `MLLMF_REPIN=1 python -m pytest tests/test_workflow.py -k pinned`."""
    found = {}
    for path in sorted((smoke_run / SMOKE_RESULTS / "cells").glob("*/*/*/seed*/metrics.json")):
        cell = json.loads(path.read_text())
        log = path.with_name("train_log.csv")
        found[path.parent.relative_to(smoke_run / SMOKE_RESULTS / "cells").as_posix()] = {
            "scores": {t: r["score"] for t, r in cell["tasks"].items()},
            "likelihood": {
                t: r["likelihood"]["score"] for t, r in cell["tasks"].items() if "likelihood" in r
            },
            "probes": {a: p["score"] for a, p in cell["probes"].items()},
            "erank_pooled": {t: r["erank_pooled"] for t, r in cell["tasks"].items()},
            "final_loss": float(pd.read_csv(log)["loss"].iloc[-1]) if len(pd.read_csv(log)) else None,
        }
    if os.environ.get("MLLMF_REPIN"):
        PINS.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(PINS.read_text())
    assert sorted(found) == sorted(pinned)
    for cell, values in pinned.items():
        # MDGD-GM's mask is a threshold on per-tensor cosines that tie near theta == phi in the smoke's few
        # steps; float sums differ across CPU kinds (erank and losses by up to 3e-3 relative, measured)
        # and flip the ties (resampler's POPE 15.4 vs 64.3), so its scores are pinned on one CPU kind only
        if "/mdgd_gm" not in cell:
            assert found[cell]["scores"] == values["scores"], cell
            assert found[cell]["likelihood"] == values["likelihood"], cell
        assert set(found[cell]["scores"]) == set(values["scores"]), cell
        # a probe is an lbfgs fit: the same on this CPU, within one test image elsewhere
        for attribute, score in values["probes"].items() if "/mdgd_gm" not in cell else ():
            assert (
                abs(found[cell]["probes"][attribute] - score) <= 100 / SMOKE["data"]["probes"]["test"] + 1e-9
            ), (cell, attribute)
        for task, erank in values["erank_pooled"].items():
            assert math.isclose(found[cell]["erank_pooled"][task], erank, rel_tol=1e-2), (cell, task)
        if values["final_loss"] is not None:
            assert math.isclose(found[cell]["final_loss"], values["final_loss"], rel_tol=1e-2), cell
