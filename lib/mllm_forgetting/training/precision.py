"""Mixed precision for a backbone loaded in bfloat16 (the paper path): fp32 master weights, bf16 compute.

AdamW stepping bf16 weights directly loses most updates: bf16 keeps 8 significant bits, so an update
smaller than 2^-8 of a weight rounds away (a norm weight near 1.0 never moves at lr 2e-5, and on
N(0, 0.02) weights most steps change nothing). The standard scheme (Micikevicius et al. 2018, "Mixed
Precision Training"; what torch.amp and accelerate's `mixed_precision="bf16"` do) keeps the tensors
being trained, their gradients and the optimizer state in fp32 and runs the forward pass under
autocast in bf16. Frozen weights stay bf16, so a 7B backbone's memory is that of its bf16 copy plus
fp32 copies of the tuned tensors alone. bf16 has fp32's exponent range: no loss scaling is needed
(float16 would need it, and the config does not offer float16).
"""

from __future__ import annotations

import torch
import torch.nn as nn

HALF = {"bfloat16": torch.bfloat16}


def to_master_weights(params: list[nn.Parameter]) -> None:
    """Half-precision trainable tensors to fp32, in place: the Parameter objects stay (so optimizers,
    hooks and module attributes keep pointing at them) and their gradients will be fp32."""
    for p in params:
        if p.dtype in HALF.values():
            p.data = p.data.float()


def autocast_forward(model: nn.Module, dtype: str, device: torch.device | str) -> nn.Module:
    """Run `model`'s forward under autocast to the backbone's dtype (nothing for float32). The
    backward passes then run in the dtypes autocast chose forward; gradients of fp32 master weights
    come out fp32."""
    if dtype not in HALF:
        return model
    device_type = torch.device(device).type
    model.forward = torch.autocast(device_type, dtype=HALF[dtype])(model.forward)
    return model


def to_model_dtype(params: list[nn.Parameter], dtype: str) -> None:
    """The trained tensors back to the backbone's dtype before the model is saved: a checkpoint has one
    dtype, as it was loaded (evaluation loads it in that dtype anyway)."""
    if dtype in HALF:
        for p in params:
            p.data = p.data.to(HALF[dtype])
