"""Aggregate the cells of one backbone x target into the paper's tables and figures.

A cell directory results/cells/{backbone}/{target}/{method}/seed{seed}/ holds
metrics.json, representations.npz and (not for zero-shot) train_log.csv.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import FIGURES
from .comparisons import compare_methods
from .comparisons import to_markdown as comparisons_markdown
from .figures import (
    CORE_METHODS,
    alpha_of,
    plot_alpha_sensitivity,
    plot_effective_rank,
    plot_learning_curves,
    plot_top_tokens,
    plot_tsne,
)
from .knowledge import build_knowledge_table
from .knowledge import to_markdown as knowledge_markdown
from .tables import build_table, is_zero_shot, method_order, write_table


def load_cell(cell_dir) -> dict:
    """metrics.json plus '_dir' (the cell directory, for its npz / csv)."""
    cell_dir = Path(cell_dir)
    cell = json.loads((cell_dir / "metrics.json").read_text())
    cell["_dir"] = str(cell_dir)
    return cell


def load_train_log(cell: dict):
    p = Path(cell["_dir"]) / "train_log.csv"
    return pd.read_csv(p) if p.exists() else None


def load_representations(cell: dict):
    p = Path(cell["_dir"]) / "representations.npz"
    if not p.exists():
        return None
    with np.load(p) as z:  # materialise: the file handle is closed on exit
        return {k: z[k] for k in z.files}


def _first_seed(group):
    return min(group, key=lambda c: c.get("seed", 0))


def _logs_by(cells, key_fn):
    """{key: train log (seeds concatenated)} for cells that have a log."""
    out = {}
    for c in cells:
        df = load_train_log(c)
        if df is not None:
            k = key_fn(c)
            out[k] = pd.concat([out[k], df]) if k in out else df
    return out


def aggregate(cell_dirs, tables_dir, figures_dir, backbone: str, target: str, order=None) -> list:
    """Write tables_dir/<backbone>_<target>.{csv,md}, <backbone>_<target>_{comparisons,knowledge}.csv and
    figures_dir/<backbone>_<target>_{erank,top_tokens,tsne,alpha,learning_curves}.png.
    `order`: method names in config order (default: order of cell_dirs). Returns the written paths."""
    cells = [load_cell(d) for d in cell_dirs]
    cells = [
        c for c in cells if c.get("backbone", backbone) == backbone and c.get("target", target) == target
    ]
    if not cells:
        raise ValueError(f"no cells for backbone={backbone} target={target}")
    order = order or list(dict.fromkeys(c["method"] for c in cells))
    tables_dir, figures_dir = Path(tables_dir), Path(figures_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{backbone}_{target}"
    written = []

    df = build_table(cells, order)
    csv, md = tables_dir / f"{stem}.csv", tables_dir / f"{stem}.md"
    write_table(df, csv, md, title=f"{backbone} fine-tuned on {target}")
    compared = compare_methods(cells, order)
    comparisons_csv = tables_dir / f"{stem}_comparisons.csv"
    compared.to_csv(comparisons_csv, index=False)
    if not compared.empty:
        with open(md, "a") as f:
            f.write("\n" + comparisons_markdown(compared, dict(zip(df["method"], df["label"]))))
    knowledge = build_knowledge_table(cells, order)
    knowledge_csv = tables_dir / f"{stem}_knowledge.csv"
    knowledge.to_csv(knowledge_csv, index=False)
    if not knowledge.empty:
        with open(md, "a") as f:
            f.write("\n" + knowledge_markdown(knowledge, "Visual knowledge: probes and likelihood scores"))
    written += [csv, md, comparisons_csv, knowledge_csv]

    fig = {name: figures_dir / f"{stem}_{name}.png" for name in FIGURES}
    plot_effective_rank(cells, fig["erank"])
    plot_top_tokens(cells, fig["top_tokens"])
    # t-SNE on the target task as in Figs. 3-4; one seed per method (the lowest)
    groups = [[c for c in cells if c["method"] == m] for m in method_order(cells, order)]
    core = [g for g in groups if g[0].get("method_type", g[0]["method"]) in CORE_METHODS]
    reps = {g[0].get("label", g[0]["method"]): load_representations(_first_seed(g)) for g in (core or groups)}
    plot_tsne(reps, fig["tsne"], task=target)
    gm = [c for c in cells if c.get("method_type") == "mdgd_gm"]
    plot_alpha_sensitivity(_logs_by(gm, alpha_of), fig["alpha"])
    rank = {m: i for i, m in enumerate(method_order(cells, order))}
    tuned = sorted((c for c in cells if not is_zero_shot(c)), key=lambda c: rank[c["method"]])
    plot_learning_curves(_logs_by(tuned, lambda c: c.get("label", c["method"])), fig["learning_curves"])
    written += list(fig.values())
    return written
