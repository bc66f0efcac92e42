"""Each test question's part in its task's score, for the paired bootstrap (metrics/statistics.py).

For most kinds the score is the mean of per-question values (0-100): exact match, option or VQA soft
accuracy, PathVQA's per-question hit, and each image's CIDEr x 100 (pycocoevalcap's corpus CIDEr is the
mean of the per-image scores; the idf stays that of the whole test split when questions are resampled,
the usual approximation). POPE's score is F1, not a mean: its values are each question's cell of the
confusion matrix, and the `f1` statistic recomputes F1 from any resample of them.
"""

from __future__ import annotations

import numpy as np

from .answers import exact_match, option_accuracy, pope_answer, yes_no_label
from .vqa import pathvqa_scores, vqa_soft_accuracy

# a POPE question's confusion-matrix cell, 'yes' the positive class
TRUE_POSITIVE, FALSE_POSITIVE, FALSE_NEGATIVE, TRUE_NEGATIVE = 0, 1, 2, 3
_CELL = {
    ("yes", "yes"): TRUE_POSITIVE,
    ("yes", "no"): FALSE_POSITIVE,
    ("no", "yes"): FALSE_NEGATIVE,
    ("no", "no"): TRUE_NEGATIVE,
}


def question_values(kind: str, predictions: list, references: list) -> tuple[list[float], str]:
    """(values, statistic name): the statistic of the values over a task's questions is its score."""
    pairs = list(zip(predictions, references, strict=True))
    if kind == "open":
        return [100.0 * exact_match(p, r) for p, r in pairs], "mean"
    if kind == "multiple_choice":
        return [100.0 * option_accuracy([p], [r]) for p, r in pairs], "mean"
    if kind == "vqa":
        return [100.0 * vqa_soft_accuracy(p, r) for p, r in pairs], "mean"
    if kind == "pathvqa":
        return [100.0 * pathvqa_scores([p], [r])["accuracy"] for p, r in pairs], "mean"
    if kind == "yes_no":
        truth = [yes_no_label(r if isinstance(r, str) else r[0]) for _, r in pairs]
        return [float(_CELL[(pope_answer(p), t)]) for (p, _), t in zip(pairs, truth)], "f1"
    raise ValueError(f"no per-question values for task kind {kind!r} (captions come with their CIDEr)")


def f1_statistic(cells: np.ndarray) -> np.ndarray:
    """F1 x 100 over the last axis (questions) of an array of confusion-matrix cells; 0 where it is
    undefined, as yes_no_scores has it."""
    tp = (cells == TRUE_POSITIVE).sum(axis=-1).astype(float)
    fp = (cells == FALSE_POSITIVE).sum(axis=-1)
    fn = (cells == FALSE_NEGATIVE).sum(axis=-1)
    denominator = 2 * tp + fp + fn
    return np.divide(200.0 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def mean_statistic(values: np.ndarray) -> np.ndarray:
    """A task scored as the mean of its per-question values, over the last axis (questions)."""
    return values.mean(axis=-1)


STATISTICS = {"mean": mean_statistic, "f1": f1_statistic}
