"""The training loop shared by pre-training and every tuning method.

The method decides which parameters move and sets their gradients; the loop owns batching, the
optimizer (AdamW), the learning-rate schedule, gradient clipping, progress and the per-step log.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import get_scheduler

from .batches import Encoded, to_device, training_batch


class NonFiniteLossError(RuntimeError):
    """Raised when the task loss turns NaN or infinite: the cell stops instead of training on garbage."""


@dataclass(frozen=True)
class TrainSettings:
    steps: int
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "constant_with_warmup"
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 10

    @classmethod
    def from_config(cls, cfg: dict, seed: int) -> "TrainSettings":
        known = {k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg and k != "seed"}
        return cls(seed=seed, **known)


def batch_order(n: int, batch_size: int, rng: np.random.Generator):
    """Endless minibatches of indices: a fresh permutation each epoch."""
    while True:
        perm = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start:start + batch_size]


def optimizer_step(model, method, ctx, batch: dict, optimizer, grad_clip: float, label: str = "", step: int = 0) -> dict:
    """One update: the method sets the gradients, they are clipped, AdamW steps. Returns the method's log values."""
    optimizer.zero_grad(set_to_none=True)
    values = method.step(model, batch, ctx)
    loss = float(values["loss"])
    if not math.isfinite(loss):
        raise NonFiniteLossError(f"{label}: non-finite task loss ({loss}) at step {step}; lower the learning rate")
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(method.params, grad_clip)
    optimizer.step()
    return values


def train(model, method, ctx, data: Encoded, settings: TrainSettings, *, pad_id: int, device, label: str,
          on_log=None) -> list[dict]:
    """Run `settings.steps` optimizer steps; return the log rows (every `log_every` steps and the last)."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    optimizer = torch.optim.AdamW(method.params, lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = get_scheduler(settings.schedule, optimizer, num_warmup_steps=settings.warmup_steps,
                              num_training_steps=settings.steps)
    batches = batch_order(len(data), min(settings.batch_size, len(data)), rng)
    model.train()
    rows, progress = [], tqdm(range(settings.steps), desc=label, mininterval=5, dynamic_ncols=True)
    for step in progress:
        batch = to_device(training_batch(data, next(batches), rng, pad_id), device)
        values = optimizer_step(model, method, ctx, batch, optimizer, settings.grad_clip, label, step)
        loss = float(values["loss"])
        scheduler.step()
        if step % settings.log_every == 0 or step == settings.steps - 1:
            row = {"step": step, **{k: float(v) for k, v in values.items()}}
            rows.append(row)
            progress.set_postfix(loss=f"{loss:.3f}", refresh=False)
            if on_log:
                on_log(row)
    model.eval()
    return rows
