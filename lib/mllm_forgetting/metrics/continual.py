"""Continual-learning metrics of an accuracy matrix (the conventions of CoIN, MCITlib and GEM).

R[k][i] is the score on task i of the sequence after stage k: row 0 is the pre-trained model, row k the
model after learning the k-th task, column i the i-th task (unseen tasks included), so R is (T + 1) x T.
With tasks and stages numbered from 1 as in the papers:

  Last = MFN = mean_i R[T][i]                         every task after the last stage
  MAA        = mean_{k>=1} mean_{i<=k} R[k][i]         the mean over stages of the seen tasks' mean
  MFT        = mean_i R[i][i]                          each task just after it was learnt
  BWT        = mean_{i<T} (R[T][i] - R[i][i])           over the T-1 earlier tasks (GEM, MCITlib's code);
               bwt_over="all" divides the same sum by T (the last task's term is 0), the other
               convention MCITlib's users report
  F          = mean_{i<T} (max_{i<=k<T} R[k][i] - R[T][i])   the drop from each task's best to its last
  FWT        = mean_{i>=2} (R[i-1][i] - R[0][i])        what earlier stages teach a task before its own

A metric that needs two tasks (BWT over the earlier tasks, F, FWT) is NaN for a one-task sequence.
"""

from __future__ import annotations

import math

import numpy as np

KEYS = ("Last", "MAA", "MFT", "MFN", "BWT", "F", "FWT")
BWT_CONVENTIONS = ("previous", "all")


def accuracy_matrix(R) -> np.ndarray:
    """R as a float (T + 1) x T array, checked."""
    matrix = np.asarray(R, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 1 or matrix.shape[0] != matrix.shape[1] + 1:
        raise ValueError(
            f"an accuracy matrix is (T + 1) x T: row 0 the pre-trained model, one row per stage; got "
            f"shape {matrix.shape}"
        )
    if not np.isfinite(matrix).all():
        raise ValueError("an accuracy matrix must hold finite scores only")
    return matrix


def continual_metrics(R, bwt_over: str = "previous") -> dict:
    """{Last, MAA, MFT, MFN, BWT, F, FWT} of accuracy matrix R (module docstring)."""
    if bwt_over not in BWT_CONVENTIONS:
        raise ValueError(f"bwt_over must be one of {BWT_CONVENTIONS}, got {bwt_over!r}")
    R = accuracy_matrix(R)
    T = R.shape[1]
    diagonal = np.array([R[i + 1, i] for i in range(T)])  # R[i][i] in 1-based numbering
    last = float(R[T].mean())
    drops = R[T, : T - 1] - diagonal[: T - 1]
    if bwt_over == "previous":
        bwt = float(drops.mean()) if T > 1 else math.nan
    else:
        bwt = float(drops.sum() / T)
    forgetting = (
        float(np.mean([R[i + 1 : T, i].max() - R[T, i] for i in range(T - 1)])) if T > 1 else math.nan
    )
    fwt = float(np.mean([R[i, i] - R[0, i] for i in range(1, T)])) if T > 1 else math.nan
    return {
        "Last": last,
        "MAA": float(np.mean([R[k, :k].mean() for k in range(1, T + 1)])),
        "MFT": float(diagonal.mean()),
        "MFN": last,
        "BWT": bwt,
        "F": forgetting,
        "FWT": fwt,
    }


def pretrained_retention(pretrained_means) -> list[dict]:
    """Per stage k >= 1, its mean pre-trained-task score against the pre-trained model's (entry 0): `points`
    = stage minus pre-trained (negative = forgot), `relative` = the same as a % of the pre-trained mean
    (the MDGD paper's relative convention; NaN when that mean is 0)."""
    means = [float(m) for m in pretrained_means]
    if len(means) < 2:
        raise ValueError("retention needs the pre-trained model's mean and at least one stage's")
    base = means[0]
    return [
        {"stage": k, "points": m - base, "relative": 100.0 * (m - base) / base if base else math.nan}
        for k, m in enumerate(means[1:], start=1)
    ]
