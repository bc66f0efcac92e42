"""CIDEr for the caption target task (pycocoevalcap, without the Java PTB tokenizer).

Our captions are already lowercase space-separated words, so we only apply a
light normalization (lowercase, punctuation -> space) instead of the Java
tokenizer, which is unavailable offline.
"""

import string

from pycocoevalcap.cider.cider import Cider

_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def _tok(s: str) -> str:
    return " ".join(str(s).lower().translate(_PUNCT).split())


def cider(preds: dict, refs: dict) -> float:
    """Corpus CIDEr-D-style score (pycocoevalcap `Cider`, n=4, sigma=6).

    preds: {id: caption}; refs: {id: [reference captions]}. Only ids in preds
    are scored. CIDEr's idf is estimated from the references of the scored
    corpus itself, so a corpus of ONE image always scores 0 (idf = log 1 = 0):
    score at least a few images.
    """
    ids = [i for i in preds]
    if not ids:
        return 0.0
    res = {i: [_tok(preds[i])] for i in ids}
    gts = {}
    for i in ids:
        r = [refs[i]] if isinstance(refs[i], str) else list(refs[i])
        gts[i] = [_tok(x) for x in r] or [""]
    score, _ = Cider().compute_score(gts, res)
    return float(score)
