"""VQA soft accuracy, the official answer normalization, PathVQA scoring and their score_task kinds,
all checked against numbers worked out by hand from the definitions."""

from __future__ import annotations

import pytest
from mllm_forgetting.metrics import (
    KINDS,
    normalize_vqa_answer,
    pathvqa_scores,
    score_task,
    vqa_accuracy,
    vqa_soft_accuracy,
)


def ten(matching: int, answer="cat", other="dog") -> list[str]:
    return [answer] * matching + [other] * (10 - matching)


# ---- soft accuracy: leave-one-out over the human answers ----


@pytest.mark.parametrize(
    "k,expected",
    [
        # k of 10 answers match. The k subsets that leave out a match see k-1 matches, the 10-k others see k:
        (0, 0.0),  # every subset has 0 matches -> 0
        (1, 0.3),  # 1 subset x min(0/3, 1) = 0  + 9 subsets x 1/3   -> (0 + 3) / 10       = 0.3
        (2, 0.6),  # 2 x 1/3 + 8 x 2/3 = 2/3 + 16/3 = 6                -> 6 / 10             = 0.6
        (3, 0.9),  # 3 x 2/3 + 7 x min(3/3, 1) = 2 + 7 = 9            -> 9 / 10             = 0.9
        (4, 1.0),  # 4 x min(3/3, 1) + 6 x min(4/3, 1) = 4 + 6 = 10    -> 10 / 10            = 1.0
        (10, 1.0),
    ],
)
def test_soft_accuracy_ten_answers(k, expected):
    assert vqa_soft_accuracy("cat", ten(k)) == pytest.approx(expected)


def test_soft_accuracy_fewer_answers_uses_the_same_leave_one_out():
    # 3 answers, 2 match: leaving out a match leaves 1 (1/3), leaving out the miss leaves 2 (2/3)
    # -> (1/3 + 1/3 + 2/3) / 3 = 4/9
    assert vqa_soft_accuracy("cat", ["cat", "cat", "dog"]) == pytest.approx(4 / 9)
    # a single reference leaves nothing to match against: always 0 (use kind "open" for such data)
    assert vqa_soft_accuracy("cat", ["cat"]) == 0.0
    assert vqa_soft_accuracy("cat", []) == 0.0


def test_soft_accuracy_normalizes_the_prediction():
    # "Two." -> "2" matches 4 humans' "2" of 10 -> 1.0
    assert vqa_soft_accuracy("Two.", ["2"] * 4 + ["3"] * 6) == pytest.approx(1.0)
    # VizWiz keeps "unanswerable" as an ordinary answer
    assert vqa_soft_accuracy("Unanswerable", ten(3, "unanswerable")) == pytest.approx(0.9)


# ---- the human answers as vqaEval.py prepares them (normalizing them all, as before, scores each 1.0) ----


@pytest.mark.parametrize(
    "prediction, answers, expected",
    [
        # humans who agree are compared as written: the prediction is normalized, "black-white" is not
        ("black-white", ["black-white"] * 10, 0.0),
        ("1000", ["1,000"] * 10, 0.0),
        # humans who disagree have their punctuation processed, but no number words or articles
        ("black-white", ["black-white"] * 5 + ["black"] * 5, 1.0),
        ("two", ["two"] * 4 + ["3"] * 6, 0.0),  # the prediction became "2"; the humans' "two" stayed
        ("beach", ["the beach"] * 8 + ["beach"] * 2, 0.6),  # 2 of 10 humans wrote just "beach"
        ("the beach", ["the beach"] * 8 + ["beach"] * 2, 0.6),  # the prediction loses its article
        ("dog", ["dog!"] * 4 + ["cat"] * 6, 0.0),  # "dog!" -> "dog " (the mark spaced, not stripped)
    ],
)
def test_human_answers_processed_only_as_vqaeval_does(prediction, answers, expected):
    assert vqa_soft_accuracy(prediction, answers) == pytest.approx(expected)


def test_vqa_accuracy_is_the_mean():
    refs = [ten(1), ten(4), ten(0)]
    # (0.3 + 1.0 + 0) / 3
    assert vqa_accuracy(["cat", "cat", "cat"], refs) == pytest.approx(1.3 / 3)
    assert vqa_accuracy([], []) == 0.0
    with pytest.raises(ValueError):
        vqa_accuracy(["cat"], [])


# ---- normalization: cases from the official vqaEval.py rules ----


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("Two", "2"),  # number words -> digits (after lowercasing)
        ("none", "0"),
        ("dont", "don't"),  # contractions table
        ("a dog.", "dog"),  # trailing period stripped, article dropped
        ("The Cat", "cat"),
        ("1,000", "1000"),  # a thousands comma: every listed mark is deleted, not spaced
        ("3.5", "3.5"),  # a period before a digit stays
        ("black-white", "black white"),  # a mark between letters becomes a space
        ("yes !", "yes"),  # a mark touching a space is deleted
        (" red\n", "red"),
    ],
)
def test_normalize_vqa_answer(raw, expected):
    assert normalize_vqa_answer(raw) == expected


def test_thousands_comma_in_a_prediction_matches():
    # a prediction is normalized: "1,000" -> "1000" matches the humans' "1000"
    assert vqa_soft_accuracy("1,000", ["1000"] * 10) == pytest.approx(1.0)
    assert vqa_soft_accuracy("100", ["1000"] * 10) == 0.0


def test_at_most_32_periods_are_stripped():
    # vqaEval.py passes re.UNICODE (32) as re.sub's count: the 33rd period stays
    assert normalize_vqa_answer("x" + "." * 33) == "x."


# ---- PathVQA: yes/no questions by the yes/no word, open ones by exact match ----


def test_pathvqa_scores_split_yes_no_and_open():
    preds = ["Yes, it is.", "no", "maybe", "Fibrosis.", "a tumor", "kidney"]
    refs = [["yes"], ["yes"], ["no"], ["fibrosis"], ["tumor"], ["liver"]]
    out = pathvqa_scores(preds, refs)
    # yes/no: right, wrong ("no" vs yes), wrong ("maybe" is neither) -> 1/3
    assert out["yes_no_accuracy"] == pytest.approx(1 / 3)
    # open: "fibrosis" ok, "tumor" ok (article dropped), "kidney" != "liver" -> 2/3
    assert out["open_accuracy"] == pytest.approx(2 / 3)
    assert out["accuracy"] == pytest.approx(3 / 6)
    assert (out["n_yes_no"], out["n_open"]) == (3, 3)


def test_pathvqa_open_question_needs_the_whole_answer():
    # an open reference is not a yes/no one, even when the prediction starts with yes
    out = pathvqa_scores(["yes"], ["necrosis"])
    assert out["n_open"] == 1 and out["open_accuracy"] == 0.0 and out["yes_no_accuracy"] == 0.0


# ---- score_task dispatch ----


def test_score_task_vqa_kind():
    res = score_task("vqa", ["cat", "dog"], [ten(2), ten(3, "dog", "cat")], ["q1", "q2"])
    # (0.6 + 0.9) / 2 = 0.75
    assert res["accuracy"] == pytest.approx(0.75)
    assert res["score"] == pytest.approx(75.0)
    assert res["n"] == 2
    assert set(res) == {"score", "accuracy", "n", "per_question", "statistic"}
    assert res["per_question"] == pytest.approx([60.0, 90.0]) and res["statistic"] == "mean"


def test_score_task_pathvqa_kind():
    res = score_task("pathvqa", ["yes", "no", "liver"], [["yes"], ["yes"], ["liver"]], [0, 1, 2])
    assert res["score"] == pytest.approx(200 / 3)
    assert res["yes_no_accuracy"] == pytest.approx(0.5)
    assert res["open_accuracy"] == pytest.approx(1.0)
    assert {"accuracy", "yes_no_accuracy", "open_accuracy", "n"} <= set(res)


def test_new_kinds_are_listed_and_old_kinds_unchanged():
    assert {"vqa", "pathvqa"} <= set(KINDS)
    # "open" stays plain normalized exact match: a number word does not become a digit there
    assert score_task("open", ["two"], [["2"]], [0])["accuracy"] == 0.0
    assert score_task("vqa", ["two"], [["2"] * 10], [0])["accuracy"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown task kind"):
        score_task("nope", [], [], [])
