"""Task metrics: answer matching, CIDEr, effective rank, table summaries.

`score_task` is the single entry point the evaluate step calls per task; it
returns {"score": <0-100 number shown in tables>, **detailed metrics (0-1)}.
"""
from .answers import exact_match, normalize_answer, option_accuracy, yes_no_scores
from .captioning import cider
from .rank import effective_rank, erank_from_spectrum
from .summary import forgetting, h_score, row_average

KINDS = ("open", "multiple_choice", "yes_no", "caption")


def score_task(kind: str, predictions: list, references: list, ids: list) -> dict:
    """Score one task. references[i] is the list of accepted answers / reference captions.

    open -> {"score", "accuracy"}  (exact match against any reference)
    multiple_choice -> {"score", "accuracy"}  (first word = option letter)
    yes_no -> {"score", "accuracy", "precision", "recall", "f1", "yes_ratio"}; score = accuracy
    caption -> {"score", "cider"}; score = CIDEr * 100
    Every result also carries "n" (number of scored examples).
    """
    if not (len(predictions) == len(references) == len(ids)):
        raise ValueError("predictions, references and ids must have the same length")
    n = len(predictions)
    if kind == "open":
        acc = sum(exact_match(p, r) for p, r in zip(predictions, references)) / n if n else 0.0
        out = {"accuracy": acc}
        score = acc
    elif kind == "multiple_choice":
        out = {"accuracy": option_accuracy(predictions, references)}
        score = out["accuracy"]
    elif kind == "yes_no":
        out = yes_no_scores(predictions, references)
        score = out["accuracy"]
    elif kind == "caption":
        ids = [str(i) for i in ids]  # keys must be unique and hashable
        c = cider(dict(zip(ids, predictions)), dict(zip(ids, references)))
        out = {"cider": c}
        score = c
    else:
        raise ValueError(f"unknown task kind {kind!r}; expected one of {KINDS}")
    return {"score": 100.0 * score, **out, "n": n}


__all__ = [
    "KINDS", "score_task", "normalize_answer", "exact_match", "option_accuracy", "yes_no_scores",
    "cider", "effective_rank", "erank_from_spectrum", "h_score", "row_average", "forgetting",
]
