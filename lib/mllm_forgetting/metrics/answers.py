"""Answer matching for VQA-style tasks: open answers, option letters, yes/no (POPE).

Predictions come from greedy decoding of tiny models, so they are noisy
("Yes, there is." / "(B) cat"); the open and option scorers first normalize both
sides the same way so that formatting never decides correctness. POPE answers are
read as LLaVA's official POPE evaluation reads them (`pope_answer`).
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
    """'yes', 'no', or 'other' from the first word (PathVQA's yes/no questions: an answer that is neither
    counts as wrong)."""
    w = first_option_letter(pred)
    return w if w in ("yes", "no") else "other"


def pope_answer(pred: str) -> str:
    """'yes' or 'no' as LLaVA's llava/eval/eval_pope.py reads a POPE answer (also Model-Tailor's copy, whose
    setting MDGD follows): keep the text before the first period, delete commas, split on spaces; any word
    'No', 'no' or 'not' makes it 'no', everything else is 'yes' ("No, there is not." -> no, "There is a
    cat" -> yes, "NO" -> yes, "" -> yes). Every answer is a yes or a no: none is left out or scored wrong."""
    words = str(pred).split(".")[0].replace(",", "").split(" ")
    return "no" if {"No", "no", "not"} & set(words) else "yes"


def yes_no_scores(preds, refs) -> dict:
    """POPE's metrics as eval_pope.py computes them, 'yes' the positive class: accuracy, precision, recall,
    f1 and yes_ratio (fraction of predictions read as 'yes'). refs[i] is 'yes' or 'no' (or a list whose
    first item is). A ratio with nothing to count (no 'yes' predicted, say) is 0.0, where the script
    divides by zero. LLaVA-1.5 reports F1, the mean over POPE's three categories (score_task uses F1)."""
    truth = [yes_no_label(r if isinstance(r, str) else r[0]) for r in refs]
    said = [pope_answer(p) for p in preds]
    n = len(said)
    if n == 0:
        return {"accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "yes_ratio": 0.0}
    pairs = list(zip(said, truth, strict=True))
    tp = pairs.count(("yes", "yes"))
    fp = pairs.count(("yes", "no"))
    fn = pairs.count(("no", "yes"))
    tn = pairs.count(("no", "no"))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": (tp + tn) / n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "yes_ratio": said.count("yes") / n,
    }


def yes_no_label(ref: str) -> str:
    # eval_pope.py takes any label but 'no' as yes; a POPE label that is neither is bad data, not a yes
    label = str(ref).strip().lower()
    if label not in ("yes", "no"):
        raise ValueError(f"a yes/no task's reference must be 'yes' or 'no'; got {ref!r}")
    return label
