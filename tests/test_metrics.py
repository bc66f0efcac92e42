"""Hand-computed checks for the metric functions (no model needed)."""

import math

import numpy as np
import pytest
import torch
from mllm_forgetting.metrics import (
    cider,
    effective_rank,
    erank_from_spectrum,
    exact_match,
    normalize_answer,
    option_accuracy,
    pope_answer,
    score_task,
    yes_no_scores,
)


def _with_singular_values(svals, n=20, d=16, seed=0):
    """N x d matrix with exactly the given singular values (random orthonormal bases)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(n, n)))
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    k = len(svals)
    return u[:, :k] @ np.diag(svals) @ v[:, :k].T


# ---- effective rank (Eq. 4) ----


@pytest.mark.parametrize("k", [1, 3, 7])
def test_erank_equal_singular_values_is_k(k):
    assert effective_rank(_with_singular_values([2.5] * k)) == pytest.approx(k, abs=1e-9)


def test_erank_identity_and_torch_input():
    assert effective_rank(np.eye(6)) == pytest.approx(6.0)
    assert effective_rank(torch.eye(5, dtype=torch.bfloat16)) == pytest.approx(5.0)


def test_erank_two_singular_values_by_hand():
    # sigma = (3, 1): p = (0.75, 0.25); H = -(.75 ln .75 + .25 ln .25) = 0.562335
    z = _with_singular_values([3.0, 1.0])
    expected = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert expected == pytest.approx(1.7548, abs=1e-4)
    assert effective_rank(z) == pytest.approx(expected, abs=1e-9)
    # covariance variant: eigenvalues 9, 1 -> p = (0.9, 0.1)
    cov = math.exp(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)))
    assert effective_rank(z, variant="covariance") == pytest.approx(cov, abs=1e-9)


def test_erank_covariance_is_squared_singular_values():
    z = np.random.default_rng(1).normal(size=(30, 8))
    s = np.linalg.svd(z, compute_uv=False)
    assert effective_rank(z, variant="covariance") == pytest.approx(erank_from_spectrum(s**2))
    assert effective_rank(z, variant="covariance") < effective_rank(z)
    s_c = np.linalg.svd(z - z.mean(0), compute_uv=False)
    assert effective_rank(z, centre=True, variant="covariance") == pytest.approx(erank_from_spectrum(s_c**2))


def test_erank_centring_removes_shared_offset():
    # rows = offset + t_i * direction: uncentred rank 2, centred rank 1 (spread along one direction)
    rng = np.random.default_rng(0)
    offset, direction = np.zeros(10), np.zeros(10)
    offset[0], direction[1] = 5.0, 1.0
    z = offset + rng.normal(size=(50, 1)) * direction
    assert 1.5 < effective_rank(z) < 2.0 + 1e-9
    assert effective_rank(z, centre=True) == pytest.approx(1.0)
    # a constant matrix (pure offset) is rank 1 uncentred and all-zero -> 0.0 centred
    const = np.ones((4, 3))
    assert effective_rank(const) == pytest.approx(1.0)
    assert effective_rank(const, centre=True) == 0.0


def test_erank_zero_matrix_and_bad_shape():
    assert effective_rank(np.zeros((4, 3))) == 0.0
    with pytest.raises(ValueError):
        effective_rank(np.zeros(5))
    with pytest.raises(ValueError):
        effective_rank(np.eye(3), variant="nope")


# ---- answer matching ----


def test_normalize_answer():
    assert normalize_answer("  The  Red, Car! ") == "red car"
    assert normalize_answer("an apple") == "apple"
    assert normalize_answer("A") == "a"  # single option letter kept
    assert normalize_answer("(a).") == "a"
    assert normalize_answer("Don't") == "dont"


def test_exact_match():
    assert exact_match("The dog.", ["dog", "puppy"]) == 1.0
    assert exact_match("cat", ["dog", "puppy"]) == 0.0
    assert exact_match("Two", "two") == 1.0


def test_option_accuracy():
    preds = ["B", "(c) a cat", "A. yes", "d", ""]
    refs = ["B", ["C"], "b", "D", "A"]
    assert option_accuracy(preds, refs) == pytest.approx(3 / 5)


@pytest.mark.parametrize(
    "answer, read_as",
    [
        ("Yes", "yes"),
        ("No.", "no"),
        ("No, there is not.", "no"),
        ("There is no cat.", "no"),  # any word "no" or "not"
        ("I do not see one", "no"),
        ("There is a cat. No other animal.", "yes"),  # only the first sentence counts
        ("yes, there is", "yes"),
        ("maybe", "yes"),  # anything without a no-word is a yes, not a miss
        ("", "yes"),
        ("a red circle and a blue square", "yes"),  # what a caption-tuned model answers
        ("nothing", "yes"),  # whole words only
        ("NO", "yes"),  # eval_pope.py looks for "No", "no" and "not" exactly
        ("No!", "yes"),  # split on spaces: the word is "No!"
    ],
)
def test_pope_answer_reads_as_eval_pope(answer, read_as):
    assert pope_answer(answer) == read_as


def test_yes_no_scores_hand_case():
    preds = ["Yes", "yes, there is", "no", "No.", "maybe", "yes"]
    refs = ["yes", "no", "yes", "no", "yes", "yes"]
    # read as yes, yes, no, no, yes, yes: tp=3 (0,4,5) fp=1 (1) fn=1 (2) tn=1 (3)
    s = yes_no_scores(preds, refs)
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["precision"] == pytest.approx(3 / 4)
    assert s["recall"] == pytest.approx(3 / 4)
    assert s["f1"] == pytest.approx(3 / 4)
    assert s["yes_ratio"] == pytest.approx(4 / 6)


def test_caption_answers_to_pope_are_yes_not_wrong():
    # a model that answers every POPE question with a caption says "yes" to all: chance, not 0
    refs = ["yes", "no"] * 5
    s = yes_no_scores(["a red circle on the left"] * 10, refs)
    assert s["accuracy"] == pytest.approx(0.5) and s["yes_ratio"] == 1.0
    assert s["precision"] == pytest.approx(0.5) and s["recall"] == 1.0
    assert s["f1"] == pytest.approx(2 / 3)


def test_yes_no_scores_without_a_yes_and_with_a_bad_label():
    s = yes_no_scores(["no", "No."], ["yes", "no"])
    assert s["precision"] == 0.0 and s["recall"] == 0.0 and s["f1"] == 0.0 and s["accuracy"] == 0.5
    with pytest.raises(ValueError, match="must be 'yes' or 'no'"):
        yes_no_scores(["yes"], ["maybe"])


# ---- CIDEr and score_task ----

REFS = {
    "1": ["a man riding a red bike", "a person on a bicycle"],
    "2": ["two dogs playing in the grass", "dogs run on a lawn"],
    "3": ["a plate of food on a table", "a meal served on a plate"],
}


def test_cider_identical_beats_wrong():
    good = {i: r[0] for i, r in REFS.items()}
    bad = {i: "airplane flying over clouds" for i in REFS}
    assert cider(good, REFS) > 1.0 > cider(bad, REFS)
    assert cider(bad, REFS) == pytest.approx(0.0, abs=1e-6)


def test_score_task_kinds():
    ids = list(REFS)
    cap = score_task("caption", [r[0] for r in REFS.values()], list(REFS.values()), ids)
    assert cap["score"] == pytest.approx(100 * cap["cider"])
    op = score_task("open", ["dog", "cat"], [["dog"], ["bird"]], ["a", "b"])
    assert op["score"] == pytest.approx(50.0) and op["n"] == 2
    mc = score_task("multiple_choice", ["A", "B"], [["A"], ["C"]], ["a", "b"])
    assert mc["score"] == pytest.approx(50.0)
    yn = score_task("yes_no", ["yes", "no", "yes"], [["yes"], ["yes"], ["no"]], ["a", "b", "c"])
    # tp=1 fp=1 fn=1: precision = recall = F1 = 1/2; accuracy 1/3. POPE's score is F1, as LLaVA-1.5's
    assert yn["score"] == pytest.approx(50.0) and yn["accuracy"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        score_task("bleu", [], [], [])
