"""Paper-style results table (Tables 1-2) for one (backbone, target) pair.

One row per method (zero-shot first), one column per task (pre-trained tasks,
then the target), then Avg, Hscore, Forgetting, POPE-style F1 and #Params.
Several seeds -> mean in `<col>` and sample std (ddof=1) in `<col>_std`; the
CSV keeps raw floats, only the Markdown is formatted.

Definitions (match the paper's Table 2, see metrics.summary.h_score):
  Avg        = mean over ALL tasks of the row, target included.
  Hscore     = h_score(Avg, target) computed from the row's MEAN Avg and MEAN
               target, so every printed row is self-consistent; Hscore_std is
               the spread of per-seed H-scores.
  Forgetting = mean pre-trained score of zero-shot minus this row's
               (positive = forgot); Forgetting_std is over this row's seeds.
"""

import math

import numpy as np
import pandas as pd

from ..metrics import METRIC_NAMES
from ..metrics.summary import forgetting, h_score, row_average

ZERO_SHOT = "zero_shot"


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


def _seed_row(cell: dict, pre: list, target: str, zs_pre_mean: float) -> dict:
    """All numeric columns for one seed of one method."""
    t = cell["tasks"]
    scores = {k: float(t[k]["score"]) for k in pre + [target]}
    avg = row_average(scores)
    row = dict(scores, Avg=avg, Hscore=h_score(avg, scores[target]))
    row["Forgetting"] = forgetting(zs_pre_mean, float(np.mean([scores[k] for k in pre])))
    for k in pre + [target]:
        if t[k].get("kind") == "yes_no" and "f1" in t[k].get("metrics", {}):
            row[f"{k.upper()} F1"] = 100.0 * float(t[k]["metrics"]["f1"])
    return row


def build_table(cells: list, order: list | None = None) -> pd.DataFrame:
    """One row per method (label), columns `<col>` = mean and `<col>_std` = std over seeds."""
    pre, target = task_columns(cells)
    zs = [c for c in cells if is_zero_shot(c)]
    # forgetting is relative to zero-shot; without a zero-shot cell it is undefined (NaN)
    zs_pre_mean = float(np.mean([[c["tasks"][k]["score"] for k in pre] for c in zs])) if zs else math.nan
    rows = []
    for m in method_order(cells, order):
        group = sorted((c for c in cells if c["method"] == m), key=lambda c: c.get("seed", 0))
        per_seed = pd.DataFrame([_seed_row(c, pre, target, zs_pre_mean) for c in group])
        mean, std = per_seed.mean(), per_seed.std(ddof=1)
        # keep Hscore consistent with the printed Avg and target (see module docstring)
        mean["Hscore"] = h_score(mean["Avg"], mean[target])
        row = {
            "method": m,
            "label": group[0].get("label", m),
            "n_seeds": len(group),
            "seeds": " ".join(str(c.get("seed", "")) for c in group),
        }
        for col in per_seed.columns:
            row[col], row[f"{col}_std"] = float(mean[col]), float(std[col])
        p = group[0].get("trainable_params")
        row["#Params"] = float(p) if p is not None else math.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs.update(pretrained=pre, target=target, caption=caption_line(cells))
    return df


def value_columns(df: pd.DataFrame) -> list:
    """Displayed numeric columns in table order (means only, no *_std, no #Params)."""
    skip = {"method", "label", "n_seeds", "seeds", "#Params"}
    return [c for c in df.columns if c not in skip and not c.endswith("_std")]


def _fmt(mean, std) -> str:
    if mean is None or math.isnan(mean):
        return "-"
    return f"{mean:.2f}" if std is None or math.isnan(std) else f"{mean:.2f} ± {std:.2f}"


def to_markdown(df: pd.DataFrame, title: str = "", caption: str = "") -> str:
    """Pipe table (no tabulate dependency): 'mean ± std' cells, #Params like 1.2M."""
    cols = value_columns(df)
    head = ["Method"] + cols + ["#Params"]
    lines = [f"### {title}", ""] if title else []
    if caption:
        lines += [caption, ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for _, r in df.iterrows():
        cells = (
            [str(r["label"])] + [_fmt(r[c], r.get(f"{c}_std")) for c in cols] + [format_params(r["#Params"])]
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def caption_line(cells: list) -> str:
    """One-line caption: backbone, target, metric per task, seeds."""
    c = cells[0]
    pre, target = task_columns(cells)
    per_task = ", ".join(f"{t}: {METRIC_NAMES[c['tasks'][t]['kind']]}" for t in pre + [target])
    seeds = sorted({str(x.get("seed")) for x in cells})
    return (
        f"Backbone `{c.get('backbone')}`, target `{target}`. Metrics — {per_task}. "
        f"Avg = mean over all tasks incl. target; Hscore = harmonic mean of Avg and target; "
        f"Forgetting = zero-shot minus method mean pre-trained score. "
        f"Seeds: {', '.join(seeds)} (mean ± sample std where >1 seed)."
    )


def write_table(df: pd.DataFrame, csv_path, md_path, title: str = "", caption: str | None = None) -> None:
    """CSV with raw floats; Markdown with the caption build_table stored in df.attrs."""
    df.to_csv(csv_path, index=False)
    with open(md_path, "w") as f:
        f.write(to_markdown(df, title, df.attrs.get("caption", "") if caption is None else caption))
