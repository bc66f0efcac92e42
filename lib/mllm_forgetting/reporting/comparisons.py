"""Each method against fine-tuning, with a paired bootstrap over seeds and test questions.

Two questions per method and setting, the claims the MDGD paper makes:
  pre-trained   does it forget less? A's minus fine-tuning's mean score over the pre-trained tasks (the
                forgetting difference with the sign turned: positive = forgets less);
  target        does it learn the target as well? A's minus fine-tuning's target score.
Each is the observed difference, its 95% bootstrap interval and the one-sided p-value of "A is not
better" (metrics/statistics.py). Scores are resampled from each question's part in them
(metrics/questions.py), uncapped: a caption's CIDEr counts as it is, unlike in the table's Avg.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics.questions import STATISTICS
from ..metrics.statistics import paired_bootstrap
from .tables import is_zero_shot, method_order, task_columns

REFERENCE_TYPE = "finetune"
COLUMNS = ["method", "label", "versus", "quantity", "difference", "ci_low", "ci_high", "p_value", "seeds"]


def _values(cells: list[dict], tasks: list[str]) -> tuple[dict, dict]:
    """({task: (seeds, questions) array}, {task: statistic}) of cells sorted by seed."""
    arrays = {t: np.asarray([c["tasks"][t]["per_question"] for c in cells], dtype=float) for t in tasks}
    return arrays, {t: STATISTICS[cells[0]["tasks"][t]["statistic"]] for t in tasks}


def compare_to_finetuning(
    cells: list[dict], order: list | None = None, resamples: int = 10_000
) -> pd.DataFrame:
    """One row per (method, quantity) for every tuned method but fine-tuning; empty without a fine-tune
    cell or per-question values (metrics.json written before they were recorded)."""
    pre, target = task_columns(cells)
    by_method = {m: [c for c in cells if c["method"] == m] for m in method_order(cells, order)}
    reference = next((m for m, g in by_method.items() if g[0].get("method_type") == REFERENCE_TYPE), None)
    if reference is None or not all("per_question" in t for c in cells for t in c["tasks"].values()):
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for method, group in by_method.items():
        if method == reference or is_zero_shot(group[0]):
            continue
        seeds = sorted({c["seed"] for c in group} & {c["seed"] for c in by_method[reference]})
        if not seeds:
            continue
        mine = [next(c for c in group if c["seed"] == s) for s in seeds]
        theirs = [next(c for c in by_method[reference] if c["seed"] == s) for s in seeds]
        for quantity, tasks in (("pre-trained", pre), ("target", [target])):
            a, statistics = _values(mine, tasks)
            b, _ = _values(theirs, tasks)
            found = paired_bootstrap(a, b, statistics=statistics, resamples=resamples)
            rows.append(
                {
                    "method": method,
                    "label": group[0].get("label", method),
                    "versus": reference,
                    "quantity": quantity,
                    "difference": found["difference"],
                    "ci_low": found["ci"][0],
                    "ci_high": found["ci"][1],
                    "p_value": found["p_value"],
                    "seeds": len(seeds),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def to_markdown(df: pd.DataFrame, reference_label: str) -> str:
    """The comparisons as a pipe table under a heading that says what they test."""
    if df.empty:
        return ""
    lines = [
        f"#### Against {reference_label} (paired bootstrap over seeds and test questions)",
        "",
        "Difference = method minus fine-tuning; pre-trained: mean score over the pre-trained tasks "
        "(positive = forgets less); target: the target score. p: one-sided, of no improvement.",
        "",
        "| Method | Quantity | Difference | 95% interval | p | Seeds |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for _, r in df.iterrows():
        lines.append(
            f"| {r['label']} | {r['quantity']} | {r['difference']:+.2f} | "
            f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] | {r['p_value']:.4f} | {r['seeds']} |"
        )
    return "\n".join(lines) + "\n"
