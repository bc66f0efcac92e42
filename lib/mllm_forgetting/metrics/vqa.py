"""VQA soft accuracy (VQAv2, VizWiz, TextVQA, OK-VQA, A-OKVQA direct answers) and PathVQA scores.

`vqa_soft_accuracy` follows the VQA challenge's official evaluation script, GT-Vision-Lab/VQA
PythonEvaluationTools/vqaEvaluation/vqaEval.py as released for VQA v2.0 (commit a4f1afd, 2017; the EvalAI
challenge copy, Cloud-CV/VQA-Evaluation, processes answers in the same order): the prediction is always
normalized (processPunctuation, then processDigitArticle), while the human answers are compared as they are
written when they all agree and, when they disagree, only have their punctuation processed (their number
words, articles and contractions stay). The human answers are thus expected in the annotations' own
normalized form ("2", not "two"), as VQAv2's are. Its tables (punctuation list, comma/period regexes,
number words, articles, contractions) are copied verbatim. A later commit of the script (a013f00, 2021,
"Fixed processing answers bug") normalizes prediction and answers fully, but only when the answers disagree.
"""

from __future__ import annotations

import re

from .answers import exact_match, normalize_answer, parse_yes_no

# fmt: off
CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've",
    "hasnt": "hasn't", "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've",
    "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've",
    "I'dve": "I'd've", "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
    "it'dve": "it'd've", "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't",
    "mustve": "must've", "neednt": "needn't", "notve": "not've", "oclock": "o'clock",
    "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at",
    "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's",
    "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd", "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've", "somebodyll": "somebody'll", "somebodys": "somebody's",
    "someoned": "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
    "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've", "somethingll": "something'll",
    "thats": "that's", "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've",
    "werent": "weren't", "whatll": "what'll", "whatre": "what're", "whats": "what's",
    "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've",
    "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're",
    "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've",
    "youll": "you'll", "youre": "you're", "youve": "you've",
}
NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
ARTICLES = ("a", "an", "the")
PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
               ",", "?", "!")
# fmt: on
# Both regexes verbatim from vqaEval.py. "(?!<=\d)" is the script's typo for a lookbehind: as
# written it never blocks, so a period is stripped unless a digit follows it ("3.5" survives).
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
# the script passes re.UNICODE (= 32) as sub()'s count, so only the first 32 such periods go
_PERIODS_STRIPPED = int(re.UNICODE)


def _process_punctuation(text: str) -> str:
    out = text
    for p in PUNCTUATION:
        # a mark touching a space, or any text with a thousands comma, loses the mark outright
        # ("1,000" -> "1000"); otherwise the mark becomes a space ("black-white" -> "black white")
        if (p + " " in text or " " + p in text) or _COMMA_STRIP.search(text) is not None:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out, count=_PERIODS_STRIPPED)


def _process_digit_article(text: str) -> str:
    words = [NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def normalize_vqa_answer(answer: str) -> str:
    """The official VQA normalization of a prediction: "Two" -> "2", "dont" -> "don't", "a dog." -> "dog"."""
    text = str(answer).replace("\n", " ").replace("\t", " ").strip()
    return _process_digit_article(_process_punctuation(text))


def vqa_soft_accuracy(prediction: str, answers) -> float:
    """VQA accuracy of one prediction against the human answers.

    The normalized prediction is compared with each human answer as vqaEval.py prepares them (the module
    docstring). For each human answer, leave it out and score min(#remaining answers equal to the
    prediction / 3, 1); the result is the mean over the leave-one-out subsets (10 for VQAv2: 0, 1, 2, 3, 4+
    matches give 0, 0.3, 0.6, 0.9, 1.0). Fewer answers use the same definition over however many there are,
    so a single reference always scores 0: single-answer data belongs to kind "open", not "vqa".
    """
    answers = [answers] if isinstance(answers, str) else list(answers)
    if not answers:
        return 0.0
    pred = normalize_vqa_answer(prediction)
    if len(set(answers)) > 1:  # humans who disagree: punctuation processed, nothing else
        answers = [_process_punctuation(a) for a in answers]
    hits = [a == pred for a in answers]
    matches = sum(hits)
    return sum(min((matches - hit) / 3, 1.0) for hit in hits) / len(hits)


def vqa_accuracy(predictions, references) -> float:
    """Mean VQA soft accuracy; references[i] is the list of human answers for predictions[i]."""
    scores = [vqa_soft_accuracy(p, r) for p, r in zip(predictions, references, strict=True)]
    return sum(scores) / len(scores) if scores else 0.0


def pathvqa_scores(predictions, references) -> dict:
    """PathVQA: questions whose reference is yes/no are scored by the yes/no word the prediction
    starts with; the open ones by normalized exact match against the reference.

    Returns accuracy (over all), yes_no_accuracy, open_accuracy (0.0 for an empty group) and the
    group sizes n_yes_no, n_open.
    """
    yes_no_hits, open_hits = [], []
    for pred, refs in zip(predictions, references, strict=True):
        refs = [refs] if isinstance(refs, str) else list(refs)
        truth = normalize_answer(refs[0]) if refs else ""
        if truth in ("yes", "no"):
            yes_no_hits.append(float(parse_yes_no(pred) == truth))
        else:
            open_hits.append(exact_match(pred, refs))

    def mean(xs):
        return sum(xs) / len(xs) if xs else 0.0

    return {
        "accuracy": mean(yes_no_hits + open_hits),
        "yes_no_accuracy": mean(yes_no_hits),
        "open_accuracy": mean(open_hits),
        "n_yes_no": len(yes_no_hits),
        "n_open": len(open_hits),
    }
