"""Paper figures (1, 3-6) from loaded cells, representations and train logs.

Every function writes its PNG even when the data it needs is missing (a
"no data" panel), so pipeline outputs always exist; missing methods are
skipped and NaN values ignored rather than crashing.
"""

import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .tables import method_order, task_columns  # noqa: E402

DPI = 120
# methods the paper contrasts in Figs. 1, 3, 4 (pre-trained vs fine-tuned vs MDGD)
CORE_METHODS = ("zero_shot", "finetune", "mdgd")


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _no_data(ax, msg="no data"):
    ax.text(0.5, 0.5, msg, ha="center", va="center", transform=ax.transAxes, fontsize=11, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def _by_method(cells, core_only=False):
    """[(label, [cells of that method])] in table order; core_only keeps the
    paper's three methods when any of them is present."""
    groups = [(m, [c for c in cells if c["method"] == m]) for m in method_order(cells)]
    if core_only:
        core = [(m, g) for m, g in groups if g[0].get("method_type", m) in CORE_METHODS]
        groups = core or groups
    return [(g[0].get("label", m), g) for m, g in groups]


def _finite(x):
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _mean_std(values):
    v = [float(x) for x in values if _finite(x)]
    if not v:
        return math.nan, 0.0
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def _grouped_bars(ax, groups, tasks, key, ylabel):
    width = 0.8 / max(len(groups), 1)
    x = np.arange(len(tasks))
    for i, (label, g) in enumerate(groups):
        stats = [_mean_std([c["tasks"].get(t, {}).get(key) for c in g]) for t in tasks]
        means = [s[0] for s in stats]
        ax.bar(
            x + (i - (len(groups) - 1) / 2) * width,
            np.nan_to_num(means),
            width,
            yerr=[s[1] for s in stats],
            capsize=2,
            label=label,
        )
    ax.set_xticks(x, tasks, rotation=20)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)


def plot_effective_rank(cells, path):
    """Fig. 6: per-task effective rank of visual hidden states, per method (mean ± std over seeds).
    Left: mean per-image erank (token matrix of one image); right: erank of the pooled N x d matrix."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    if not cells:
        for ax in axes:
            _no_data(ax)
        return _save(fig, path)
    pre, target = task_columns(cells)
    tasks = pre + [target]
    groups = _by_method(cells)
    opts = cells[0].get("erank_options", {})
    for ax, key, name in (
        (axes[0], "erank_per_image", "per-image"),
        (axes[1], "erank_pooled", "pooled over images"),
    ):
        _grouped_bars(ax, groups, tasks, key, "effective rank")
        ax.set_title(f"Visual effective rank ({name})")
        ax.get_xticklabels()[-1].set_fontweight("bold")  # the target task
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"{cells[0].get('backbone')} → {target}  (layer {opts.get('layer', '?')}, "
        f"centre={opts.get('centre', '?')}, variant={opts.get('variant', '?')}; target in bold)",
        fontsize=10,
    )
    _save(fig, path)


def plot_top_tokens(cells, path, tasks=None, k=10):
    """Fig. 1: the k image-token positions with the highest effective rank, sorted descending.
    With several seeds the sorted curves are averaged position-wise."""
    pre = task_columns(cells)[0] if cells else []
    if tasks is None:
        tasks = [t for t in pre if any(c["tasks"].get(t, {}).get("erank_per_token") for c in cells)][:2]
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(6 * max(len(tasks), 1), 4), squeeze=False)
    if not tasks:
        _no_data(axes[0, 0], "no per-token effective ranks")
        return _save(fig, path)
    groups = _by_method(cells, core_only=True)
    for ax, task in zip(axes[0], tasks):
        width = 0.8 / len(groups)
        drawn = False
        for i, (label, g) in enumerate(groups):
            curves = []
            for c in g:
                v = np.asarray(c["tasks"].get(task, {}).get("erank_per_token") or [], dtype=float)
                v = np.sort(v[np.isfinite(v)])[::-1][:k]
                if v.size:
                    curves.append(np.pad(v, (0, k - v.size), constant_values=np.nan))
            if not curves:
                continue
            top = np.nanmean(curves, axis=0)
            ax.bar(
                np.arange(1, k + 1) + (i - (len(groups) - 1) / 2) * width,
                np.nan_to_num(top),
                width,
                label=label,
            )
            drawn = True
        if not drawn:
            _no_data(ax, f"no per-token ranks for {task}")
            continue
        ax.set_title(f"Top-{k} image tokens by effective rank: {task}")
        ax.set_xlabel("image token, ranked by effective rank (1 = highest)")
        ax.set_ylabel("effective rank")
        ax.set_xticks(range(1, k + 1))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, path)


def _tsne_2d(x, seed=0):
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3)))  # sklearn needs perplexity < n_samples
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def plot_tsne(representations, path, task, seed=0):
    """Figs. 3-4: joint t-SNE of all methods' representations of `task`, colour = method.
    representations: {label: npz-like mapping with 'visual__<task>' and 'multimodal__<task>' (N x d)}.
    Methods share one embedding per panel so their positions are comparable."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, kind, title in (
        (axes[0], "visual", "visual π(X^v): last image token"),
        (axes[1], "multimodal", "multimodal z^vl: last prompt token"),
    ):
        xs, labels = [], []
        for label, rep in representations.items():
            key = f"{kind}__{task}"
            if rep is None or key not in rep:
                continue
            x = np.asarray(rep[key], dtype=np.float64).reshape(len(rep[key]), -1)
            x = x[np.isfinite(x).all(axis=1)]
            if len(x):
                xs.append(x)
                labels += [label] * len(x)
        if not xs or sum(map(len, xs)) < 5 or len({x.shape[1] for x in xs}) > 1:
            _no_data(ax, f"too few / inconsistent {kind} representations for {task}")
            continue
        emb = _tsne_2d(np.concatenate(xs), seed)
        labels = np.array(labels)
        for label in dict.fromkeys(labels):
            m = labels == label
            ax.scatter(emb[m, 0], emb[m, 1], s=12, alpha=0.7, label=label)
        ax.set_title(f"{title} ({task})")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=8)
    _save(fig, path)


def alpha_of(cell: dict):
    """MDGD-GM masking ratio: the cell's method option "alpha", else the trailing number of the
    method name ("mdgd_gm_0.1" -> 0.1)."""
    alpha = (cell.get("options") or {}).get("alpha")
    if _finite(alpha):
        return float(alpha)
    m = re.search(r"(\d+(?:\.\d+)?)$", str(cell.get("method", "")))
    return float(m.group(1)) if m else None


def _col_mean(df, col):
    if df is None or col not in df:
        return math.nan
    v = pd.to_numeric(df[col], errors="coerce").dropna()
    return float(v.mean()) if len(v) else math.nan


def plot_alpha_sensitivity(logs, path):
    """Fig. 5b-c: mean gradient cosine and mean L_v over training vs masking ratio alpha (MDGD-GM)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    alphas = sorted(a for a in logs if a is not None)
    for ax, col, ylabel in ((axes[0], "cosine", "mean cos(ḡ_θ, ḡ_φ)"), (axes[1], "lv", "mean L_v")):
        ys = [_col_mean(logs[a], col) for a in alphas]
        pts = [(a, y) for a, y in zip(alphas, ys) if _finite(y)]
        if not pts:
            _no_data(ax, f"no MDGD-GM '{col}' logged")
            continue
        ax.plot(*zip(*pts), marker="o")
        ax.set_xlabel("gradient masking ratio α")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{ylabel} vs α")
        ax.grid(alpha=0.3)
    _save(fig, path)


def plot_learning_curves(logs, path):
    """Fig. 5a: task loss vs step per method; faint raw curve plus a rolling mean (window ~5% of steps)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = False
    for label, df in logs.items():
        if df is None or "loss" not in df or "step" not in df:
            continue
        d = df.assign(loss=pd.to_numeric(df["loss"], errors="coerce")).dropna(subset=["loss"])
        if d.empty:
            continue
        d = d.groupby("step", as_index=False)["loss"].mean()  # averages seeds if logs were concatenated
        smooth = d["loss"].rolling(max(1, len(d) // 20), min_periods=1).mean()
        (line,) = ax.plot(d["step"], smooth, label=label)
        ax.plot(d["step"], d["loss"], color=line.get_color(), alpha=0.2, lw=0.8)
        drawn = True
    if not drawn:
        _no_data(ax, "no training logs")
    else:
        ax.set_xlabel("step")
        ax.set_ylabel("task loss L_vl")
        ax.set_title("Learning curves (smoothed)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, path)
