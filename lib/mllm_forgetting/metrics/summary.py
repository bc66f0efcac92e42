"""Row summaries of the paper's tables: Avg, forgetting in points and in relative %, and the two H-scores.

The MDGD paper (arXiv 2502.11740) uses two H-scores and quotes forgetting as a relative drop; every
definition below is checked against every row of its Tables 1 and 2, and against the drops its
Section 6.1 quotes, by tests/test_paper_arithmetic.py.
"""

import math

# CIDEr x 100 has no upper bound (our templated captions reach ~300); the 0-100 accuracies it is averaged
# with do. See score_for_averages.
CAPTION_CAP = 100.0


def score_for_averages(kind: str, score: float) -> float:
    """A task's score as it enters Avg, the H-scores and forgetting: caption scores capped at 100.

    A caption task's score is CIDEr x 100, which is unbounded: on the generated benchmark's templated
    captions a tuned model reaches ~300, so one caption column would outweigh seven accuracies in Avg and
    decide both H-scores by itself. Capping it at 100 (CIDEr 1.0) keeps every task on the same 0-100
    scale, so no task counts for more than an accuracy of 100 would. It changes nothing for scores up to
    100, which covers every caption score in the paper (Flickr30K at most 78.82, TextCaps at most 33.85):
    the tables' definitions stay the paper's. The task's own column still shows the uncapped score.
    """
    return min(float(score), CAPTION_CAP) if kind == "caption" else float(score)


def row_average(scores: dict) -> float:
    """The paper's Avg: the unweighted mean over every task of the row, the target included.

    Tables 1 and 2 both use it (Table 1 zero-shot, Flickr30K: seven scores -> 55.82)."""
    values = [float(v) for v in scores.values()]
    return sum(values) / len(values) if values else math.nan


def pretrained_mean(scores: dict, target: str) -> float:
    """Mean over the pre-trained tasks of the row: every task but the target."""
    return row_average({task: score for task, score in scores.items() if task != target})


def forgetting_points(zero_shot_pretrained: float, pretrained: float) -> float:
    """Forgetting in points: zero-shot's pre-trained-task mean minus this row's (positive = forgot)."""
    return float(zero_shot_pretrained) - float(pretrained)


def forgetting_relative(zero_shot_pretrained: float, pretrained: float) -> float:
    """Forgetting in relative %: the points lost as a share of the pre-trained (zero-shot) model's mean
    over the pre-trained tasks, 100 * (zero_shot - row) / zero_shot (positive = forgot; NaN if that mean
    is 0).

    This is how the paper's Section 6.1 quotes forgetting: "drops 33.63% compared with zero-shot" for
    LLaVA fine-tuned on Flickr30K is (64.535 - 42.83) / 64.535 over Table 1's six pre-trained columns,
    not the 21.70 points; the same convention gives 6.28% and 4.25% for MiniCPM fine-tuned on PathVQA
    and TextCaps (Table 2), and 13.43% for LLaVA fine-tuned on OKVQA, which the paper prints as 13.44%
    (within the rounding of its two-decimal scores).
    """
    if zero_shot_pretrained == 0:
        return math.nan
    return 100.0 * forgetting_points(zero_shot_pretrained, pretrained) / float(zero_shot_pretrained)


def h_avg_target(avg: float, target: float) -> float:
    """`H (Avg, target)`: the harmonic mean of the row's Avg and its target score.

    The H column of the paper's Table 2 (MiniCPM-V-2.0), every row within 0.01: PathVQA zero-shot,
    Avg 65.23 and target 5.44 -> 10.04. Table 1 does not use it (zero-shot Flickr30K would give 6.59, it
    prints 59.86). 0 when both are 0.
    """
    return _harmonic_mean(avg, target)


def h_pretrained_avg(pretrained: float, avg: float) -> float:
    """`H (pre-trained, Avg)`: the harmonic mean of the row's OWN mean over its pre-trained tasks and its
    Avg.

    The H column of the paper's Table 1 (LLaVA-1.5), every row within 0.01: zero-shot Flickr30K,
    pre-trained mean 64.535 and Avg 55.82 -> 59.86. The pre-trained mean is the method's own, not the
    zero-shot model's: fine-tune on Flickr30K prints 45.26 = H(42.83, 47.97), while zero-shot's 64.535
    would give 55.03 (the two coincide only on the zero-shot rows). 0 when both are 0.
    """
    return _harmonic_mean(pretrained, avg)


def _harmonic_mean(a: float, b: float) -> float:
    a, b = float(a), float(b)
    return 0.0 if a + b == 0 else 2.0 * a * b / (a + b)
