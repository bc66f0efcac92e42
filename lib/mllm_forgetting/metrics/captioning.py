"""CIDEr for the caption tasks, computed as the official COCO caption evaluation does.

pycocoevalcap/eval.py (COCOEvalCap.evaluate, also lmms-eval's Flickr30k and TextCaps tasks) tokenizes
references and predictions with the Stanford PTB tokenizer (pycocoevalcap/tokenizer/ptbtokenizer.py: the
bundled CoreNLP 3.4.1 jar run by Java with -preserveLines -lowerCase, then the tokens in its PUNCTUATIONS
list dropped) and scores the tokens with `Cider`. `ptb_tokenize` runs that same jar, flags and filter;
it only feeds the JVM through stdin where pycocoevalcap writes a temporary file into its installed package
directory, which fails in a read-only environment and is left behind when Java does not start. With no
files, concurrent jobs scoring captions share nothing. The tokens are the same either way
(tests/test_captioning.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.tokenizer import ptbtokenizer

JAR = Path(ptbtokenizer.__file__).with_name(ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR)
PTB_COMMAND = ["edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase"]
JAVA_FIX = "apt-get install default-jre-headless"


class JavaMissingError(OSError):
    """No `java` to run the PTB tokenizer with (an OSError: the step scripts print it as one line)."""


def java() -> str:
    """The `java` executable; JavaMissingError naming the fix when there is none."""
    found = shutil.which("java")
    if found is None:
        raise JavaMissingError(
            "CIDEr needs Java for the COCO caption evaluation's PTB tokenizer and there is no `java` on "
            f"PATH: install a Java runtime ({JAVA_FIX}; conda: openjdk), or run scripts/setup_env.sh"
        )
    return found


def ptb_tokenize(captions: list[str]) -> list[str]:
    """Each caption as pycocoevalcap's PTBTokenizer returns it: lowercased PTB tokens joined by spaces,
    punctuation tokens dropped ("A man's bike." -> "a man 's bike")."""
    if not captions:
        return []
    # one caption per line, as pycocoevalcap writes them; -preserveLines keeps line i = caption i
    text = "\n".join(str(c).replace("\n", " ") for c in captions)
    proc = subprocess.run(
        [java(), "-cp", str(JAR), *PTB_COMMAND], input=text.encode(), capture_output=True, check=False
    )
    if proc.returncode != 0:
        said = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"the PTB tokenizer failed (exit {proc.returncode}): {said[-1] if said else ''}")
    lines = proc.stdout.decode().split("\n")
    if len(lines) < len(captions) or any(line.strip() for line in lines[len(captions) :]):
        raise RuntimeError(f"the PTB tokenizer returned {len(lines)} lines for {len(captions)} captions")
    drop = set(ptbtokenizer.PUNCTUATIONS)
    return [" ".join(w for w in line.rstrip().split(" ") if w not in drop) for line in lines[: len(captions)]]


def cider(preds: dict, refs: dict) -> float:
    """Corpus CIDEr (pycocoevalcap `Cider`: CIDEr-D, n=4, sigma=6) of PTB-tokenized captions.

    preds: {id: caption}; refs: {id: [reference captions]}. Only ids in preds are scored. CIDEr's idf is
    estimated from the references of the scored corpus itself, so a corpus of ONE image always scores 0
    (idf = log 1 = 0): score at least a few images.
    """
    return cider_scores(preds, refs)[0]


def cider_scores(preds: dict, refs: dict) -> tuple[float, list[float]]:
    """(corpus CIDEr, each image's CIDEr in the order of preds): the corpus score is their mean, all with
    the idf of the whole scored corpus (what the paired bootstrap resamples: metrics/questions.py)."""
    ids = list(preds)
    if not ids:
        return 0.0, []
    ref_lists = {i: [refs[i]] if isinstance(refs[i], str) else list(refs[i]) for i in ids}
    flat = [preds[i] for i in ids] + [r for i in ids for r in ref_lists[i]]
    tokens = iter(ptb_tokenize(flat))  # one JVM for the whole corpus: predictions first, then references
    res = {i: [next(tokens)] for i in ids}
    gts = {i: [next(tokens) for _ in ref_lists[i]] or [""] for i in ids}
    score, per_image = Cider().compute_score(gts, res)
    return float(score), [float(x) for x in per_image]
