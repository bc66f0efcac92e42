"""Greedy answers and hidden-state representations of a model on an encoded split."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from ..training.batches import Encoded, prompt_batch, to_device
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
