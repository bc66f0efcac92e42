"""One forward pass giving what every method needs: the task loss L_vl (Eq. 2) and the visual representation.

The visual representation is the hidden state at the image-token positions of a configurable layer
(the last by default, as the paper's Sec. 6.3), shaped (batch, image tokens, hidden).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def task_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over answer tokens (labels != -100)."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100)


def layer_states(hidden_states, layer: int) -> torch.Tensor:
    """The hidden states of one layer (0 = the embeddings, -1 = the last layer), or a ValueError naming the
    valid range (a hub backbone's depth is known only once it is loaded)."""
    n = len(hidden_states)
    if not -n <= layer < n:
        raise ValueError(
            f"evaluation.representation_layer {layer} is outside this model's hidden states: {-n}..{n - 1} "
            f"(the embeddings and {n - 1} layers)"
        )
    return hidden_states[layer]


def visual_states(hidden_states, input_ids: torch.Tensor, image_token_id: int, layer: int) -> torch.Tensor:
    states = layer_states(hidden_states, layer)
    is_image = input_ids == image_token_id
    counts = is_image.sum(dim=1)
    if not bool((counts == counts[0]).all()):
        raise ValueError(
            f"images in one batch have different numbers of image tokens ({sorted(set(counts.tolist()))}); "
            "set the backbone's `image_resize` so every image gives the same number"
        )
    return states[is_image].view(states.shape[0], int(counts[0]), states.shape[-1])


def forward_vl(model, batch: dict, image_token_id: int, layer: int, need_visual: bool = True):
    """(task loss, visual states or None) for a batch from `training_batch`."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    out = model(**inputs, output_hidden_states=need_visual, use_cache=False)
    loss = task_loss(out.logits, batch["labels"])
    visual = (
        visual_states(out.hidden_states, batch["input_ids"], image_token_id, layer) if need_visual else None
    )
    return loss, visual
