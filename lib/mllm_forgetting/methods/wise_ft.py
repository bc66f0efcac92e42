"""wise_ft: weight-space ensembling (Wortsman et al. 2022, CVPR, Eq. 1) after each stage: fine-tuning, then
theta <- (1 - alpha) theta_0 + alpha theta, theta_0 the pre-trained model's tensors (fine-tuning scope).
alpha = 1 is fine-tuning; alpha = 0 the pre-trained model."""

from __future__ import annotations

from dataclasses import dataclass

from ..config.typed import option
from ..models.parts import select_trainable
from .base import Method, MethodConfig, StepCost, register


@dataclass(frozen=True, kw_only=True)
class WiSEFTConfig(MethodConfig):
    """Fine-tuning followed by interpolation towards the pre-trained weights."""

    alpha: float = option("weight of the tuned tensors in the interpolation", 0.5, min=0, max=1)


@register("wise_ft", WiSEFTConfig)
class WiSEFT(Method):
    cost = StepCost(extra_copies=1)  # theta_0's tuned tensors

    def prepare(self, model, ctx):
        self.params = select_trainable(model, ctx.trainable_names)
        wanted = set(ctx.trainable_names)
        self.names = [n for n, _ in model.named_parameters() if n in wanted]
        return model

    def begin(self, model, ctx, start):
        self.pretrained = [start.pretrained[n].detach().clone() for n in self.names]

    def finish(self, model, ctx, data, *, carry, batch_size, pad_id, device):
        import torch

        with torch.no_grad():
            for p, p0 in zip(self.params, self.pretrained):
                p.copy_(torch.lerp(p0.to(p.device, p.dtype), p, self.config.alpha))
        return {}
