"""benchmark_step: the cost of one training step of each method, side by side on the same batch.

Every method tunes a fresh copy of the same backbone on the same minibatch; a step is what the
training loop does (zero grads, the method's step, clipping, AdamW). Reported per method: median step
time after warm-up, peak memory of a step, the bytes of AdamW state and the median time of each pass of
a step (the passes a method marks with `Method.phase`). Peak memory is
torch.cuda.max_memory_allocated on a GPU; on the CPU it is the tensors alive before the step
(weights, phi's copy, gradients, optimizer state) plus the largest rise during it, read from the
PyTorch profiler's memory timeline.
"""

from __future__ import annotations

import copy
import functools
import json
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ..config.settings import BackboneConfig
from ..data.benchmark import read_vocabulary
from ..methods import make_method
from ..methods.base import MethodConfig
from ..models.registry import build_backbone
from ..prompts import PromptTemplate
from ..training.batches import encode, to_device, training_batch
from ..training.loop import optimizer_step
from .common import load_rows, setup_torch, tune_context


def benchmark_backbone(
    name: str,
    backbone: BackboneConfig,
    prompt: PromptTemplate,
    methods: dict[str, MethodConfig],
    data_dir: str,
    *,
    task: str,
    representation_layer: int,
    batch_size: int = 32,
    steps: int = 20,
    warmup: int = 3,
    threads: int = 1,
    seed: int = 0,
) -> dict:
    """Step time, peak memory, AdamW state and the passes of a step, for each method that trains."""
    device = setup_torch(threads)
    torch.manual_seed(seed)
    base, processor = build_backbone(
        backbone.architecture, backbone.size, read_vocabulary(data_dir) + prompt.words()
    )
    enc = encode(load_rows(data_dir, task, "train", batch_size), processor, prompt)
    rng = np.random.default_rng(seed)
    batch = to_device(training_batch(enc, np.arange(len(enc)), rng, processor.tokenizer.pad_token_id), device)
    results = {}
    for cell, config in methods.items():
        method = make_method(config.method_type, config)
        if not method.trains:
            continue
        model = copy.deepcopy(base).to(device)
        ctx = tune_context(model, backbone, representation_layer)
        model = method.prepare(model, ctx)
        method.begin(model, ctx, _later_stage(model, ctx))
        model.train()
        optimizer = torch.optim.AdamW(method.params, lr=1e-4)

        step = functools.partial(
            optimizer_step,
            model,
            method,
            ctx,
            batch,
            optimizer,
            grad_clip=1.0,
            label=f"benchmark {name} {cell}",
        )

        for _ in range(warmup):
            step()
        times = []
        for _ in range(steps):
            _sync(device)
            start = time.perf_counter()
            step()
            _sync(device)
            times.append(time.perf_counter() - start)
        results[cell] = {
            "step_s": statistics.median(times),
            "peak_bytes": _peak_bytes(step, model, method, optimizer, device),
            "optimizer_state_bytes": _optimizer_bytes(optimizer),
            "trainable_elements": sum(p.numel() for p in method.params),
        }
        # after the step timings, which the timer's synchronisation would perturb on a GPU
        timer = PassTimer(device)
        method.phase = timer
        for _ in range(steps):
            step()
        results[cell]["passes_s"] = timer.medians()
        model = method = optimizer = None  # this method's tensors freed before the next one's
    return {
        "backbone": name,
        "device": str(device),
        "batch_size": batch_size,
        "steps": steps,
        "methods": results,
    }


def _later_stage(model, ctx):
    """A stage after the first, so what a method adds there is timed: phi and WiSE-FT's anchor are the
    model's own tensors, and a carried Fisher of ones makes EWC's penalty run (other methods ignore it)."""
    from ..methods import StageStart

    wanted = set(ctx.trainable_names)
    tensors = {n: p.detach().clone() for n, p in model.named_parameters() if n in wanted}
    return StageStart(2, tensors, {"fisher." + n: torch.ones_like(t) for n, t in tensors.items()})


class PassTimer:
    """Set as a method's `phase`: times each named pass of its steps (forward, backward, ...)."""

    def __init__(self, device):
        self.device, self.times = device, {}

    @contextmanager
    def __call__(self, name: str):
        _sync(self.device)
        start = time.perf_counter()
        yield
        _sync(self.device)
        self.times.setdefault(name, []).append(time.perf_counter() - start)

    def medians(self) -> dict[str, float]:
        return {name: statistics.median(t) for name, t in self.times.items()}


def ratios(result: dict, reference: str) -> dict:
    """The summary line of one backbone: every method's step time, peak memory and AdamW state against the
    `reference` method's (fine-tuning)."""
    m = result["methods"]
    if reference not in m:
        raise ValueError(f"reference method {reference!r} was not benchmarked; benchmarked: {', '.join(m)}")
    ref = m[reference]
    out = {"backbone": result["backbone"], "reference": reference}
    for cell, r in m.items():
        if cell != reference:
            out[cell] = {
                "time": round(r["step_s"] / ref["step_s"], 3),
                "peak_mem": round(r["peak_bytes"] / ref["peak_bytes"], 3),
                "optimizer_state": round(r["optimizer_state_bytes"] / ref["optimizer_state_bytes"], 3),
            }
    return out


def format_table(result: dict, reference: str) -> str:
    m = result["methods"]
    ref = m[reference]
    lines = [
        f"{result['backbone']} ({result['device']}, batch {result['batch_size']}, "
        f"median of {result['steps']} steps)",
        f"| method | step ms | x {reference} | peak MB | x {reference} | AdamW state MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for cell, r in m.items():
        lines.append(
            f"| {cell} | {1000 * r['step_s']:.1f} | {r['step_s'] / ref['step_s']:.2f} | "
            f"{r['peak_bytes'] / 1e6:.1f} | {r['peak_bytes'] / ref['peak_bytes']:.2f} | "
            f"{r['optimizer_state_bytes'] / 1e6:.2f} |"
        )
    for cell, r in m.items():
        passes = ", ".join(f"{k} {1000 * v:.1f}" for k, v in r["passes_s"].items())
        lines.append(f"\npasses of a {cell} step (median ms): {passes}")
    return "\n".join(lines)


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _optimizer_bytes(optimizer) -> int:
    return sum(
        v.numel() * v.element_size()
        for state in optimizer.state.values()
        for v in state.values()
        if isinstance(v, torch.Tensor)
    )


def _live_bytes(model, method, optimizer) -> int:
    """Tensors held between steps: weights, buffers, gradients, phi's copy, optimizer state."""
    tensors = {id(t): t for t in list(model.parameters()) + list(model.buffers())}
    tensors.update({id(p.grad): p.grad for p in model.parameters() if p.grad is not None})
    tensors.update({id(t): t for t in getattr(method, "phi_params", [])})
    for held_module in (
        v for v in vars(method).values() if isinstance(v, torch.nn.Module)
    ):  # a deep-copied phi
        tensors.update({id(t): t for t in list(held_module.parameters()) + list(held_module.buffers())})
    held = sum(t.numel() * t.element_size() for t in tensors.values())
    return held + _optimizer_bytes(optimizer)


def _peak_bytes(step, model, method, optimizer, device) -> int:
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        step()
        return torch.cuda.max_memory_allocated(device)
    before = _live_bytes(model, method, optimizer)
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(
        activities=activities, profile_memory=True, record_shapes=True, with_stack=True
    ) as prof:
        step()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "timeline.json"
        prof.export_memory_timeline(str(path), device="cpu")
        _, sizes = json.loads(path.read_text())
    totals = [sum(s) for s in sizes]
    return before + max(totals) - totals[0]
