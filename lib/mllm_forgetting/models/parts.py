"""Which parameters a method tunes: the connector (projector / resampler) and the last LM layers.

Module paths come from the backbone's config entry, so a real model only needs its own names
(e.g. LLaVA-1.5: `model.multi_modal_projector`, `model.language_model.layers`, last 6 of 32).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch.nn as nn


def trainable_names(model: nn.Module, connector: str, layers: str, last_layers: int) -> list[str]:
    """Names of parameters under the connector module or the last `last_layers` blocks of `layers`."""
    blocks = model.get_submodule(layers)
    if not 0 < last_layers <= len(blocks):
        raise ValueError(f"trainable_last_layers={last_layers} outside 1..{len(blocks)} for {layers}")
    prefixes = [connector + "."] + [f"{layers}.{i}." for i in range(len(blocks) - last_layers, len(blocks))]
    names = [n for n, _ in model.named_parameters() if any(n.startswith(p) for p in prefixes)]
    if not names:
        raise ValueError(f"no parameters under {prefixes}: check connector/layers in the backbone config")
    return names


def select_trainable(model: nn.Module, names: list[str]) -> list[nn.Parameter]:
    """Freeze everything except `names`; return those parameters in model order."""
    wanted = set(names)
    params = []
    for name, param in model.named_parameters():
        param.requires_grad_(name in wanted)
        if name in wanted:
            params.append(param)
    return params
