"""mdgd_gm: MDGD with gradient masking (MDGD paper, Eqs. 11-12), the parameter-efficient variant.

Each step keeps the tensors whose decoupled gradients agree most with the pre-trained model's: those
whose cosine reaches the threshold T_alpha at which the best tensors first hold the fraction alpha of
the trainable elements (Eq. 11; `mask: knapsack` instead stays within alpha), and updates only those
with g_theta + h_theta. The fraction realised each step is logged as `fraction_updated`. Tensors left
out get no gradient, so AdamW neither moves them nor touches their state that step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config.typed import option
from .base import register
from .mdgd import MDGD, MDGDConfig


@dataclass(frozen=True, kw_only=True)
class MDGDGradientMaskConfig(MDGDConfig):
    """MDGD-GM: MDGD's options plus the fraction of elements updated per step."""

    alpha: float = option(
        "fraction of the trainable elements updated per step (Eq. 11's masking ratio)",
        0.1,
        exclusive_min=0,
        max=1,
    )
    mask: Literal["threshold", "knapsack"] = option(
        "threshold: every tensor whose cosine reaches T_alpha, the cosine at which the best tensors first "
        "hold alpha (Eq. 11; the realised fraction may exceed alpha); knapsack: best first within alpha, "
        "skipping tensors that overflow (never more than alpha, not a threshold set)",
        "threshold",
    )


@register("mdgd_gm", MDGDGradientMaskConfig)
class MDGDGradientMask(MDGD):
    def prepare(self, model, ctx):
        model = super().prepare(model, ctx)
        self.updated_elements: list[int] = []
        return model

    def step(self, model, batch, ctx):
        import torch

        from .gradients import decouple, gradient_mask, masked_update, tensor_cosines

        scope = self.config.scope
        loss, lv, g_theta, h_theta, g_phi, h_phi = self.gradients(model, batch, ctx)
        g_theta_bar, g_phi_bar = decouple(g_theta, h_theta, scope), decouple(g_phi, h_phi, scope)
        keep = gradient_mask(g_theta_bar, g_phi_bar, self.config.alpha, self.config.mask)
        for p, u in zip(self.params, masked_update(g_theta, h_theta, keep)):
            p.grad = u
        sizes = torch.tensor([p.numel() for p in self.params], dtype=torch.float64)
        kept = torch.tensor(keep)
        cos = tensor_cosines(g_theta_bar, g_phi_bar)
        updated = float(sizes[kept].sum())
        self.updated_elements.append(int(updated))
        return {
            "loss": loss,
            "lv": lv,
            "cosine": float((cos[kept] * sizes[kept]).sum() / updated),
            "fraction_updated": updated / float(sizes.sum()),
        }

    def state_dict(self):
        return {"updated_elements": list(self.updated_elements)}

    def load_state_dict(self, state):
        self.updated_elements = list(state["updated_elements"])

    def trainable_count(self):
        """Mean elements updated per step (the paper's #Params for MDGD-GM is ~alpha of fine-tuning's)."""
        if not self.updated_elements:
            return round(self.config.alpha * super().trainable_count())
        return round(sum(self.updated_elements) / len(self.updated_elements))
