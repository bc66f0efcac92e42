"""The visual-knowledge table of one (backbone, target): what each method still knows beside what it answers.

One row per method: the linear-probe accuracy of each visual attribute on the frozen image-token states
(metrics/probes.py), then each closed-answer task's score twice, from the generated answer and from the
answer its likelihood ranks first (metrics/likelihood.py). A method whose probes and likelihood scores hold
while its generated scores fall lost the format of its answers, not what it sees. Means over seeds with
sample std and the 95% t-interval of the mean, as the main table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics.statistics import seed_summary
from .tables import format_cell, method_order, task_columns

PROBE_PREFIX = "probe: "


def probe_column(attribute: str) -> str:
    return f"{PROBE_PREFIX}{attribute}"


def generated_column(task: str) -> str:
    return f"{task} (generated)"


def likelihood_column(task: str) -> str:
    return f"{task} (likelihood)"


def _seed_row(cell: dict, tasks: list[str], with_probes: bool) -> dict:
    row = {probe_column(a): p["score"] for a, p in cell["probes"].items()} if with_probes else {}
    for task in tasks:
        t = cell["tasks"][task]
        row[generated_column(task)] = t["score"]
        row[likelihood_column(task)] = t["likelihood"]["score"]
    return row


def build_knowledge_table(cells: list, order: list | None = None) -> pd.DataFrame:
    """Empty when no cell has probes or likelihood scores (metrics.json of an evaluation without them)."""
    pre, target = task_columns(cells)
    tasks = [t for t in pre + [target] if all("likelihood" in c["tasks"][t] for c in cells)]
    with_probes = all("probes" in c for c in cells)  # in every cell or left out: no half-empty columns
    if not tasks and not with_probes:
        return pd.DataFrame()
    rows = []
    for m in method_order(cells, order):
        group = sorted((c for c in cells if c["method"] == m), key=lambda c: c.get("seed", 0))
        per_seed = pd.DataFrame([_seed_row(c, tasks, with_probes) for c in group])
        row = {"method": m, "label": group[0].get("label", m), "n_seeds": len(group)}
        for col in per_seed.columns:
            row[col], row[f"{col}_std"] = float(per_seed[col].mean()), float(per_seed[col].std(ddof=1))
            row[f"{col}_ci"] = seed_summary(per_seed[col])["ci_half_width"]
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["caption"] = _caption(cells, tasks, with_probes)
    return df


def _caption(cells: list, tasks: list[str], with_probes: bool) -> str:
    first = cells[0]
    parts = []
    if with_probes:
        baselines = ", ".join(
            f"{a} {np.mean([c['probes'][a]['majority'] for c in cells]):.1f}" for a in first["probes"]
        )
        p = next(iter(first["probes"].values()))
        parts.append(
            f"Probes: logistic regression on the frozen image-token states of the probe images "
            f"({p['n_train']} train / {p['n_test']} test per attribute), test accuracy in %; the majority "
            f"baseline is {baselines}."
        )
    if tasks:
        parts.append(
            "Closed-answer tasks scored from the generated answer and from the answer with the highest "
            "log-likelihood (the option letters, or the yes and no words), by the same official metric."
        )
    return " ".join(parts) + " Mean ± sample std [95% t-interval of the mean over seeds]."


def to_markdown(df: pd.DataFrame, title: str = "") -> str:
    if df.empty:
        return ""
    cols = [
        c for c in df.columns if c not in ("method", "label", "n_seeds") and not c.endswith(("_std", "_ci"))
    ]
    lines = [f"#### {title}", ""] if title else []
    lines += [df.attrs.get("caption", ""), ""]
    lines += ["| Method | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for _, r in df.iterrows():
        lines.append(
            f"| {r['label']} | "
            + " | ".join(format_cell(r[c], r[f"{c}_std"], r[f"{c}_ci"]) for c in cols)
            + " |"
        )
    return "\n".join(lines) + "\n"
