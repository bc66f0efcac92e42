"""The training loop shared by pre-training and every tuning method.

The method decides which parameters move and sets their gradients; the loop owns batching, the
optimizer (AdamW), the learning-rate schedule, gradient clipping, progress and the per-step log.
"""

from __future__ import annotations

import math
import random
import signal
import threading

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import get_scheduler

from ..errors import NonFiniteLossError, Preempted
from .batches import Encoded, to_device, training_batch
from .checkpoint import Checkpointer
from .settings import TrainingConfig


class BatchOrder:
    """Endless minibatches of indices, a fresh permutation each epoch; its position is checkpointed."""

    def __init__(self, n: int, batch_size: int, rng: np.random.Generator):
        self.n, self.batch_size, self.rng = n, batch_size, rng
        self.perm, self.pos = None, 0

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        if self.perm is None or self.pos + self.batch_size > self.n:
            self.perm, self.pos = self.rng.permutation(self.n), 0
        index = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return index

    def state_dict(self) -> dict:
        return {"perm": None if self.perm is None else torch.from_numpy(self.perm.copy()), "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.perm = None if state["perm"] is None else state["perm"].numpy()
        self.pos = state["pos"]


def optimizer_step(
    model, method, ctx, batch: dict, optimizer, grad_clip: float, label: str = "", step: int = 0
) -> dict:
    """One update: the method sets the gradients, they are clipped, AdamW steps; the method's log values."""
    optimizer.zero_grad(set_to_none=True)
    values = method.step(model, batch, ctx)
    loss = float(values["loss"])
    if not math.isfinite(loss):
        raise NonFiniteLossError(
            f"{label}: non-finite task loss ({loss}) at step {step}; lower the learning rate"
        )
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(method.params, grad_clip)
    optimizer.step()
    return values


def train(
    model,
    method,
    ctx,
    data: Encoded,
    settings: TrainingConfig,
    seed: int,
    *,
    pad_id: int,
    device,
    label: str,
    on_log=None,
    checkpointer: Checkpointer | None = None,
    replay_log: bool = True,
    final_checkpoint: bool = False,
) -> list[dict]:
    """Run `settings.steps` optimizer steps; return the log rows (every `log_every` steps and the last).

    With a checkpointer the run saves its whole state every `checkpointer.every` steps, resumes from the
    newest intact checkpoint, and on SIGTERM/SIGUSR1 (a scheduler's notice) checkpoints and raises
    Preempted; a resumed run ends bitwise where an uninterrupted one does. replay_log: pass the rows
    restored from a checkpoint to on_log (False when the log already holds them). final_checkpoint: also
    save the finished state (a multi-stage run resumes after its completed stages).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(method.params, lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = get_scheduler(
        settings.schedule,
        optimizer,
        num_warmup_steps=settings.warmup_steps,
        num_training_steps=settings.steps,
    )
    batches = BatchOrder(len(data), min(settings.batch_size, len(data)), rng)
    run = _RunState(method, optimizer, scheduler, batches, rng)
    rows, start = [], 0
    if checkpointer and (saved := checkpointer.load_latest()) is not None:
        rows, start = run.load(saved), saved["step"]
        for row in rows if on_log and replay_log else []:  # a fresh MLflow run gets the whole history
            on_log(row)
    model.train()
    progress = tqdm(
        range(start, settings.steps),
        desc=label,
        mininterval=5,
        dynamic_ncols=True,
        initial=start,
        total=settings.steps,
    )
    with _stop_signals() as stop:
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
            if step == settings.steps - 1:
                break  # done: a stop signal now only ends what is left (saving the model)
            if checkpointer and (checkpointer.due(step) or stop.signal):
                checkpointer.save(step + 1, run.state(step + 1, rows))
            if stop.signal:
                raise Preempted(
                    f"{stop.signal} after step {step + 1} of {settings.steps}; "
                    + ("checkpoint saved, a rerun resumes from it" if checkpointer else "no checkpoint")
                )
    if checkpointer and final_checkpoint and start < settings.steps:
        checkpointer.save(settings.steps, run.state(settings.steps, rows))
    model.eval()
    return rows


class _RunState:
    """Everything a resumed run needs to continue bitwise: tensors, optimizer, schedule, data order, RNGs."""

    def __init__(self, method, optimizer, scheduler, batches: BatchOrder, rng: np.random.Generator):
        self.method, self.optimizer, self.scheduler, self.batches, self.rng = (
            method,
            optimizer,
            scheduler,
            batches,
            rng,
        )

    def state(self, step: int, rows: list[dict]) -> dict:
        return {
            "step": step,
            "rows": rows,
            "params": [p.detach().clone() for p in self.method.params],
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "batches": self.batches.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": _plain(self.rng.bit_generator.state),
                "numpy_global": _plain(np.random.get_state(legacy=False)),
                "python": random.getstate(),
            },
        }

    def load(self, state: dict) -> list[dict]:
        with torch.no_grad():
            for p, saved in zip(self.method.params, state["params"], strict=True):
                p.copy_(saved)
        self.method.load_state_dict(state["method"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.batches.load_state_dict(state["batches"])
        torch.set_rng_state(state["rng"]["torch"])
        self.rng.bit_generator.state = _numpy(state["rng"]["numpy"])
        np.random.set_state(_numpy(state["rng"]["numpy_global"]))
        random.setstate(_python_rng(state["rng"]["python"]))
        return list(state["rows"])


def _plain(obj):
    """numpy's RNG state as plain Python values (checkpoints load with weights_only=True)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return {"uint32": obj.astype(np.int64).tolist()}  # MT19937's key, the one array in these states
    return obj.item() if isinstance(obj, np.generic) else obj


def _numpy(obj):
    """Inverse of _plain."""
    if isinstance(obj, dict):
        if set(obj) == {"uint32"}:
            return np.asarray(obj["uint32"], dtype=np.uint32)
        return {k: _numpy(v) for k, v in obj.items()}
    return obj


def _python_rng(state):
    version, internal, gauss = state
    return version, tuple(internal), gauss


class _stop_signals:
    """Turn SIGTERM/SIGUSR1 into a flag the loop checks after each step (a step is never cut in half)."""

    SIGNALS = ("SIGTERM", "SIGUSR1")

    def __enter__(self):
        self.signal, self.previous = None, {}
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for name in self.SIGNALS:
                number = getattr(signal, name)
                self.previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number, frame):
        self.signal = signal.Signals(number).name

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        return False
