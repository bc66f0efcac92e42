"""Row summaries used in the paper's tables: Avg, H-score, forgetting."""

import math


def h_score(avg: float, target: float) -> float:
    """Harmonic mean 2*avg*target/(avg+target) of the row's Avg and the target score.

    This is the definition that reproduces the paper's Table 2 (MiniCPM), with
    Avg = mean over ALL tasks of the row *including the target*: e.g. PathVQA
    zero-shot Avg 65.23, target 5.44 -> 10.04 (using the pre-trained-only mean
    73.77 would give 10.13). Table 1's H column (LLaVA) does NOT satisfy this
    formula (zero-shot Avg 55.82, target 3.5 would give 6.59, printed 59.86);
    we follow Table 2. Returns 0 when both are 0.
    """
    if avg + target == 0:
        return 0.0
    return 2.0 * avg * target / (avg + target)


def row_average(scores: dict) -> float:
    """The paper's Avg: unweighted mean over all tasks in the row, pre-trained and target."""
    vals = [float(v) for v in scores.values()]
    return sum(vals) / len(vals) if vals else math.nan


def forgetting(zero_shot, tuned):
    """zero_shot - tuned (positive = the tuned model forgot).

    Floats give a float; dicts give {task: drop} over the tasks both share.
    """
    if isinstance(zero_shot, dict):
        return {t: float(zero_shot[t]) - float(tuned[t]) for t in zero_shot if t in tuned}
    return float(zero_shot) - float(tuned)
