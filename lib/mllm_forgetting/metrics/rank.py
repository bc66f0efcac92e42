"""Effective rank (Roy & Vetterli 2007; paper Eq. 4) of a representation matrix.

erank(Z) = exp(H(p)),  p_i = sigma_i / sum_j sigma_j,  sigma = singular values of Z.
A rank-k matrix with k equal singular values has erank exactly k; skewed
spectra give less. We use it to measure how "rich" the visual hidden states
stay after fine-tuning (higher = less compressed).
"""

import numpy as np


def _as_float64(z) -> np.ndarray:
    if hasattr(z, "detach"):  # torch tensor (any device / dtype, incl. bf16)
        z = z.detach().to("cpu").double().numpy()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"effective_rank expects a 2-D (samples x features) matrix, got shape {z.shape}")
    return z


def erank_from_spectrum(values) -> float:
    """exp(entropy) of a nonnegative spectrum normalized to sum 1.

    Zero entries are dropped (0 log 0 = 0). An all-zero spectrum returns 0.0:
    a zero matrix carries no information, and 0 (not exp(0) = 1) keeps that
    distinguishable from a genuine rank-1 representation.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[v > 0]
    if v.size == 0:
        return 0.0
    p = v / v.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def effective_rank(z, *, centre: bool = False, variant: str = "singular") -> float:
    """Effective rank of z (N x d, numpy or torch), computed in float64.

    centre=False (default, Eq. 4 as written): SVD of the raw matrix, so a
    shared offset across samples counts as one direction.
    centre=True: subtract the mean over rows (per-feature mean) first, i.e.
    measure the spread of samples only.
    variant="singular": p from singular values (Eq. 4).
    variant="covariance": p from eigenvalues of Z^T Z (the covariance when
    centred), i.e. squared singular values, as Diff-eRank does; it weights the
    dominant directions more, so it is <= the "singular" value.
    Singular values below numpy's matrix_rank tolerance
    (sigma_max * max(N, d) * eps) are treated as exact zeros, so round-off does
    not inflate the rank of low-rank matrices.
    """
    z = _as_float64(z)
    if centre:
        z = z - z.mean(axis=0, keepdims=True)
    if z.size == 0:
        return 0.0
    s = np.linalg.svd(z, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0.0
    s = np.where(s > s[0] * max(z.shape) * np.finfo(np.float64).eps, s, 0.0)
    if variant == "singular":
        return erank_from_spectrum(s)
    if variant == "covariance":
        return erank_from_spectrum(s**2)
    raise ValueError(f"unknown variant {variant!r}; use 'singular' or 'covariance'")
