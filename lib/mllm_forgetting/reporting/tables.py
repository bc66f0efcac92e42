"""Paper-style results table (Tables 1-2) for one (backbone, target) pair.

One row per method (zero-shot first), one column per task (pre-trained tasks,
then the target), then Avg, both H-scores, forgetting in points and in relative %
and #Params (POPE's column is its F1, the score the paper reports). Several seeds -> mean in `<col>`,
sample std (ddof=1) in `<col>_std` and the half-width of the 95% t-interval of the mean in `<col>_ci`;
the CSV keeps raw floats, only the Markdown is formatted.

Definitions (metrics.summary; each checked against the paper by tests/test_paper_arithmetic.py):
  Avg                     = mean over ALL tasks of the row, target included (Tables 1 and 2).
  H (Avg, target)         = harmonic mean of Avg and the target score (the paper's Table 2).
  H (pre-trained, Avg)    = harmonic mean of the row's own pre-trained-task mean and Avg (Table 1).
  Forgetting (points)     = zero-shot's pre-trained-task mean minus this row's (positive = forgot).
  Forgetting (relative %) = the same as a % of zero-shot's mean (how the paper's Section 6.1 quotes it).
Caption scores (CIDEr x 100) enter Avg, the H-scores and forgetting capped at 100
(metrics.summary.score_for_averages); their own column shows them uncapped.
Both H-scores of a row come from its MEAN Avg, pre-trained mean and target, so every
printed row is self-consistent; their _std is the spread of the per-seed H-scores.
"""

import math

import numpy as np
import pandas as pd

from ..metrics import METRIC_NAMES, summary
from ..metrics.statistics import seed_summary

ZERO_SHOT = "zero_shot"
AVG = "Avg"
H_AVG_TARGET = "H (Avg, target)"
H_PRETRAINED_AVG = "H (pre-trained, Avg)"
FORGETTING_POINTS = "Forgetting (points)"
FORGETTING_RELATIVE = "Forgetting (relative %)"
# the row summaries after the task columns, in table order
SUMMARY_COLUMNS = (AVG, H_AVG_TARGET, H_PRETRAINED_AVG, FORGETTING_POINTS, FORGETTING_RELATIVE)
# per-seed inputs of the H-scores, recomputed from their means; not table columns
_PRETRAINED, _TARGET_AVERAGED = "_pretrained", "_target_averaged"


def is_zero_shot(cell: dict) -> bool:
    return cell.get("method_type") == ZERO_SHOT or cell.get("method") == ZERO_SHOT


def method_order(cells: list, order: list | None = None) -> list:
    """Method names, zero-shot first, then `order` (config order) or first appearance."""
    present = list(dict.fromkeys(c["method"] for c in cells))
    ranked = [m for m in (order or []) if m in present] + [m for m in present if m not in (order or [])]
    zs = [m for m in ranked if any(is_zero_shot(c) for c in cells if c["method"] == m)]
    return zs + [m for m in ranked if m not in zs]


def task_columns(cells: list) -> tuple[list, str]:
    """(pre-trained tasks in order, target task) from the first cell's task_order."""
    c = cells[0]
    order = c.get("task_order") or list(c["tasks"])
    target = next((t for t in order if c["tasks"][t].get("role") == "target"), order[-1])
    return [t for t in order if t != target], target


def format_params(n) -> str:
    """Like the paper: 1.2B, 517M, 35K; '-' when unknown (zero-shot)."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    n = float(n)
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            v = n / scale
            return f"{v:.1f}{unit}" if v < 10 else f"{v:.0f}{unit}"
    return f"{n:.0f}"


def _averaged(cell: dict, tasks: list) -> dict:
    """{task: score as it enters Avg, H and forgetting}: captions capped (summary.score_for_averages)."""
    return {k: summary.score_for_averages(cell["tasks"][k]["kind"], cell["tasks"][k]["score"]) for k in tasks}


def _seed_row(cell: dict, pre: list, target: str, zs_pretrained: float) -> dict:
    """All numeric columns for one seed of one method."""
    t = cell["tasks"]
    averaged = _averaged(cell, pre + [target])
    avg, pretrained = summary.row_average(averaged), summary.pretrained_mean(averaged, target)
    row = {k: float(t[k]["score"]) for k in pre + [target]}
    row[AVG] = avg
    row[H_AVG_TARGET] = summary.h_avg_target(avg, averaged[target])
    row[H_PRETRAINED_AVG] = summary.h_pretrained_avg(pretrained, avg)
    row[FORGETTING_POINTS] = summary.forgetting_points(zs_pretrained, pretrained)
    row[FORGETTING_RELATIVE] = summary.forgetting_relative(zs_pretrained, pretrained)
    row[_PRETRAINED], row[_TARGET_AVERAGED] = pretrained, averaged[target]
    return row


def build_table(cells: list, order: list | None = None) -> pd.DataFrame:
    """One row per method (label), columns `<col>` = mean and `<col>_std` = std over seeds."""
    pre, target = task_columns(cells)
    zs = [c for c in cells if is_zero_shot(c)]
    # forgetting is relative to zero-shot; without a zero-shot cell it is undefined (NaN)
    zs_pretrained = float(np.mean([list(_averaged(c, pre).values()) for c in zs])) if zs else math.nan
    rows = []
    for m in method_order(cells, order):
        group = sorted((c for c in cells if c["method"] == m), key=lambda c: c.get("seed", 0))
        per_seed = pd.DataFrame([_seed_row(c, pre, target, zs_pretrained) for c in group])
        mean, std = per_seed.mean(), per_seed.std(ddof=1)
        # keep the H-scores consistent with the printed means (see module docstring)
        mean[H_AVG_TARGET] = summary.h_avg_target(mean[AVG], mean[_TARGET_AVERAGED])
        mean[H_PRETRAINED_AVG] = summary.h_pretrained_avg(mean[_PRETRAINED], mean[AVG])
        row = {
            "method": m,
            "label": group[0].get("label", m),
            "n_seeds": len(group),
            "seeds": " ".join(str(c.get("seed", "")) for c in group),
        }
        for col in per_seed.columns.drop([_PRETRAINED, _TARGET_AVERAGED]):
            row[col], row[f"{col}_std"] = float(mean[col]), float(std[col])
            row[f"{col}_ci"] = seed_summary(per_seed[col])["ci_half_width"]  # 95% t-interval over seeds
        p = group[0].get("trainable_params")
        row["#Params"] = float(p) if p is not None else math.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs.update(pretrained=pre, target=target, caption=caption_line(cells))
    return df


def value_columns(df: pd.DataFrame) -> list:
    """Displayed numeric columns in table order (means only, no *_std, no #Params)."""
    skip = {"method", "label", "n_seeds", "seeds", "#Params"}
    return [c for c in df.columns if c not in skip and not c.endswith(("_std", "_ci"))]


def format_cell(mean, std, ci=None) -> str:
    """'mean', 'mean ± std' (several seeds) or, with a CI half-width, 'mean ± std [low, high]'."""
    if mean is None or math.isnan(mean):
        return "-"
    if std is None or math.isnan(std):
        return f"{mean:.2f}"
    interval = "" if ci is None or math.isnan(ci) else f" [{mean - ci:.2f}, {mean + ci:.2f}]"
    return f"{mean:.2f} ± {std:.2f}{interval}"


def to_markdown(df: pd.DataFrame, title: str = "", caption: str = "") -> str:
    """Pipe table (no tabulate dependency): 'mean ± std' cells, #Params like 1.2M."""
    cols = value_columns(df)
    head = ["Method"] + cols + ["#Params"]
    lines = [f"### {title}", ""] if title else []
    if caption:
        lines += [caption, ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for _, r in df.iterrows():
        values = [
            format_cell(r[c], r.get(f"{c}_std"), r.get(f"{c}_ci") if c in SUMMARY_COLUMNS else None)
            for c in cols
        ]
        cells = [str(r["label"])] + values + [format_params(r["#Params"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def caption_line(cells: list) -> str:
    """One-line caption: backbone, target, metric per task, the columns' conventions, seeds."""
    c = cells[0]
    pre, target = task_columns(cells)
    per_task = ", ".join(f"{t}: {METRIC_NAMES[c['tasks'][t]['kind']]}" for t in pre + [target])
    captions = [t for t in pre + [target] if c["tasks"][t]["kind"] == "caption"]
    cap = (
        f"Caption scores ({', '.join(captions)}: CIDEr×100) count at most 100 in Avg, the H-scores and "
        "forgetting (their columns are uncapped). "
        if captions
        else ""
    )
    seeds = sorted({str(x.get("seed")) for x in cells})
    return (
        f"Backbone `{c.get('backbone')}`, target `{target}`. Metrics — {per_task}. "
        f"{AVG} = mean over all tasks incl. target; "
        f"{H_AVG_TARGET} = harmonic mean of Avg and the target score (the paper's Table 2); "
        f"{H_PRETRAINED_AVG} = harmonic mean of the row's own pre-trained-task mean and Avg "
        "(the paper's Table 1); "
        f"{FORGETTING_POINTS} = zero-shot's pre-trained-task mean minus the row's; "
        f"{FORGETTING_RELATIVE} = that drop as a % of zero-shot's mean (as the paper's text quotes drops). "
        f"{cap}Seeds: {', '.join(seeds)} (mean ± sample std where >1 seed; for the summary columns also "
        "the 95% t-interval of the mean over seeds)."
    )


def write_table(df: pd.DataFrame, csv_path, md_path, title: str = "", caption: str | None = None) -> None:
    """CSV with raw floats; Markdown with the caption build_table stored in df.attrs."""
    df.to_csv(csv_path, index=False)
    with open(md_path, "w") as f:
        f.write(to_markdown(df, title, df.attrs.get("caption", "") if caption is None else caption))
