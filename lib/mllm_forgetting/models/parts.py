"""Which parameters a method tunes: the connector (projector / resampler) and the last LM layers.

Module paths come from the backbone's config entry, so a real model only needs its own names
(e.g. LLaVA-1.5: `model.multi_modal_projector`, `model.language_model.layers`, last 6 of 32).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch.nn as nn


def trainable_names(model: nn.Module, connector: str, layers: str, last_layers: int) -> list[str]:
    """Names of parameters under the connector module or the last `last_layers` blocks of `layers`. Both
    paths must name a module of the model exactly: a mistyped connector must not leave only the last
    layers tuned."""
    prefixes = [path + "." for path in trainable_modules(model, connector, layers, last_layers)]
    return [n for n, _ in model.named_parameters() if any(n.startswith(p) for p in prefixes)]


def trainable_modules(model: nn.Module, connector: str, layers: str, last_layers: int) -> list[str]:
    """Module paths of the tuned parts in forward order: the connector, then each of the last layers."""
    connector_module = module_at(model, connector, "connector")
    blocks = module_at(model, layers, "layers")
    if not hasattr(blocks, "__len__"):
        raise ValueError(f"backbone `layers`: {layers!r} is a {type(blocks).__name__}, not a list of blocks")
    if not 0 < last_layers <= len(blocks):
        raise ValueError(f"trainable_last_layers={last_layers} outside 1..{len(blocks)} for {layers}")
    if not any(True for _ in connector_module.parameters()):
        raise ValueError(f"backbone `connector`: module {connector!r} has no parameters to tune")
    return [connector] + [f"{layers}.{i}" for i in range(len(blocks) - last_layers, len(blocks))]


def module_at(model: nn.Module, path: str, key: str) -> nn.Module:
    """The submodule at a dotted path from the backbone's config entry; a ValueError naming the closest
    module paths when there is none."""
    import difflib

    try:
        return model.get_submodule(path)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        close = difflib.get_close_matches(path, names, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ValueError(f"backbone `{key}`: the model has no module {path!r}{hint}") from None


def select_trainable(model: nn.Module, names: list[str]) -> list[nn.Parameter]:
    """Freeze everything except `names`; return those parameters in model order, in fp32 whatever the
    model's dtype (master weights of a bf16 backbone: training/precision.py)."""
    from ..training.precision import to_master_weights

    wanted = set(names)
    params = []
    for name, param in model.named_parameters():
        param.requires_grad_(name in wanted)
        if name in wanted:
            params.append(param)
    to_master_weights(params)
    return params
