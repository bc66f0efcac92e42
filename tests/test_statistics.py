"""Seed summaries and the paired bootstrap against hand-computed and simulated cases."""

import math

import numpy as np
import pytest
from mllm_forgetting.metrics.statistics import paired_bootstrap, seed_summary


def test_seed_summary_by_hand():
    # 3 seeds 60, 62, 64: mean 62, sample std 2, t(0.975, 2) = 4.3027 -> half-width 4.3027 * 2 / sqrt 3
    found = seed_summary([60, 62, 64])
    assert found["mean"] == 62 and found["std"] == pytest.approx(2.0)
    assert found["ci_half_width"] == pytest.approx(4.302653 * 2 / math.sqrt(3), rel=1e-6)
    one = seed_summary([61.5])
    assert one["mean"] == 61.5 and math.isnan(one["std"]) and math.isnan(one["ci_half_width"])


def test_a_clear_difference_is_significant_and_none_is_not():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2, (3, 200)).astype(float) * 100
    better = base.copy()
    better[:, :30] = 100  # A answers 30 more questions right in every seed (up to 15 points)
    clear = paired_bootstrap({"t": better}, {"t": base}, resamples=2000)
    assert clear["difference"] == pytest.approx(better.mean() - base.mean())
    assert clear["p_value"] < 0.01 and clear["ci"][0] > 0
    same = paired_bootstrap({"t": base}, {"t": base}, resamples=2000)
    assert same["difference"] == 0 and same["p_value"] == 1.0  # every resampled difference is 0


def test_the_test_is_valid_but_conservative_under_no_difference():
    """Two methods of the same accuracy: p < 0.05 in at most about 5% of experiments. Resampling both
    crossed factors counts the question-by-seed noise twice (Owen 2007), so the test is conservative:
    measured 0% of 200 experiments here."""
    rng = np.random.default_rng(1)
    rejections = 0
    for _ in range(200):
        a = (rng.random((3, 150)) < 0.6).astype(float) * 100
        b = (rng.random((3, 150)) < 0.6).astype(float) * 100
        rejections += paired_bootstrap({"t": a}, {"t": b}, resamples=300, seed=7)["p_value"] < 0.05
    assert rejections / 200 <= 0.07


def test_tasks_are_averaged_and_a_statistic_can_replace_the_mean():
    a = {"x": np.full((2, 4), 80.0), "y": np.full((2, 4), 40.0)}
    b = {"x": np.full((2, 4), 70.0), "y": np.full((2, 4), 30.0)}
    assert paired_bootstrap(a, b, resamples=10)["difference"] == pytest.approx(10.0)
    halved = paired_bootstrap(a, b, statistics={"y": lambda v: v.mean(axis=-1) / 2}, resamples=10)
    assert halved["difference"] == pytest.approx((80 + 20 - 70 - 15) / 2)


def test_unpaired_inputs_are_refused():
    with pytest.raises(ValueError, match="not paired"):
        paired_bootstrap({"t": np.zeros((2, 5))}, {"t": np.zeros((2, 4))})
    with pytest.raises(ValueError, match="tasks differ"):
        paired_bootstrap({"t": np.zeros((2, 5))}, {"u": np.zeros((2, 5))})


@pytest.mark.parametrize("kind", ["open", "multiple_choice", "yes_no", "vqa", "pathvqa", "caption"])
def test_each_questions_values_give_back_the_task_score(kind):
    """What the bootstrap resamples is the score: the statistic over all questions equals it."""
    from mllm_forgetting.metrics import score_task
    from mllm_forgetting.metrics.questions import STATISTICS

    rng = np.random.default_rng(3)
    words = ["red", "blue", "two", "a", "b", "yes", "no", "liver", "not sure"]
    captions = ["a red circle on the left", "two blue squares", "a green triangle below a circle"]
    n = 40
    if kind == "caption":
        refs = [[captions[i % 3], captions[(i + 1) % 3]] for i in range(n)]
        preds = [captions[rng.integers(3)] for _ in range(n)]
    elif kind == "yes_no":
        refs = [["yes" if rng.random() < 0.5 else "no"] for _ in range(n)]
        preds = [str(rng.choice(["yes", "no", "No, it is not", "there is a cat"])) for _ in range(n)]
    elif kind == "vqa":
        refs = [[str(rng.choice(words)) for _ in range(10)] for _ in range(n)]
        preds = [str(rng.choice(words)) for _ in range(n)]
    else:
        refs = [[str(rng.choice(words))] for _ in range(n)]
        preds = [str(rng.choice(words)) for _ in range(n)]
    result = score_task(kind, preds, refs, list(range(n)))
    values = np.asarray([result["per_question"]])
    assert values.shape == (1, n)
    assert STATISTICS[result["statistic"]](values)[0] == pytest.approx(result["score"], abs=1e-9)
    assert 0 < result["score"]  # a case with something to get right (CIDEr x 100 may exceed 100)
    assert len(set(result["per_question"])) > 1  # ... and questions that differ
