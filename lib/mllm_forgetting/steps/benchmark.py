"""benchmark_step: the cost of one training step of each method, side by side on the same batch.

Every method tunes a fresh copy of the same backbone on the same minibatch; a step is what the
training loop does (zero grads, the method's step, clipping, AdamW). Reported per method: median step
time after warm-up, peak memory of a step and the bytes of AdamW state; for finetune and mdgd also the
median time of each pass of a step (the passes a method marks with `Method.phase`). Peak memory is
torch.cuda.max_memory_allocated on a GPU; on the CPU it is the tensors alive before the step
(weights, phi's copy, gradients, optimizer state) plus the largest rise during it, read from the
PyTorch profiler's memory timeline.
"""

from __future__ import annotations

import copy
import json
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ..data import read_vocabulary
from ..methods import make_method
from ..models import build_backbone
from ..training.batches import encode, to_device, training_batch
from ..training.loop import optimizer_step
from .common import load_rows, setup_torch, template_words, tune_context

# method cell -> registry type + options, as config/config.yaml names them
BENCHMARKED = {
    "finetune": {"type": "finetune"},
    "lora": {"type": "lora", "r": 8, "lora_alpha": 16},
    "mdgd": {"type": "mdgd"},
    "mdgd_sequential": {"type": "mdgd", "schedule": "sequential"},
    "mdgd_no_align": {"type": "mdgd", "align": False},
    "mdgd_gm": {"type": "mdgd_gm", "alpha": 0.1},
}
PASSES_TIMED = ("finetune", "mdgd")  # why an MDGD step costs what it does: its passes against fine-tuning's


def benchmark_backbone(
    name: str,
    backbone_cfg: dict,
    data_dir: str,
    *,
    task: str = "okvqa",
    batch_size: int = 32,
    steps: int = 20,
    warmup: int = 3,
    threads: int = 1,
    seed: int = 0,
) -> dict:
    device = setup_torch(threads)
    torch.manual_seed(seed)
    words = read_vocabulary(data_dir) + template_words(backbone_cfg["prompt"])
    base, processor = build_backbone(backbone_cfg["architecture"], backbone_cfg["size"], words)
    rows = load_rows(data_dir, task, "train", batch_size)
    enc = encode(rows, processor, backbone_cfg["prompt"])
    batch = to_device(
        training_batch(
            enc, np.arange(len(enc)), np.random.default_rng(seed), processor.tokenizer.pad_token_id
        ),
        device,
    )
    results = {}
    for cell, spec in BENCHMARKED.items():
        model = copy.deepcopy(base).to(device)
        options = {k: v for k, v in spec.items() if k != "type"}
        method = make_method(spec["type"], **options)
        ctx = tune_context(model, backbone_cfg)
        model = method.prepare(model, ctx)
        model.train()
        optimizer = torch.optim.AdamW(method.params, lr=1e-4)

        def step():
            optimizer_step(
                model, method, ctx, batch, optimizer, grad_clip=1.0, label=f"benchmark {name} {cell}"
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
        if (
            cell in PASSES_TIMED
        ):  # after the step timings, which the timer's synchronisation would perturb on a GPU
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


def ratios(result: dict) -> dict:
    """The summary line of one backbone: MDGD and MDGD-GM against fine-tuning."""
    m = result["methods"]
    ft = m["finetune"]
    return {
        "backbone": result["backbone"],
        "mdgd_vs_finetune_time": round(m["mdgd"]["step_s"] / ft["step_s"], 3),
        "mdgd_vs_finetune_peak_mem": round(m["mdgd"]["peak_bytes"] / ft["peak_bytes"], 3),
        "mdgd_sequential_vs_finetune_time": round(m["mdgd_sequential"]["step_s"] / ft["step_s"], 3),
        "mdgd_sequential_vs_finetune_peak_mem": round(
            m["mdgd_sequential"]["peak_bytes"] / ft["peak_bytes"], 3
        ),
        "mdgd_gm_vs_finetune_time": round(m["mdgd_gm"]["step_s"] / ft["step_s"], 3),
        "mdgd_gm_vs_finetune_optimizer_state": round(
            m["mdgd_gm"]["optimizer_state_bytes"] / ft["optimizer_state_bytes"], 3
        ),
    }


def format_table(result: dict) -> str:
    m = result["methods"]
    ft = m["finetune"]
    lines = [
        f"{result['backbone']} ({result['device']}, batch {result['batch_size']}, median of {result['steps']} steps)",
        "| method | step ms | x finetune | peak MB | x finetune | AdamW state MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for cell, r in m.items():
        lines.append(
            f"| {cell} | {1000 * r['step_s']:.1f} | {r['step_s'] / ft['step_s']:.2f} | "
            f"{r['peak_bytes'] / 1e6:.1f} | {r['peak_bytes'] / ft['peak_bytes']:.2f} | "
            f"{r['optimizer_state_bytes'] / 1e6:.2f} |"
        )
    for cell, r in m.items():
        if "passes_s" in r:
            lines.append(
                f"\npasses of a {cell} step (median ms): "
                + ", ".join(f"{k} {1000 * v:.1f}" for k, v in r["passes_s"].items())
            )
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
