"""Run the frozen pre-trained model phi through theta's own module, sharing what the two have in common.

phi and theta differ only in the trainable tensors, so phi is held as a copy of those tensors alone
and swapped into the one module while phi runs (`phi_weights`); frozen weights, buffers and the
processor exist once. Frozen submodules whose inputs depend on no trainable tensor (the vision tower,
the token embedding) compute the same output for both: theta's pass records it and phi's replays it
(`FrozenOutputs`), so the vision tower runs once per batch.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn as nn
from torch.nn.utils.stateless import _reparametrize_module


@contextmanager
def phi_weights(model: nn.Module, names: list[str], tensors: list[torch.Tensor]):
    """Inside, `model` computes with phi's trainable tensors; outside, with theta's. Backward passes
    that recompute activations (gradient checkpointing) must run inside too."""
    with _reparametrize_module(model, dict(zip(names, tensors))):
        yield


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


def frozen_subtrees(model: nn.Module) -> list[nn.Module]:
    """The largest submodules with parameters, none of them trainable, whose parent has a trainable one."""
    found = []

    def visit(module):
        for child in module.children():
            params = list(child.parameters())
            if not params:
                continue
            if not any(p.requires_grad for p in params):
                found.append(child)
            else:
                visit(child)

    visit(model)
    return found


class FrozenOutputs:
    """Record the outputs of frozen submodules in theta's forward pass, replay them in phi's.

    A submodule is replayed only if it ran exactly once and none of its inputs or outputs needs a
    gradient, i.e. nothing trainable reached it: its output is then the same for theta and phi.
    """

    def __init__(self, model: nn.Module):
        self.modules = frozen_subtrees(model)
        self.outputs: dict[nn.Module, object] = {}
        self.calls: dict[nn.Module, int] = {}

    @contextmanager
    def record(self):
        self.outputs, self.calls = {}, {}

        def hook(module, args, kwargs, output):
            self.calls[module] = self.calls.get(module, 0) + 1
            inputs = list(_tensors(args)) + list(_tensors(kwargs))
            if any(t.requires_grad for t in inputs) or any(t.requires_grad for t in _tensors(output)):
                self.outputs.pop(module, None)
                self.calls[module] = -1  # never replay
            elif self.calls[module] == 1:
                self.outputs[module] = output

        handles = [m.register_forward_hook(hook, with_kwargs=True) for m in self.modules]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    @contextmanager
    def replay(self):
        replayed = [m for m, n in self.calls.items() if n == 1 and m in self.outputs]
        for module in replayed:
            module.forward = lambda *args, _out=self.outputs[module], **kwargs: _out
        try:
            yield
        finally:
            for module in replayed:
                del module.forward  # back to the class's forward

    def replayed(self) -> list[nn.Module]:
        return [m for m, n in self.calls.items() if n == 1 and m in self.outputs]
