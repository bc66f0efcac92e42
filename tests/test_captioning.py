"""CIDEr on PTB tokens as the official COCO caption evaluation computes it; Java missing is one clear line."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mllm_forgetting.cli import describe
from mllm_forgetting.metrics import captioning, cider
from mllm_forgetting.metrics.captioning import JAR, JavaMissingError, ptb_tokenize

# what the regex tokenizer used before got wrong, and the PTB tokens pycocoevalcap scores instead
PTB_CASES = [
    ("A man don't ride.", "a man do n't ride"),  # the regex gave "a man don t ride"
    ("The dog's ball", "the dog 's ball"),  # "the dog s ball"
    ("red-white car", "red-white car"),  # "red white car"
    ("Two dogs, playing (outside)!", "two dogs playing -lrb- outside -rrb-"),  # brackets stay, as -lrb-
    ("3.5 cats", "3.5 cats"),
    ("", ""),
    ("a b\nc", "a b c"),  # a newline inside a caption is a space, not a new caption
]


@pytest.mark.parametrize("caption, tokens", PTB_CASES)
def test_ptb_tokens(caption, tokens):
    assert ptb_tokenize([caption]) == [tokens]


def test_the_same_tokens_as_pycocoevalcaps_own_wrapper(tmp_path):
    # pycocoevalcap's PTBTokenizer writes its input file next to its module: run a copy of it from tmp_path
    original = Path(importlib.util.find_spec("pycocoevalcap.tokenizer.ptbtokenizer").origin)
    shutil.copy(original, tmp_path / original.name)
    (tmp_path / JAR.name).symlink_to(JAR)
    spec = importlib.util.spec_from_file_location("official_ptb", tmp_path / original.name)
    official = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(official)
    captions = [c for c, _ in PTB_CASES] + ["café “naïve” — dash…", 'He said "hi"; then left...', "  "]
    theirs = official.PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(captions)})
    assert ptb_tokenize(captions) == [theirs[i][0] for i in range(len(captions))]


def test_cider_scores_ptb_tokens():
    refs = {
        "1": ["the dog 's ball is red", "a red ball"],
        "2": ["a man do n't ride a bike", "a man walks"],
        "3": ["two cats on a mat", "cats sit on a mat"],
    }
    tokenized = {i: r[0] for i, r in refs.items()}
    # the same words written with capitals, contractions and punctuation: the same PTB tokens, the same CIDEr
    written = {"1": "The dog's ball is red.", "2": "A man don't ride a bike!", "3": "Two cats, on a mat."}
    assert cider(written, refs) == pytest.approx(cider(tokenized, refs), abs=1e-12)
    assert cider(written, refs) > 1.0


def test_concurrent_scoring_shares_no_files():
    # several jobs score captions at once: each JVM reads its own stdin, nothing is written to disk
    batches = [[f"caption {i} number {j}." for j in range(20)] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(ptb_tokenize, batches))
    assert results == [[c.removesuffix(".") for c in batch] for batch in batches]


def test_no_java_is_one_line_naming_the_fix(monkeypatch):
    monkeypatch.setattr(captioning.shutil, "which", lambda name: None)
    with pytest.raises(JavaMissingError) as caught:
        cider({"1": "a cat"}, {"1": ["a cat"]})
    line = describe(caught.value)
    assert "apt-get install default-jre-headless" in line and "\n" not in line
    assert isinstance(caught.value, OSError)  # the step scripts print an OSError as one line, no traceback


def test_a_tokenizer_losing_lines_is_an_error_not_a_shifted_score(monkeypatch):
    def short_output(*args, **kwargs):
        return subprocess.CompletedProcess(args, 0, stdout=b"one line only", stderr=b"")

    monkeypatch.setattr(captioning.subprocess, "run", short_output)
    with pytest.raises(RuntimeError, match="returned 1 lines for 3 captions"):
        ptb_tokenize(["a", "b", "c"])
