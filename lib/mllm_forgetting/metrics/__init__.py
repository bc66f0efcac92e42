"""Task metrics: answer matching, CIDEr, effective rank, table summaries.

`score_task` is the single entry point the evaluate step calls per task; it
returns {"score": <0-100 number shown in tables>, **detailed metrics (0-1)}.
"""

from .answers import exact_match, normalize_answer, option_accuracy, pope_answer, yes_no_scores
from .captioning import cider, cider_scores
from .questions import question_values
from .rank import effective_rank, erank_from_spectrum
from .summary import (
    forgetting_points,
    forgetting_relative,
    h_avg_target,
    h_pretrained_avg,
    pretrained_mean,
    row_average,
    score_for_averages,
)
from .vqa import normalize_vqa_answer, pathvqa_scores, vqa_accuracy, vqa_soft_accuracy

# task kind -> what its score is, as table captions name it
METRIC_NAMES = {
    "open": "exact-match accuracy %",
    "multiple_choice": "option accuracy %",
    "yes_no": "F1 % ('yes' = positive class)",
    "caption": "CIDEr×100",
    "vqa": "VQA soft accuracy %",
    "pathvqa": "accuracy % (yes/no questions by their yes/no word, open ones by exact match)",
}
KINDS = tuple(METRIC_NAMES)


def score_task(kind: str, predictions: list, references: list, ids: list) -> dict:
    """Score one task. references[i] is the list of accepted answers / reference captions.

    open -> {"score", "accuracy"}  (exact match against any reference)
    multiple_choice -> {"score", "accuracy"}  (first word = option letter)
    yes_no -> {"score", "accuracy", "precision", "recall", "f1", "yes_ratio"}; score = F1, the POPE number
        LLaVA-1.5 and the MDGD paper report (answers read as LLaVA's eval_pope.py reads them)
    caption -> {"score", "cider"}; score = CIDEr * 100
    vqa -> {"score", "accuracy"}  (VQAv2 soft accuracy over the human answers)
    pathvqa -> {"score", "accuracy", "yes_no_accuracy", "open_accuracy", "n_yes_no", "n_open"};
        score = accuracy over all questions (yes/no ones by the yes/no word, open ones by exact match)
    Every result also carries "n" (number of scored examples) and "per_question" with "statistic": each
    question's part in the score, for the paired bootstrap (metrics/questions.py).
    """
    if not (len(predictions) == len(references) == len(ids)):
        raise ValueError("predictions, references and ids must have the same length")
    if kind not in _SCORERS:
        raise ValueError(f"unknown task kind {kind!r}; expected one of {', '.join(KINDS)}")
    out = _SCORERS[kind](predictions, references, [str(i) for i in ids])
    if kind == "caption":
        per_question, statistic = out.pop("per_image"), "mean"
        if len(per_question) != len(predictions):
            raise ValueError("a caption task's ids must be unique (they key CIDEr's images)")
    else:
        per_question, statistic = question_values(kind, predictions, references)
    score = out[_SCORE_KEY.get(kind, "accuracy")]
    return {
        "score": 100.0 * score,
        **out,
        "n": len(predictions),
        "per_question": per_question,
        "statistic": statistic,
    }


# the detailed metric a kind's score is; the others' is "accuracy"
_SCORE_KEY = {"caption": "cider", "yes_no": "f1"}


def _open_accuracy(preds, refs) -> float:
    return sum(exact_match(p, r) for p, r in zip(preds, refs)) / len(preds) if preds else 0.0


def _caption(preds: dict, refs: dict) -> dict:
    corpus, per_image = cider_scores(preds, refs)
    return {"cider": corpus, "per_image": [100.0 * x for x in per_image]}


# kind -> (predictions, references, ids) -> detailed metrics; caption ids key CIDEr's dicts (unique, hashable)
_SCORERS = {
    "open": lambda p, r, ids: {"accuracy": _open_accuracy(p, r)},
    "multiple_choice": lambda p, r, ids: {"accuracy": option_accuracy(p, r)},
    "yes_no": lambda p, r, ids: yes_no_scores(p, r),
    "caption": lambda p, r, ids: _caption(dict(zip(ids, p)), dict(zip(ids, r))),
    "vqa": lambda p, r, ids: {"accuracy": vqa_accuracy(p, r)},
    "pathvqa": lambda p, r, ids: pathvqa_scores(p, r),
}

__all__ = [
    "KINDS",
    "METRIC_NAMES",
    "score_task",
    "normalize_answer",
    "exact_match",
    "option_accuracy",
    "yes_no_scores",
    "pope_answer",
    "cider",
    "effective_rank",
    "erank_from_spectrum",
    "h_avg_target",
    "h_pretrained_avg",
    "row_average",
    "pretrained_mean",
    "score_for_averages",
    "forgetting_points",
    "forgetting_relative",
    "normalize_vqa_answer",
    "vqa_soft_accuracy",
    "vqa_accuracy",
    "pathvqa_scores",
]
