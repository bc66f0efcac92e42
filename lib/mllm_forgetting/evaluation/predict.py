"""Greedy answers and hidden-state representations of a model on an encoded split."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from ..metrics.likelihood import sequence_logprobs
from ..training.batches import Encoded, prompt_batch, to_device, training_batch
from ..training.forward import layer_states, visual_states


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield list(range(start, min(n, start + size)))


@torch.no_grad()
def predict(
    model, tokenizer, enc: Encoded, *, batch_size: int, max_new_tokens: int, device, label: str = ""
) -> list[str]:
    """Greedy-decoded answers (model.generate), special tokens stripped."""
    model.eval()
    answers = []
    for index in tqdm(
        list(_chunks(len(enc), batch_size)), desc=f"generate {label}", mininterval=5, leave=False
    ):
        batch = to_device(prompt_batch(enc, index, tokenizer.pad_token_id), device)
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        new_tokens = out[:, batch["input_ids"].shape[1] :]
        answers += [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return answers


@torch.no_grad()
def representations(
    model, enc: Encoded, *, image_token_id: int, layer: int, batch_size: int, pad_id: int, device
):
    """(image-token states (N, M, d), last-prompt-token states (N, d)) at hidden layer `layer`.

    The first are the visual representation pi(X^v) of the paper; the last prompt token's state is its
    multimodal representation z^vl (left padding puts it at position -1 for every row).
    """
    model.eval()
    visual, multimodal = [], []
    for index in _chunks(len(enc), batch_size):
        batch = to_device(prompt_batch(enc, index, pad_id), device)
        out = model(**batch, output_hidden_states=True, use_cache=False)
        visual.append(
            visual_states(out.hidden_states, batch["input_ids"], image_token_id, layer).float().cpu()
        )
        multimodal.append(layer_states(out.hidden_states, layer)[:, -1].float().cpu())
    return torch.cat(visual), torch.cat(multimodal)


@torch.no_grad()
def candidate_scores(
    model, enc: Encoded, candidate_ids: list[list[list[int]]], *, batch_size: int, pad_id: int, device
) -> list[list[float]]:
    """Per row, the log-likelihood of each candidate answer's tokens after the row's prompt.

    Every (row, candidate) pair is one teacher-forced sequence, prompt + candidate, laid out as a training
    batch writes prompt + answer and tokenized as answers are, but without the end-of-sequence token (as
    lmms-eval's loglikelihood requests): a candidate's score is that of its tokens only."""
    model.eval()
    pairs = [(i, k) for i, cands in enumerate(candidate_ids) for k in range(len(cands))]
    extras = enc.token_extras
    paired = Encoded(
        prompt_ids=[enc.prompt_ids[i] for i, _ in pairs],
        answer_ids=[[candidate_ids[i][k]] for i, k in pairs],
        images=[enc.images[i] for i, _ in pairs],
        ids=[enc.ids[i] for i, _ in pairs],
        answers=[enc.answers[i] for i, _ in pairs],
        tasks=[enc.tasks[i] for i, _ in pairs],
        token_extras={key: [values[i] for i, _ in pairs] for key, values in extras.items()}
        if extras
        else None,
    )
    scores = [[0.0] * len(cands) for cands in candidate_ids]
    for index in _chunks(len(paired), batch_size):
        batch = to_device(training_batch(paired, index, None, pad_id), device)
        labels = batch.pop("labels")
        logits = model(**batch, use_cache=False).logits
        for j, value in zip(index, sequence_logprobs(logits, labels).tolist()):
            i, k = pairs[j]
            scores[i][k] = value
    return scores
