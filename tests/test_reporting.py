"""Tables and figures from synthetic cell directories (no model needed)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from mllm_forgetting.config.typed import as_plain
from mllm_forgetting.methods import METHODS
from mllm_forgetting.reporting import FIGURES
from mllm_forgetting.reporting.aggregate import aggregate
from mllm_forgetting.reporting.tables import (
    AVG,
    FORGETTING_POINTS,
    FORGETTING_RELATIVE,
    H_AVG_TARGET,
    H_PRETRAINED_AVG,
    build_table,
    format_params,
)

TASKS = ["vqa", "pope", "caption"]
KINDS = {"vqa": "open", "pope": "yes_no", "caption": "caption"}
# (method, method_type, label, seed, params, {task: score})
SPECS = [
    ("zero_shot", "zero_shot", "Zero-shot", 0, None, {"vqa": 60.0, "pope": 80.0, "caption": 10.0}),
    ("finetune", "finetune", "Fine-tune", 0, 1_200_000, {"vqa": 40.0, "pope": 70.0, "caption": 50.0}),
    ("finetune", "finetune", "Fine-tune", 1, 1_200_000, {"vqa": 50.0, "pope": 60.0, "caption": 40.0}),
    # CIDEr x 100 above 100, as templated captions give: capped at 100 in Avg, H and forgetting
    ("mdgd", "mdgd", "MDGD", 0, 1_200_000, {"vqa": 58.0, "pope": 79.0, "caption": 145.0}),
    ("mdgd_gm_0.1", "mdgd_gm", "MDGD-GM (α=0.1)", 0, 35_000, {"vqa": 59.0, "pope": 78.0, "caption": 30.0}),
    ("mdgd_gm_0.5", "mdgd_gm", "MDGD-GM (α=0.5)", 0, 120_000, {"vqa": 55.0, "pope": 75.0, "caption": 40.0}),
]


def _options(mtype, method):
    """A cell's method options as the train step records them: every option of its type but the label and
    training overrides (MDGD-GM's alpha from the cell name here)."""
    given = {"alpha": float(method.rsplit("_", 1)[1])} if mtype == "mdgd_gm" else {}
    plain = as_plain(METHODS[mtype].config(**given))
    return {k: v for k, v in plain.items() if k not in ("label", "training")}


def _write_cell(root, method, mtype, label, seed, params, scores, rng, n=24, d=16, n_tok=16):
    cell = root / "tiny-llava" / "caption" / method / f"seed{seed}"
    cell.mkdir(parents=True)
    tasks = {}
    for t in TASKS:
        metrics = {"accuracy": scores[t] / 100}
        if KINDS[t] == "yes_no":
            metrics.update(f1=scores[t] / 100 - 0.01, yes_ratio=0.5)
        tasks[t] = {
            "role": "target" if t == "caption" else "pretrain",
            "kind": KINDS[t],
            "score": scores[t],
            "metrics": metrics,
            "erank_per_image": float(rng.uniform(3, 8)),
            "erank_pooled": float(rng.uniform(10, 20)),
            "erank_per_token": rng.uniform(1, 10, n_tok).tolist(),
        }
    json.dump(
        {
            "backbone": "tiny-llava",
            "target": "caption",
            "method": method,
            "method_type": mtype,
            "label": label,
            "seed": seed,
            "trainable_params": params,
            "options": _options(mtype, method),
            "erank_options": {"layer": -1, "centre": False, "variant": "singular"},
            "tasks": tasks,
            "task_order": TASKS,
        },
        open(cell / "metrics.json", "w"),
    )
    shift = 0.0 if mtype == "zero_shot" else 2.0
    np.savez(
        cell / "representations.npz",
        **{f"{k}__{t}": rng.normal(shift, 1, (n, d)) for k in ("visual", "multimodal") for t in TASKS},
    )
    if mtype != "zero_shot":
        steps = np.arange(40)
        log = pd.DataFrame(
            {
                "step": steps,
                "loss": 3 * np.exp(-steps / 15) + rng.normal(0, 0.05, 40),
                "lv": np.nan if mtype == "finetune" else rng.uniform(0, 1, 40),
                "cosine": np.nan if mtype == "finetune" else rng.uniform(0.5, 1, 40),
                "fraction_updated": np.nan,
            }
        )
        log.to_csv(cell / "train_log.csv", index=False)
    return cell


@pytest.fixture
def cell_dirs(tmp_path):
    rng = np.random.default_rng(0)
    return [_write_cell(tmp_path / "cells", *s, rng) for s in SPECS]


def _harmonic(a, b):
    return 2 * a * b / (a + b)


def test_table_means_stds_avg_h_scores_and_forgetting(cell_dirs, tmp_path):
    written = aggregate(cell_dirs, tmp_path / "tables", tmp_path / "figures", "tiny-llava", "caption")
    df = pd.read_csv(tmp_path / "tables" / "tiny-llava_caption.csv")
    assert list(df["label"]) == ["Zero-shot", "Fine-tune", "MDGD", "MDGD-GM (α=0.1)", "MDGD-GM (α=0.5)"]
    ft = df.set_index("method").loc["finetune"]
    assert ft["vqa"] == pytest.approx(45.0) and ft["vqa_std"] == pytest.approx(math.sqrt(50))
    assert ft["caption"] == pytest.approx(45.0)
    avg, pretrained, zs_pretrained = (45 + 65 + 45) / 3, (45 + 65) / 2, (60 + 80) / 2
    assert ft[AVG] == pytest.approx(avg)  # target included in Avg
    assert ft[H_AVG_TARGET] == pytest.approx(_harmonic(avg, 45.0))
    assert ft[H_PRETRAINED_AVG] == pytest.approx(_harmonic(pretrained, avg))  # the row's own pre-trained mean
    assert ft[FORGETTING_POINTS] == pytest.approx(zs_pretrained - pretrained)
    assert ft[FORGETTING_RELATIVE] == pytest.approx(100 * (zs_pretrained - pretrained) / zs_pretrained)
    assert ft[f"{AVG}_ci"] == pytest.approx(12.706205 * ft[f"{AVG}_std"] / math.sqrt(2), rel=1e-6)  # t(1)
    assert ft["n_seeds"] == 2
    zs = df.set_index("method").loc["zero_shot"]
    assert zs[FORGETTING_POINTS] == pytest.approx(0.0) and zs[FORGETTING_RELATIVE] == pytest.approx(0.0)
    assert math.isnan(zs["#Params"])
    md = (tmp_path / "tables" / "tiny-llava_caption.md").read_text()
    assert "45.00 ± 7.07" in md and "1.2M" in md and "35K" in md and "Seeds: 0, 1" in md
    header = (
        "| Avg | H (Avg, target) | H (pre-trained, Avg) | Forgetting (points) | Forgetting (relative %) |"
    )
    assert header in md
    assert "the paper's Table 1" in md and "the paper's Table 2" in md and "count at most 100" in md
    for name in FIGURES:
        png = tmp_path / "figures" / f"tiny-llava_caption_{name}.png"
        assert png in written and png.stat().st_size > 5000


def test_caption_scores_above_100_count_as_100_in_avg_h_and_forgetting(cell_dirs, tmp_path):
    aggregate(cell_dirs, tmp_path / "tables", tmp_path / "figures", "tiny-llava", "caption")
    mdgd = pd.read_csv(tmp_path / "tables" / "tiny-llava_caption.csv").set_index("method").loc["mdgd"]
    assert mdgd["caption"] == pytest.approx(145.0)  # its own column is the uncapped CIDEr x 100
    avg = (58 + 79 + 100) / 3
    assert mdgd[AVG] == pytest.approx(avg)
    assert mdgd[H_AVG_TARGET] == pytest.approx(_harmonic(avg, 100.0))
    assert mdgd[H_PRETRAINED_AVG] == pytest.approx(_harmonic((58 + 79) / 2, avg))


def test_two_seeds_h_scores_come_from_the_means_and_caption_caps_per_seed():
    def cell(seed, caption):
        return {
            "method": "finetune",
            "seed": seed,
            "task_order": ["a", "cap"],
            "tasks": {
                "a": {"role": "pretrain", "kind": "open", "score": 50.0 + 10 * seed},
                "cap": {"role": "target", "kind": "caption", "score": caption},
            },
        }

    row = build_table([cell(0, 300.0), cell(1, 40.0)]).iloc[0]
    # the cap applies to each seed's score before the mean: (100 + 40) / 2, not min((300 + 40) / 2, 100)
    avg = ((50 + 100) / 2 + (60 + 40) / 2) / 2
    assert row[AVG] == pytest.approx(avg)
    assert row[H_AVG_TARGET] == pytest.approx(_harmonic(avg, 70.0))
    assert row[H_PRETRAINED_AVG] == pytest.approx(_harmonic(55.0, avg))
    assert row["cap"] == pytest.approx(170.0)
    # no zero-shot row: forgetting has no reference
    assert math.isnan(row[FORGETTING_POINTS]) and math.isnan(row[FORGETTING_RELATIVE])


def test_figures_cope_with_missing_methods(cell_dirs, tmp_path):
    # only zero-shot and the NaN-logging fine-tune: no MDGD, no alpha sweep
    keep = [d for d in cell_dirs if d.parent.name in ("zero_shot", "finetune")]
    written = aggregate(keep, tmp_path / "t", tmp_path / "f", "tiny-llava", "caption")
    # table csv and md, comparisons and knowledge csv
    assert all(p.exists() for p in written) and len(written) == 4 + len(FIGURES)


def test_build_table_single_seed_std_is_nan_and_params_format():
    cells = [
        {
            "method": "zero_shot",
            "method_type": "zero_shot",
            "label": "Zero-shot",
            "seed": 0,
            "trainable_params": None,
            "task_order": ["a", "t"],
            "tasks": {
                "a": {"role": "pretrain", "kind": "open", "score": 65.23},
                "t": {"role": "target", "kind": "open", "score": 5.44},
            },
        }
    ]
    df = build_table(cells)
    assert math.isnan(df.loc[0, "a_std"])
    assert df.loc[0, H_AVG_TARGET] == pytest.approx(_harmonic(35.335, 5.44))
    assert df.loc[0, H_PRETRAINED_AVG] == pytest.approx(_harmonic(65.23, 35.335))
    assert "at most 100" not in df.attrs["caption"]  # no caption task, nothing capped
    assert [format_params(x) for x in (1.2e9, 517e6, 35e3, 52_000_000, 999)] == [
        "1.2B",
        "517M",
        "35K",
        "52M",
        "999",
    ]


def test_alpha_comes_from_method_options_then_the_cell_name():
    from mllm_forgetting.reporting.figures import alpha_of

    assert alpha_of({"method": "gm_small", "options": {"alpha": 0.3}}) == 0.3
    assert alpha_of({"method": "mdgd_gm_0.5", "options": {}}) == 0.5
    assert alpha_of({"method": "finetune"}) is None


# ---------------------------------------------------------------------------- run profile


def _bench(path, *seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(
        f"{s}\t0:00:{int(s):02d}\t{100 + i}\t1\t1\t1\t0\t0\t50\t{s}\n" for i, s in enumerate(seconds)
    )
    path.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n" + rows
    )


def test_run_profile_groups_training_by_method_and_reads_the_newest_row(tmp_path):
    from mllm_forgetting.reporting.run_profile import format_profile, job_table, profile

    _bench(tmp_path / "pretrain/tiny.tsv", 50.0)
    _bench(tmp_path / "train/tiny/caption/mdgd/seed0.tsv", 30.0)
    _bench(tmp_path / "train/tiny/okvqa/mdgd/seed0.tsv", 99.0, 10.0)  # rerun: the last row counts
    _bench(tmp_path / "train/tiny/okvqa/lora/seed0.tsv", 5.0)
    _bench(tmp_path / "evaluate/tiny/okvqa/lora/seed0.tsv", 5.0)
    table = profile(job_table(tmp_path))
    assert list(table.index) == ["pretrain", "train/mdgd", "evaluate", "train/lora"]  # largest first
    assert table.loc["train/mdgd", "jobs"] == 2 and table.loc["train/mdgd", "seconds"] == 40.0
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.loc["pretrain", "share"] == pytest.approx(50 / 100)
    text = format_profile(table, cores=2)
    assert "| train/mdgd | 2 | 40 | 40.0% | 20.0 | 30.0 |" in text
    assert "100 job-seconds over 2 cores" in text


def test_run_profile_without_benchmarks_says_so(tmp_path):
    from mllm_forgetting.reporting.run_profile import job_table

    with pytest.raises(ValueError, match="no benchmark files"):
        job_table(tmp_path)


def _question_cell(method, mtype, seed, right: dict) -> dict:
    """A cell whose per-question values say which of 100 questions per task it got right."""
    tasks = {}
    for task, kind in (("vqa", "open"), ("gqa", "open"), ("caption", "open")):
        values = [100.0 if q < right[task] else 0.0 for q in range(100)]
        tasks[task] = {
            "role": "target" if task == "caption" else "pretrain",
            "kind": kind,
            "score": float(np.mean(values)),
            "per_question": values,
            "statistic": "mean",
        }
    return {
        "method": method,
        "method_type": mtype,
        "label": method,
        "seed": seed,
        "tasks": tasks,
        "task_order": ["vqa", "gqa", "caption"],
    }


def test_comparisons_to_finetuning_test_forgetting_and_the_target():
    from mllm_forgetting.reporting.comparisons import compare_methods

    cells = []
    for seed in (0, 1, 2):
        cells.append(_question_cell("zero_shot", "zero_shot", seed, {"vqa": 80, "gqa": 70, "caption": 10}))
        cells.append(_question_cell("finetune", "finetune", seed, {"vqa": 50, "gqa": 40, "caption": 60}))
        # forgets 20 points less, learns the target as well
        cells.append(
            _question_cell("mdgd", "mdgd", seed, {"vqa": 70 + seed, "gqa": 60 - seed, "caption": 60})
        )
        # MDGD-GM: as MDGD on the pre-trained tasks, 5 points less on the target
        right = {"vqa": 70 + seed, "gqa": 60 - seed, "caption": 55}
        cells.append(_question_cell("mdgd_gm_0.1", "mdgd_gm", seed, right))
    everything = compare_methods(cells, resamples=2000)
    against_mdgd = everything[everything["versus"] == "mdgd"].set_index("quantity")
    assert set(against_mdgd["method"]) == {"mdgd_gm_0.1"}
    assert against_mdgd.loc["pre-trained", "difference"] == pytest.approx(0.0)
    assert against_mdgd.loc["target", "difference"] == pytest.approx(-5.0)
    found = everything[(everything["versus"] == "finetune") & (everything["method"] == "mdgd")]
    found = found.set_index("quantity")
    assert found.loc["pre-trained", "difference"] == pytest.approx(20.0)
    assert found.loc["pre-trained", "p_value"] < 0.01 and found.loc["pre-trained", "ci_low"] > 0
    assert found.loc["target", "difference"] == pytest.approx(0.0)
    assert found.loc["target", "p_value"] == 1.0  # never better on the target
    assert set(found["seeds"]) == {3}
    assert set(everything[everything["versus"] == "finetune"]["method"]) == {"mdgd", "mdgd_gm_0.1"}


def test_no_comparisons_without_per_question_values():
    from mllm_forgetting.reporting.comparisons import compare_methods

    cells = [_question_cell(m, m, 0, {"vqa": 50, "gqa": 40, "caption": 60}) for m in ("finetune", "mdgd")]
    del cells[1]["tasks"]["vqa"]["per_question"]
    assert compare_methods(cells).empty


def _with_knowledge(cell: dict, probe_right: int, likelihood_right: int) -> dict:
    """The cell with probes (colour, shape: `probe_right` of 50 test images) and a likelihood score on vqa."""
    values = [100.0 if q < probe_right else 0.0 for q in range(50)]
    probe = {"score": float(np.mean(values)), "majority": 25.0, "per_question": values, "statistic": "mean"}
    cell["probes"] = {a: {**probe, "n_train": 200, "n_test": 50, "classes": 4} for a in ("color", "shape")}
    for task in cell["tasks"]:
        right = [100.0 if q < likelihood_right else 0.0 for q in range(100)]
        cell["tasks"][task]["likelihood"] = {
            "score": float(np.mean(right)),
            "statistic": "mean",
            "per_question": right,
        }
    return cell


def test_knowledge_table_sets_probes_and_likelihood_beside_generated_scores_and_probes_are_compared():
    from mllm_forgetting.reporting.comparisons import compare_methods
    from mllm_forgetting.reporting.knowledge import build_knowledge_table, to_markdown

    cells = []
    for seed in (0, 1):
        zs = _question_cell("zero_shot", "zero_shot", seed, {"vqa": 80, "gqa": 70, "caption": 10})
        ft = _question_cell("finetune", "finetune", seed, {"vqa": 50, "gqa": 40, "caption": 60})
        md = _question_cell("mdgd", "mdgd", seed, {"vqa": 70, "gqa": 60, "caption": 60})
        cells += [
            _with_knowledge(zs, 45, 80),
            _with_knowledge(ft, 30 + seed * 2, 75),
            _with_knowledge(md, 40, 78),
        ]
    table = build_knowledge_table(cells).set_index("method")
    assert table.loc["finetune", "probe: color"] == pytest.approx(62.0)  # (60 + 64) / 2
    assert table.loc["finetune", "probe: color_std"] == pytest.approx(np.std([60, 64], ddof=1))
    assert table.loc["finetune", "vqa (generated)"] == 50 and table.loc["finetune", "vqa (likelihood)"] == 75
    md_text = to_markdown(build_knowledge_table(cells))
    assert "majority baseline is color 25.0, shape 25.0" in md_text and "| mdgd | 80.00 ± 0.00" in md_text
    probes = compare_methods(cells, resamples=500).set_index(["method", "versus", "quantity"])
    assert probes.loc[("mdgd", "finetune", "probes"), "difference"] == pytest.approx(80 - 62)


def test_no_knowledge_table_without_probes_or_likelihood_scores():
    from mllm_forgetting.reporting.knowledge import build_knowledge_table

    cells = [_question_cell(m, m, 0, {"vqa": 50, "gqa": 40, "caption": 60}) for m in ("finetune", "mdgd")]
    assert build_knowledge_table(cells).empty
