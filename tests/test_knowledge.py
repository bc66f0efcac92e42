"""Likelihood scoring and linear probes: the arithmetic by hand, the batched forward against one sequence."""

import numpy as np
import pytest
import torch
from mllm_forgetting.metrics.likelihood import best_candidates, closed_candidates, sequence_logprobs
from mllm_forgetting.metrics.probes import probe_accuracy, token_features


def test_sequence_logprobs_sums_the_labelled_tokens_predicted_from_the_position_before():
    logits = torch.randn(2, 4, 5)
    labels = torch.tensor([[-100, -100, 3, 1], [-100, 2, -100, -100]])
    logp = torch.log_softmax(logits, dim=-1)
    expected = torch.tensor([logp[0, 1, 3] + logp[0, 2, 1], logp[1, 0, 2]])
    assert torch.allclose(sequence_logprobs(logits, labels), expected)


def test_best_candidates_takes_the_highest_and_the_first_on_a_tie():
    assert best_candidates([[-1.0, -0.5], [-2.0, -2.0, -3.0]], [["a", "b"], ["yes", "no", "x"]]) == [
        "b",
        "yes",
    ]
    with pytest.raises(ValueError, match="one score per candidate"):
        best_candidates([[0.0]], [["a", "b"]])


def test_closed_candidates_are_the_option_letters_or_yes_and_no():
    assert closed_candidates("multiple_choice", ["red", "blue", "green"], "abcd") == ["a", "b", "c"]
    assert closed_candidates("yes_no", [], "abcd") == ["yes", "no"]
    assert closed_candidates("yes_no", [], "ABCD", ("Yes", "No")) == ["Yes", "No"]  # LLaVA-1.5's answers
    with pytest.raises(ValueError, match="5 options"):
        closed_candidates("multiple_choice", list("vwxyz"), "abcd")
    with pytest.raises(ValueError, match="closed answers"):
        closed_candidates("open", [], "abcd")


def test_a_probe_reads_a_linearly_encoded_label_and_not_noise():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400).astype(str)
    centres = rng.normal(size=(4, 32)) * 3
    x = centres[labels.astype(int)] + rng.normal(size=(400, 32))
    encoded = probe_accuracy(x[:300], labels[:300], x[300:], labels[300:])
    assert encoded["score"] > 95 and encoded["classes"] == 4 and len(encoded["per_question"]) == 100
    noise = probe_accuracy(rng.normal(size=(300, 32)), labels[:300], rng.normal(size=(100, 32)), labels[300:])
    assert noise["score"] < 45  # chance is 25: noise features carry no label
    assert noise["majority"] == pytest.approx(100 * np.mean(labels[300:] == noise_majority(labels[:300])))


def noise_majority(labels):
    values, counts = np.unique(labels, return_counts=True)
    return values[np.argmax(counts)]


def test_a_probe_with_one_label_is_the_majority_baseline_and_shapes_are_checked():
    one = probe_accuracy(np.zeros((5, 2)), ["a"] * 5, np.zeros((3, 2)), ["a", "b", "a"])
    assert one["score"] == pytest.approx(200 / 3) == one["majority"]
    with pytest.raises(ValueError, match="equal d"):
        probe_accuracy(np.zeros((5, 2)), ["a"] * 5, np.zeros((3, 3)), ["a"] * 3)


def test_token_features_flatten_keeps_every_token_and_mean_averages_them():
    states = np.arange(24, dtype=float).reshape(2, 3, 4)
    assert token_features(states, "flatten").shape == (2, 12)
    assert np.allclose(token_features(states, "mean")[0], states[0].mean(axis=0))
    with pytest.raises(ValueError, match="pooling"):
        token_features(states, "max")


@pytest.mark.parametrize("backbone", ["tiny-llava", "tiny-resampler"])
def test_batched_candidate_scores_equal_each_sequence_scored_alone(backbone, tmp_path):
    """Padding, image batching and the label shift: each (question, candidate) of a padded batch must score
    what that one sequence scores unpadded."""
    from conftest import smoke_config
    from mllm_forgetting.data.benchmark import build_benchmark, load_split, read_vocabulary
    from mllm_forgetting.evaluation.predict import candidate_scores
    from mllm_forgetting.models.registry import build_backbone
    from mllm_forgetting.training.batches import encode

    config = smoke_config()
    build_benchmark(tmp_path, ["mmbench"], {"train": 2, "val": 2, "test": 6}, seed=0, progress=False)
    prompt, b = config.prompt_of(backbone), config.backbones[backbone]
    torch.manual_seed(0)
    model, processor = build_backbone(b.architecture, b.size, read_vocabulary(tmp_path) + prompt.words())
    model.eval()
    tok = processor.tokenizer
    enc = encode(load_split(tmp_path, "mmbench", "test"), processor, prompt)
    candidates = [
        [tok(c, add_special_tokens=False)["input_ids"] for c in ("a", "b", "c d")] for _ in range(len(enc))
    ]
    batched = candidate_scores(model, enc, candidates, batch_size=7, pad_id=tok.pad_token_id, device="cpu")
    for i in (0, 5):
        for k in range(3):
            ids = torch.tensor([enc.prompt_ids[i] + candidates[i][k]])
            with torch.no_grad():
                logits = model(
                    input_ids=ids, attention_mask=torch.ones_like(ids), **enc.image_batch([i])
                ).logits
            logp = torch.log_softmax(logits[0, :-1].float(), dim=-1)
            n = len(candidates[i][k])
            targets = ids[0, -n:]
            alone = logp[-n:].gather(-1, targets[:, None]).sum().item()
            assert batched[i][k] == pytest.approx(alone, abs=1e-4)


def test_likelihood_and_probe_options_are_checked_at_config_load():
    from conftest import smoke_config
    from mllm_forgetting.config.typed import ConfigError

    def no_probe_data(raw):
        raw["data"]["probes"] = None

    with pytest.raises(ConfigError, match=r"evaluation.probes: the probes are fitted on the probe sets"):
        smoke_config(no_probe_data)

    def one_word(raw):
        raw["evaluation"]["likelihood"] = {"yes_no": ["yes", "yes"]}

    with pytest.raises(ConfigError, match="two different non-empty words"):
        smoke_config(one_word)

    def unknown_pooling(raw):
        raw["evaluation"]["probes"]["pooling"] = "max"

    with pytest.raises(ConfigError, match="pooling"):
        smoke_config(unknown_pooling)
