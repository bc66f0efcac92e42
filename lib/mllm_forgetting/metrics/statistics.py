"""Statistics over seeds and test questions: mean, std and a t-interval over seeds; a paired bootstrap.

A difference of a few points between two methods can sit within the noise of a few hundred test
questions and one training run. `seed_summary` gives the spread over training seeds; `paired_bootstrap`
asks whether method A's score over a set of tasks exceeds method B's once both sources of noise are
resampled: the seeds (A's and B's run of the same seed are paired: same data order and initialisation
of what is new) and the test questions (the same questions for both): the paired bootstrap used to
compare NLP systems (Koehn 2004; Dror et al. 2018), with seeds and questions resampled as the two
crossed factors of a "pigeonhole" bootstrap (Owen 2007, Ann. Appl. Stat.). Resampling both factors
counts the question-by-seed noise twice, so the test is conservative (tests/test_statistics.py: no
false positive at p < 0.05 in 200 simulated experiments without a difference); a small p-value is
therefore trustworthy, a large one may hide a real but small difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

from .questions import mean_statistic

# per-task statistic: (seeds, questions) array of per-question values -> (seeds,) scores
Statistic = Callable[[np.ndarray], np.ndarray]


def seed_summary(values, level: float = 0.95) -> dict:
    """Mean, sample std and the half-width of the two-sided t confidence interval of the mean over seeds.
    One seed has no spread: std and half-width are NaN (shown as such, never as 0)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return {"mean": mean, "std": math.nan, "ci_half_width": math.nan, "seeds": n}
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n))
    return {"mean": mean, "std": std, "ci_half_width": half, "seeds": n}


def paired_bootstrap(
    a: dict[str, np.ndarray],
    b: dict[str, np.ndarray],
    *,
    statistics: dict[str, Statistic] | None = None,
    resamples: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
) -> dict:
    """Is the mean over tasks of A's score greater than B's? a[task], b[task]: (seeds, questions) arrays
    of per-question values, row k of both from seed k, column j the same question.

    Each resample draws seeds with replacement (the same draw for A and B) and, per task, questions with
    replacement (the same draw for A and B and for every seed), recomputes each task's score with its
    statistic (default: the mean; a statistic maps an array's last axis of questions to one score) and
    takes the difference of the mean over tasks of A and of B. Returns the observed difference, its
    percentile interval and the one-sided p-value P(difference <= 0) with the +1 correction (never
    exactly 0 from a finite number of resamples).
    """
    tasks = sorted(a)
    if sorted(b) != tasks:
        raise ValueError(f"tasks differ: {tasks} vs {sorted(b)}")
    for t in tasks:
        if a[t].shape != b[t].shape:
            raise ValueError(f"task {t}: A and B are not paired: shapes {a[t].shape} vs {b[t].shape}")
    seeds = {a[t].shape[0] for t in tasks}
    if len(seeds) != 1:
        raise ValueError(f"every task needs the same seeds; got {sorted(seeds)} seeds")
    n_seeds = seeds.pop()
    statistic = {t: (statistics or {}).get(t, mean_statistic) for t in tasks}
    observed = float(
        np.mean([statistic[t](a[t]).mean() for t in tasks])
        - np.mean([statistic[t](b[t]).mean() for t in tasks])
    )
    rng = np.random.default_rng(seed)
    draws = []
    for size in _chunks(resamples, 1000):  # (seeds, resamples, questions) arrays: bounded memory
        seed_draw = rng.integers(0, n_seeds, (size, n_seeds))
        difference = np.zeros(size)
        for t in tasks:
            question_draw = rng.integers(0, a[t].shape[1], (size, a[t].shape[1]))
            for values, sign in ((a[t], 1.0), (b[t], -1.0)):
                per_seed = statistic[t](values[:, question_draw])  # (seeds, resamples)
                difference += sign * np.take_along_axis(per_seed.T, seed_draw, axis=1).mean(axis=1)
        draws.append(difference / len(tasks))
    draws = np.concatenate(draws)
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return {
        "difference": observed,
        "ci": (float(low), float(high)),
        "p_value": float((1 + np.sum(draws <= 0)) / (resamples + 1)),
        "seeds": n_seeds,
        "resamples": resamples,
    }


def _chunks(total: int, size: int):
    while total > 0:
        yield min(size, total)
        total -= size
