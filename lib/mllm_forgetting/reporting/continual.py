"""Tables and figures of a continual sequence, from its stages' metrics.json (and stage 0's).

Per method and seed, the accuracy matrix R (row 0 the pre-trained model, row k after stage k, one column
per task of the sequence; caption scores capped at 100 as in every average) gives metrics/continual.py's
Last, MAA, MFT, BWT, F and FWT, and the pre-trained tasks' mean after the last stage against the
pre-trained model's gives the retention (points and relative %, the MDGD paper's convention). The table
holds one row per method, the mean over seeds with sample std and 95% t-interval columns; each
method's matrix is also written in MCITlib's lower-triangular layout (rows = stages 1..T, columns = tasks,
entries after the diagonal are tasks not yet learnt, left empty; row 0 above them).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..metrics.continual import continual_metrics, pretrained_retention  # noqa: E402
from ..metrics.statistics import seed_summary  # noqa: E402
from ..metrics.summary import score_for_averages  # noqa: E402
from .tables import format_cell, format_params  # noqa: E402

METRICS = ("Last", "MAA", "MFT", "BWT", "F", "FWT")
RETENTION = ("Retention (points)", "Retention (relative %)")
COLUMNS = (*METRICS, *RETENTION)


def load_stages(stage_dirs) -> dict:
    """{(method, seed): [metrics of stage 1, 2, ...]} from stage directories, in stage order."""
    runs: dict = {}
    for d in stage_dirs:
        m = json.loads((Path(d) / "metrics.json").read_text())
        runs.setdefault((m["method"], m["seed"]), []).append(m)
    for stages in runs.values():
        stages.sort(key=lambda m: m["index"])
    return runs


def task_score(metrics: dict, task: str) -> float:
    entry = metrics["tasks"][task]
    return score_for_averages(entry["kind"], entry["score"])


def accuracy_matrix(stage0: dict, stages: list, tasks: list) -> np.ndarray:
    """(T + 1) x T: stage 0's scores, then each stage's, on the sequence's tasks."""
    return np.array([[task_score(m, t) for t in tasks] for m in [stage0, *stages]])


def pretrained_means(stage0: dict, stages: list, pretrain_tasks: list) -> list:
    return [float(np.mean([task_score(m, t) for t in pretrain_tasks])) for m in [stage0, *stages]]


def run_row(
    stage0: dict, stages: list, tasks: list, pretrain_tasks: list, bwt_over: str = "previous"
) -> dict:
    """One seed of one method: the continual metrics and the last stage's pre-trained retention."""
    metrics = continual_metrics(accuracy_matrix(stage0, stages, tasks), bwt_over=bwt_over)
    retention = pretrained_retention(pretrained_means(stage0, stages, pretrain_tasks))[-1]
    return {
        **{k: metrics[k] for k in METRICS},
        RETENTION[0]: retention["points"],
        RETENTION[1]: retention["relative"],
    }


def build_continual_table(stage0: dict, runs: dict, order: list) -> pd.DataFrame:
    """One row per method (config order): mean, `_std` and `_ci` (95% t half-width) over seeds."""
    tasks = stage0["sequence_tasks"]
    pretrain_tasks = [t for t in stage0["task_order"] if t not in tasks]
    rows = []
    for method in _methods(runs, order):
        seeds = sorted(s for m, s in runs if m == method)
        per_seed = [run_row(stage0, runs[(method, s)], tasks, pretrain_tasks) for s in seeds]
        first = runs[(method, seeds[0])][-1]
        row = {"method": method, "label": first["label"], "seeds": " ".join(map(str, seeds))}
        for col in COLUMNS:
            summary = seed_summary([r[col] for r in per_seed])
            row[col], row[f"{col}_std"], row[f"{col}_ci"] = (
                summary["mean"],
                summary["std"],
                summary["ci_half_width"],
            )
        row["#Params"] = first["trainable_params"]
        rows.append(row)
    return pd.DataFrame(rows)


def table_markdown(df: pd.DataFrame, title: str, caption: str) -> str:
    head = ["Method", *COLUMNS, "#Params"]
    lines = [f"### {title}", "", caption, "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for _, r in df.iterrows():
        values = [format_cell(r[c], r[f"{c}_std"], r[f"{c}_ci"]) for c in COLUMNS]
        lines.append("| " + " | ".join([str(r["label"]), *values, format_params(r["#Params"])]) + " |")
    return "\n".join(lines) + "\n"


def matrix_frame(stage0: dict, runs: dict, method: str, tasks: list) -> pd.DataFrame:
    """The method's mean accuracy matrix over seeds, lower-triangular: stage k's row holds tasks 1..k."""
    seeds = sorted(s for m, s in runs if m == method)
    R = np.mean([accuracy_matrix(stage0, runs[(method, s)], tasks) for s in seeds], axis=0)
    shown = np.where(np.tril(np.ones((len(tasks), len(tasks)), dtype=bool)), R[1:], np.nan)
    frame = pd.DataFrame(np.vstack([R[:1], shown]), columns=tasks).round(4)  # scores in points
    frame.insert(0, "stage", ["0_pretrained"] + [f"{k}_{t}" for k, t in enumerate(tasks, 1)])
    return frame


def aggregate_continual(
    stage0_file, stage_dirs, tables: Path, figures: Path, backbone: str, sequence: str, order: list
) -> pd.DataFrame:
    stage0 = json.loads(Path(stage0_file).read_text())
    runs = load_stages(stage_dirs)
    tasks = runs[next(iter(runs))][0]["sequence_tasks"]
    stage0 = {**stage0, "sequence_tasks": tasks}
    tables.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    df = build_continual_table(stage0, runs, order)
    stem = f"{backbone}_{sequence}"
    df.to_csv(tables / f"{stem}.csv", index=False)
    seeds = sorted({s for _, s in runs})
    caption = (
        f"Backbone `{backbone}`, sequence `{sequence}`: {' → '.join(tasks)}. Last = mean over tasks after "
        "the last stage; MAA = mean over stages of the seen tasks' mean; MFT = each task just after it "
        "was learnt; BWT = last minus just-learnt, over the T-1 earlier tasks; F = best minus last, over "
        "the T-1 earlier tasks; FWT = a task's score just before its stage minus the pre-trained model's; "
        "Retention = the pre-trained tasks' mean after the last stage minus the pre-trained model's "
        "(points, and % of it). Scores are in points; a caption's CIDEr (x 100) counts as at most 100, in "
        f"the matrices too. Seeds: {', '.join(map(str, seeds))} (mean ± sample std [95% t-interval] where "
        ">1 seed)."
    )
    (tables / f"{stem}.md").write_text(table_markdown(df, f"{backbone} · {sequence}", caption))
    for method in order:
        if any(m == method for m, _ in runs):
            matrix_frame(stage0, runs, method, tasks).to_csv(
                tables / f"{stem}_{method}_matrix.csv", index=False
            )
    labels = dict(zip(df["method"], df["label"]))
    plot_matrices(stage0, runs, order, tasks, labels, figures / f"{stem}_matrices.png")
    plot_task_curves(stage0, runs, order, tasks, labels, figures / f"{stem}_task_curves.png")
    plot_erank_stages(stage0, runs, order, labels, figures / f"{stem}_erank_stages.png")
    plot_bwt_retention(df, figures / f"{stem}_bwt_retention.png")
    return df


def _methods(runs, order):
    return [m for m in order if any(k[0] == m for k in runs)]


def _mean_matrix(stage0, runs, method, tasks):
    seeds = sorted(s for m, s in runs if m == method)
    return np.mean([accuracy_matrix(stage0, runs[(method, s)], tasks) for s in seeds], axis=0)


def plot_matrices(stage0, runs, order, tasks, labels, path):
    methods = _methods(runs, order)
    cols = min(5, len(methods))
    rows = math.ceil(len(methods) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat[len(methods) :]:
        ax.axis("off")
    for ax, method in zip(axes.flat, methods):
        R = _mean_matrix(stage0, runs, method, tasks)
        ax.imshow(R, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        for (k, i), v in np.ndenumerate(R):
            ax.text(
                i, k, f"{v:.0f}", ha="center", va="center", fontsize=6, color="white" if v < 60 else "black"
            )
        ax.set_title(labels.get(method, method), fontsize=8)
        ax.set_xticks(range(len(tasks)), tasks, rotation=60, fontsize=6)
        ax.set_yticks(range(len(tasks) + 1), ["pre"] + [str(k) for k in range(1, len(tasks) + 1)], fontsize=6)
    for row in axes:
        row[0].set_ylabel("after stage")
    fig.suptitle("accuracy matrix R[stage][task] (mean over seeds)", fontsize=9)
    _save(fig, path)


def plot_task_curves(stage0, runs, order, tasks, labels, path):
    fig, axes = plt.subplots(1, len(tasks), figsize=(2.6 * len(tasks), 2.6), squeeze=False, sharey=True)
    for i, (ax, task) in enumerate(zip(axes[0], tasks)):
        for method in _methods(runs, order):
            R = _mean_matrix(stage0, runs, method, tasks)
            ax.plot(range(len(tasks) + 1), R[:, i], marker="o", ms=3, label=labels.get(method, method))
        ax.axvline(i + 1, color="grey", lw=0.8, ls=":")
        ax.set_title(task, fontsize=8)
        ax.set_xlabel("stage", fontsize=7)
    axes[0][0].set_ylabel("score")
    axes[0][-1].legend(fontsize=6, loc="best")
    _save(fig, path)


def plot_erank_stages(stage0, runs, order, labels, path):
    """Mean per-image effective rank of the image-token states over every scored task, stage by stage."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    base = _erank(stage0)
    for method in _methods(runs, order):
        seeds = sorted(s for m, s in runs if m == method)
        curves = np.array([[base] + [_erank(m) for m in runs[(method, s)]] for s in seeds])
        ax.plot(range(curves.shape[1]), curves.mean(0), marker="o", ms=3, label=labels.get(method, method))
    ax.set_xlabel("stage (0 = pre-trained)")
    ax.set_ylabel("effective rank (mean over tasks)")
    ax.legend(fontsize=6)
    _save(fig, path)


def _erank(metrics: dict) -> float:
    values = [e["erank_per_image"] for e in metrics["tasks"].values()]
    return float(np.mean([v for v in values if v is not None and math.isfinite(v)]))


def plot_bwt_retention(df: pd.DataFrame, path):
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    for _, r in df.iterrows():
        ax.scatter(r["BWT"], r[RETENTION[0]], s=18)
        ax.annotate(
            str(r["label"]),
            (r["BWT"], r[RETENTION[0]]),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.axhline(0, color="grey", lw=0.6)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_xlabel("BWT (points)")
    ax.set_ylabel("pre-trained retention (points)")
    _save(fig, path)


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
