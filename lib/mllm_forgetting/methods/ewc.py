"""ewc: elastic weight consolidation (Kirkpatrick et al. 2017, PNAS, Eq. 3), online as in Schwarz et al.
2018 (Progress & Compress, Eq. 8), on the fine-tuning scope (connector + last LM layers).

Each step adds the gradient of (lambda / 2) sum_i F_i (theta_i - theta*_i)^2 to the task gradient:
theta* is the model at the end of the previous stage and F the diagonal Fisher information carried from
the stages before, F <- gamma F_prev + F_stage, F_stage estimated after each stage as the mean squared
gradient of the task loss over `fisher_batches` minibatches of that stage's training rows (the empirical
Fisher with minibatch gradients: one backward per batch instead of one per example). The first stage
has nothing to consolidate and trains as fine-tuning does; so does a single-target cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config.typed import option
from ..models.parts import select_trainable
from .base import Method, MethodConfig, StepCost, register


@dataclass(frozen=True, kw_only=True)
class EWCConfig(MethodConfig):
    """Online EWC on the tensors fine-tuning tunes."""

    weight: float = option("lambda: strength of the quadratic penalty", 1.0e4, min=0)
    gamma: float = option("decay of the earlier stages' Fisher in the online sum", 1.0, min=0, max=1)
    fisher_batches: int = option(
        "minibatches of a stage's training rows its Fisher is averaged over", 8, min=1
    )


@register("ewc", EWCConfig)
class EWC(Method):
    # the anchor theta* and the Fisher: two copies of the tuned tensors
    cost = StepCost(extra_copies=2)

    def prepare(self, model, ctx):
        self.params = select_trainable(model, ctx.trainable_names)
        wanted = set(ctx.trainable_names)
        self.names = [n for n, _ in model.named_parameters() if n in wanted]
        self.anchor, self.fisher = None, None
        return model

    def begin(self, model, ctx, start):
        if start.carried:
            self.anchor = [p.detach().clone() for p in self.params]  # the previous stage's end
            self.fisher = [start.carried["fisher." + n].to(p.device) for n, p in zip(self.names, self.params)]

    def step(self, model, batch, ctx):
        values = super().step(model, batch, ctx)
        if self.fisher is not None:
            import torch

            with torch.no_grad():
                penalty = 0.0
                for p, f, a in zip(self.params, self.fisher, self.anchor):
                    diff = p.detach() - a
                    p.grad.add_(self.config.weight * f * diff)
                    penalty += float((f * diff * diff).sum())
            values["penalty"] = 0.5 * self.config.weight * penalty
        return values

    def finish(self, model, ctx, data, *, carry, batch_size, pad_id, device):
        if not carry:
            return {}
        fisher = diagonal_fisher(
            self, model, ctx, data, self.config.fisher_batches, batch_size, pad_id, device
        )
        if self.fisher is not None:
            fisher = [self.config.gamma * old + new for old, new in zip(self.fisher, fisher)]
        return {"fisher." + n: f.cpu() for n, f in zip(self.names, fisher)}


def diagonal_fisher(method, model, ctx, data, batches: int, batch_size: int, pad_id: int, device) -> list:
    """Mean over `batches` minibatches (a fixed draw) of the squared task-loss gradient of method.params."""
    import numpy as np
    import torch

    from ..training.batches import to_device, training_batch
    from ..training.forward import forward_vl

    rng = np.random.default_rng(0)
    fisher = [torch.zeros_like(p, dtype=torch.float32) for p in method.params]
    model.eval()  # no dropout in the estimate
    for _ in range(batches):
        index = rng.choice(len(data), size=min(batch_size, len(data)), replace=False)
        batch = to_device(training_batch(data, index, rng, pad_id), device)
        loss, _ = forward_vl(model, batch, ctx.image_token_id, ctx.representation_layer, need_visual=False)
        grads = torch.autograd.grad(loss, method.params)
        for f, g in zip(fisher, grads):
            f.add_(g.float().square(), alpha=1.0 / batches)
    return fisher
