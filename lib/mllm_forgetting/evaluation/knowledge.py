"""What a model knows beyond what it answers: likelihood-scored closed questions and linear probes of its
image-token states (metrics/likelihood.py, metrics/probes.py hold the arithmetic)."""

from __future__ import annotations

import numpy as np

from ..data.probes import ATTRIBUTES, PROBE_SPLITS, load_probes
from ..metrics import score_task
from ..metrics.likelihood import best_candidates, closed_candidates
from ..metrics.probes import probe_accuracy, token_features
from ..prompts import PromptTemplate
from ..training.batches import Encoded, encode
from .predict import candidate_scores, representations

# a probe image enters as a caption request: the one prompt without a question. Every template puts the
# image before the text, so the image tokens' states (what the probes read) do not depend on it.
PROBE_TASK, PROBE_KIND = "probe", "caption"


def likelihood_result(
    model, tokenizer, enc: Encoded, rows, prompt: PromptTemplate, likelihood, *, batch_size, device
):
    """A closed-answer task scored by its official metric on the answers its likelihood ranks first
    (`choices`)."""
    kind = rows[0]["kind"]
    candidates = [
        closed_candidates(kind, options, prompt.letters, likelihood.yes_no) for options in rows["options"]
    ]
    candidate_ids = [[tokenizer(c, add_special_tokens=False)["input_ids"] for c in row] for row in candidates]
    scores = candidate_scores(
        model, enc, candidate_ids, batch_size=batch_size, pad_id=tokenizer.pad_token_id, device=device
    )
    chosen = best_candidates(scores, candidates)
    result = score_task(kind, chosen, enc.answers, enc.ids)
    return {
        "score": result["score"],
        "statistic": result["statistic"],
        "per_question": result["per_question"],
        "metrics": {k: v for k, v in result.items() if k not in ("score", "per_question", "statistic")},
        "choices": chosen,
    }


def probe_rows(probes):
    """Probe images as common-schema rows (the label as the answer), for encode()."""
    n = len(probes)
    return (
        probes.add_column("question", [""] * n)
        .add_column("context", [""] * n)
        .add_column("options", [[] for _ in range(n)])
        .add_column("answers", [[label] for label in probes["label"]])
        .add_column("task", [PROBE_TASK] * n)
        .add_column("kind", [PROBE_KIND] * n)
    )


# flattened image-token states above this many features per image need pooling: mean (LLaVA-7B's 576 x
# 4096 would be 2.4M features, ~24 GB over the probe sets)
MAX_FLATTENED_FEATURES = 65_536


def probe_results(
    model,
    processor,
    data_dir,
    prompt: PromptTemplate,
    probes,
    *,
    layer,
    batch_size,
    device,
    image_size,
    threads,
):
    """{attribute: probe_accuracy(...) + train/test sizes}: one probe per attribute of data/probes.py.
    scikit-learn's BLAS is held to `threads`, as torch is (the job's Snakemake threads)."""
    from threadpoolctl import threadpool_limits

    features, attributes, labels = {}, {}, {}
    for split in PROBE_SPLITS:
        ds = load_probes(data_dir, split)
        enc = encode(probe_rows(ds), processor, prompt, image_size=image_size)
        visual, _ = representations(
            model,
            enc,
            image_token_id=model.config.image_token_id,
            layer=layer,
            batch_size=batch_size,
            pad_id=processor.tokenizer.pad_token_id,
            device=device,
        )
        if probes.pooling == "flatten" and visual[0].numel() > MAX_FLATTENED_FEATURES:
            raise ValueError(
                f"evaluation.probes: flattening {tuple(visual.shape[1:])} image-token states gives "
                f"{visual[0].numel()} features per image (at most {MAX_FLATTENED_FEATURES}); "
                "use pooling: mean"
            )
        features[split] = token_features(visual.numpy(), probes.pooling)
        attributes[split], labels[split] = np.asarray(ds["attribute"]), np.asarray(ds["label"])
    out = {}
    for attribute in ATTRIBUTES:
        train, test = (attributes[s] == attribute for s in PROBE_SPLITS)
        with threadpool_limits(limits=max(1, threads)):
            result = probe_accuracy(
                features["train"][train],
                labels["train"][train],
                features["test"][test],
                labels["test"][test],
                C=probes.C,
            )
        out[attribute] = {"n_train": int(train.sum()), "n_test": int(test.sum()), **result}
    return out
