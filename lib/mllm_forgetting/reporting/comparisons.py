"""Methods against fine-tuning and against MDGD, with a paired bootstrap over seeds and test questions.

The claims the MDGD paper makes, per setting, each as "method A minus reference B":
  pre-trained   A's minus B's mean score over the pre-trained tasks (forgetting with the sign turned:
                positive = A forgets less);
  target        A's minus B's target score (positive = A learns it better);
  probes        A's minus B's mean linear-probe accuracy over the visual attributes (positive = A keeps
                more of what the image shows legible in its image-token states), when the cells have probes.
Every tuned method is compared with fine-tuning (does it forget less, does it still learn the
target?), and the MDGD variants (its other entries of type mdgd, and mdgd_gm) with MDGD (is MDGD-GM
comparable with about 10% of the parameters, is MDGD without visual alignment worse?). Each row gives
the observed difference, its 95% bootstrap interval and the one-sided p-value of "A is not better"
(metrics/statistics.py). Scores are resampled from each question's part in them
(metrics/questions.py), uncapped: a caption's CIDEr counts as it is, unlike in the table's Avg.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics.questions import STATISTICS
from ..metrics.statistics import paired_bootstrap
from .tables import is_zero_shot, method_order, task_columns

# reference method type -> the method types compared with it (None: every tuned method)
REFERENCES = {"finetune": None, "mdgd": ("mdgd", "mdgd_gm")}
COLUMNS = ["method", "label", "versus", "quantity", "difference", "ci_low", "ci_high", "p_value", "seeds"]


def _values(cells: list[dict], part: str, names: list[str]) -> tuple[dict, dict]:
    """({name: (seeds, questions) array}, {name: statistic}) of cells sorted by seed, for the tasks
    (part "tasks") or the probes (part "probes") `names`."""
    arrays = {n: np.asarray([c[part][n]["per_question"] for c in cells], dtype=float) for n in names}
    return arrays, {n: STATISTICS[cells[0][part][n]["statistic"]] for n in names}


def compare_methods(cells: list[dict], order: list | None = None, resamples: int = 10_000) -> pd.DataFrame:
    """One row per (method, reference, quantity); empty without per-question values (metrics.json written
    before they were recorded). A reference is the first method of its type in table order."""
    if not all("per_question" in t for c in cells for t in c["tasks"].values()):
        return pd.DataFrame(columns=COLUMNS)
    pre, target = task_columns(cells)
    by_method = {m: [c for c in cells if c["method"] == m] for m in method_order(cells, order)}
    rows = []
    for reference_type, compared_types in REFERENCES.items():
        reference = next((m for m, g in by_method.items() if g[0].get("method_type") == reference_type), None)
        if reference is None:
            continue
        for method, group in by_method.items():
            if method == reference or is_zero_shot(group[0]):
                continue
            if compared_types is not None and group[0].get("method_type") not in compared_types:
                continue
            rows += _compare(group, by_method[reference], reference, pre, target, resamples)
    return pd.DataFrame(rows, columns=COLUMNS)


def _compare(group, reference_group, reference, pre, target, resamples) -> list[dict]:
    seeds = sorted({c["seed"] for c in group} & {c["seed"] for c in reference_group})
    if not seeds:
        return []
    mine = [next(c for c in group if c["seed"] == s) for s in seeds]
    theirs = [next(c for c in reference_group if c["seed"] == s) for s in seeds]
    quantities = [("pre-trained", "tasks", pre), ("target", "tasks", [target])]
    if all("probes" in c for c in mine + theirs):
        quantities.append(("probes", "probes", list(mine[0]["probes"])))
    rows = []
    for quantity, part, names in quantities:
        a, statistics = _values(mine, part, names)
        b, _ = _values(theirs, part, names)
        found = paired_bootstrap(a, b, statistics=statistics, resamples=resamples)
        rows.append(
            {
                "method": group[0]["method"],
                "label": group[0].get("label", group[0]["method"]),
                "versus": reference,
                "quantity": quantity,
                "difference": found["difference"],
                "ci_low": found["ci"][0],
                "ci_high": found["ci"][1],
                "p_value": found["p_value"],
                "seeds": len(seeds),
            }
        )
    return rows


def to_markdown(df: pd.DataFrame, labels: dict) -> str:
    """The comparisons as one pipe table per reference; labels: method name -> table label."""
    if df.empty:
        return ""
    lines = []
    for reference, rows in df.groupby("versus", sort=False):
        label = labels.get(reference, reference)
        lines += [
            f"#### Against {label} (paired bootstrap over seeds and test questions)",
            "",
            f"Difference = method minus {label}; pre-trained: mean score over the "
            "pre-trained tasks (positive = forgets less); target: the target score; probes: the mean "
            "linear-probe accuracy over the visual attributes. p: one-sided, of no improvement.",
            "",
            "| Method | Quantity | Difference | 95% interval | p | Seeds |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for _, r in rows.iterrows():
            lines.append(
                f"| {r['label']} | {r['quantity']} | {r['difference']:+.2f} | "
                f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] | {r['p_value']:.4f} | {r['seeds']} |"
            )
        lines.append("")
    return "\n".join(lines)
