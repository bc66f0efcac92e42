"""Answer matching for VQA-style tasks: open answers, option letters, yes/no (POPE).

Predictions come from greedy decoding of tiny models, so they are noisy
("Yes, there is." / "(B) cat"); every scorer first normalizes both sides the
same way so that formatting never decides correctness.
"""

import string

_ARTICLES = {"a", "an", "the"}
# apostrophes are deleted ("don't" -> "dont"), every other punctuation mark
# becomes a space ("red-white" -> "red white"), on both pred and ref alike.
_PUNCT_TO_SPACE = str.maketrans({c: " " for c in string.punctuation if c != "'"} | {"'": ""})


def normalize_answer(s: str) -> str:
    """Lowercase, drop punctuation and articles, collapse whitespace.

    A whole answer that is a single letter ("A", "(a)", "a.") is kept: it is a
    multiple-choice option, not the article "a".
    """
    words = str(s).lower().translate(_PUNCT_TO_SPACE).split()
    if len(words) == 1 and len(words[0]) == 1:
        return words[0]
    return " ".join(w for w in words if w not in _ARTICLES)


def exact_match(pred: str, refs) -> float:
    """1.0 if the normalized prediction equals any normalized reference."""
    refs = [refs] if isinstance(refs, str) else refs
    p = normalize_answer(pred)
    return float(any(p == normalize_answer(r) for r in refs))


def first_option_letter(pred: str) -> str:
    """The option the model chose: first word of the prediction, punctuation
    stripped ("(B) cat" -> "b", "C." -> "c"); "" when the answer is empty."""
    words = str(pred).lower().translate(_PUNCT_TO_SPACE).split()
    return words[0] if words else ""


def option_accuracy(preds, refs) -> float:
    """Fraction of predictions whose first word is the reference option letter.
    refs[i] may be a letter or a list whose first item is the letter."""
    if not preds:
        return 0.0
    hits = 0
    for p, r in zip(preds, refs, strict=True):
        r = r if isinstance(r, str) else r[0]
        hits += first_option_letter(p) == first_option_letter(r)
    return hits / len(preds)


def parse_yes_no(pred: str) -> str:
    """'yes', 'no', or 'other' from the first word (POPE's convention: an
    answer that is neither counts as wrong and as not-'yes')."""
    w = first_option_letter(pred)
    return w if w in ("yes", "no") else "other"


def yes_no_scores(preds, refs) -> dict:
    """POPE metrics with 'yes' as the positive class: accuracy, precision,
    recall, f1 and yes_ratio (fraction of predictions answering 'yes')."""
    refs = [r if isinstance(r, str) else r[0] for r in refs]
    p = [parse_yes_no(x) for x in preds]
    t = [parse_yes_no(x) for x in refs]
    n = len(p)
    if n == 0:
        return {"accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "yes_ratio": 0.0}
    tp = sum(a == "yes" and b == "yes" for a, b in zip(p, t, strict=True))
    fp = sum(a == "yes" and b != "yes" for a, b in zip(p, t))
    fn = sum(a != "yes" and b == "yes" for a, b in zip(p, t))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": sum(a == b for a, b in zip(p, t)) / n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "yes_ratio": p.count("yes") / n,
    }
