"""mdgd: modality-decoupled gradient descent (MDGD paper, Eqs. 6-10).

phi is the frozen pre-trained model and theta starts equal to it. Each minibatch gives
g = grad L_vl and h = grad L_v (Eq. 6, the absolute difference of the image-token states, by default
averaged: `lv_reduction`, `lv_weight`) for both;
the task gradients are made orthogonal to h (Eqs. 7-8), theta's is projected on phi's (Eq. 9), and the
optimizer steps with g_theta + h_theta + g~ (Eq. 10; without h_theta when align=False, the paper's
"w/o visual align").

Cost: phi is a copy of the trainable tensors only, run through theta's module (methods/shared.py);
frozen submodules that see no trainable tensor (the vision tower) run once for both; g and h of each
model are two backward passes over one retained graph (`schedule: sequential` holds one graph at a
time instead of both, for one more forward pass of phi without a graph). Batching g and h as two
gradient rows (`is_grads_batched`) measured slower on the CPU: 3.11x vs 2.99x a fine-tuning step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config.typed import option
from ..models.parts import select_trainable
from .base import Method, MethodConfig, StepCost, register


@dataclass(frozen=True, kw_only=True)
class MDGDConfig(MethodConfig):
    """Modality-decoupled gradient descent; `align: false` is the paper's "w/o visual align" row."""

    align: bool = option(
        "add the visual-alignment gradient h_theta to the step (Eq. 10); false: g_theta + g~", True
    )
    scope: Literal["tensor", "global"] = option(
        "project per parameter tensor or over the flattened vector of all tuned tensors (Eqs. 7-9)", "tensor"
    )
    lv_reduction: Literal["mean", "sum"] = option(
        "Eq. 6's L_v over the image-token state elements: mean (default: |h_theta| is then of the order "
        "of |g_theta|, 1-3.4x measured on the tiny backbones) or sum (the L1 norm as written; "
        "batch x tokens x hidden times larger)",
        "mean",
    )
    lv_weight: float = option("factor on L_v, i.e. on h_theta in Eq. 10's step", 1.0, exclusive_min=0)
    schedule: Literal["joint", "sequential"] = option(
        "joint: theta's and phi's graphs alive together; sequential: one at a time (less memory, a "
        "third forward)",
        "joint",
    )


@register("mdgd", MDGDConfig)
class MDGD(Method):
    # theta and phi forward, g and h of each backward; phi's copy and four gradients of the tuned tensors
    cost = StepCost(forward_models=2, backward_passes=4, extra_copies=5)
    has_phi = True

    def prepare(self, model, ctx):
        from .shared import FrozenOutputs

        self.params = select_trainable(model, ctx.trainable_names)
        wanted = set(ctx.trainable_names)
        self.names = [n for n, _ in model.named_parameters() if n in wanted]  # the order of self.params
        # differentiated (g_phi, h_phi), never stepped
        self.phi_params = [p.detach().clone().requires_grad_(True) for p in self.params]
        self.frozen = FrozenOutputs(model)
        return model

    def begin(self, model, ctx, start):
        """phi starts as the model being tuned (the previous stage's, in a sequence); with `phi: pretrained`
        it is the pre-trained model's tensors, the paper's frozen phi, at every stage."""
        if start.phi == "pretrained":
            import torch

            with torch.no_grad():
                for name, p in zip(self.names, self.phi_params, strict=True):
                    p.copy_(start.pretrained[name])

    def visual_drift(self, z_phi, z_theta):
        from .gradients import visual_drift

        return visual_drift(z_phi, z_theta, self.config.lv_reduction, self.config.lv_weight)

    def gradients(self, model, batch, ctx):
        """Return loss, L_v and the four gradient lists g_theta, h_theta, g_phi, h_phi."""
        from ..training.forward import forward_vl
        from .gradients import task_and_drift_gradients
        from .shared import phi_weights

        if self.config.schedule == "sequential":
            return self._sequential_gradients(model, batch, ctx)
        layer = ctx.representation_layer
        with self.phase("forward theta"), self.frozen.record():
            loss_theta, z_theta = forward_vl(model, batch, ctx.image_token_id, layer)
        with self.phase("forward phi"), self.frozen.replay(), phi_weights(model, self.names, self.phi_params):
            loss_phi, z_phi = forward_vl(model, batch, ctx.image_token_id, layer)
        lv = self.visual_drift(z_phi, z_theta)
        with self.phase("backward theta (g, h)"):
            g_theta, h_theta = task_and_drift_gradients(loss_theta, lv, self.params)
        # recomputed activations (gradient checkpointing) must be phi's
        with self.phase("backward phi (g, h)"), phi_weights(model, self.names, self.phi_params):
            g_phi, h_phi = task_and_drift_gradients(loss_phi, lv, self.phi_params)
        return loss_theta.detach(), lv.detach(), g_theta, h_theta, g_phi, h_phi

    def _sequential_gradients(self, model, batch, ctx):
        """The same gradients with one graph alive at a time, for one more forward pass of phi.

        L_v's gradient for one model treats the other's states as constants, so theta's graph is
        released before phi's is built: phi's states first come from a pass without a graph.
        """
        import torch

        from ..training.forward import forward_vl
        from .gradients import task_and_drift_gradients
        from .shared import phi_weights

        layer = ctx.representation_layer
        with self.phase("forward theta"), self.frozen.record():
            loss_theta, z_theta = forward_vl(model, batch, ctx.image_token_id, layer)
        with (
            self.phase("forward phi, no graph"),
            torch.no_grad(),
            self.frozen.replay(),
            phi_weights(model, self.names, self.phi_params),
        ):
            _, z_phi = forward_vl(model, batch, ctx.image_token_id, layer)
        lv = self.visual_drift(z_phi, z_theta)
        with self.phase("backward theta (g, h)"):
            g_theta, h_theta = task_and_drift_gradients(loss_theta, lv, self.params, keep_graph=False)
        z_theta, loss_theta = z_theta.detach(), loss_theta.detach()
        with self.frozen.replay(), phi_weights(model, self.names, self.phi_params):
            with self.phase("forward phi"):
                loss_phi, z_phi = forward_vl(model, batch, ctx.image_token_id, layer)
            with self.phase("backward phi (g, h)"):
                lv_phi = self.visual_drift(z_phi, z_theta)
                g_phi, h_phi = task_and_drift_gradients(loss_phi, lv_phi, self.phi_params, keep_graph=False)
        return loss_theta, lv.detach(), g_theta, h_theta, g_phi, h_phi

    def step(self, model, batch, ctx):
        import torch

        from .gradients import decouple, mdgd_update, regulariser, tensor_cosines

        scope = self.config.scope
        loss, lv, g_theta, h_theta, g_phi, h_phi = self.gradients(model, batch, ctx)
        with self.phase("gradient algebra"):
            g_theta_bar, g_phi_bar = decouple(g_theta, h_theta, scope), decouple(g_phi, h_phi, scope)
            g_tilde = regulariser(g_theta_bar, g_phi_bar, scope)
            for p, u in zip(self.params, mdgd_update(g_theta, h_theta, g_tilde, self.config.align)):
                p.grad = u
            cos = tensor_cosines(g_theta_bar, g_phi_bar)
        sizes = torch.tensor([p.numel() for p in self.params], dtype=torch.float64)
        cosine = float((cos * sizes).sum() / sizes.sum())
        return {"loss": loss, "lv": lv, "cosine": cosine, "fraction_updated": 1.0}
