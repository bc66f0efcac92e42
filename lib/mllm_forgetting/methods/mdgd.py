"""mdgd: modality-decoupled gradient descent (MDGD paper, Eqs. 6-10).

phi is the frozen pre-trained model and theta starts equal to it. Each minibatch gives
g = grad L_vl and h = grad L_v (Eq. 6, mean absolute difference of the image-token states) for both;
the task gradients are made orthogonal to h (Eqs. 7-8), theta's is projected on phi's (Eq. 9), and the
optimizer steps with g_theta + h_theta + g~ (Eq. 10; without h_theta when align=False, the paper's
"w/o visual align").

Cost: phi is a copy of the trainable tensors only, run through theta's module (methods/shared.py);
frozen submodules that see no trainable tensor (the vision tower) run once for both; g and h of each
model are two backward passes over one retained graph (`schedule: sequential` holds one
graph at a time instead of both, for one more forward pass of phi without a graph) (batching them as two gradient rows with
`is_grads_batched` measured slower on the CPU: 3.11x vs 2.99x a fine-tuning step).
"""

from __future__ import annotations

import torch

from ..models.parts import select_trainable
from ..training.forward import forward_vl
from .base import Method
from .gradients import decouple, mdgd_update, regulariser, tensor_cosines
from .shared import FrozenOutputs, phi_weights

# joint: both graphs alive, two forward passes; sequential: one graph at a time, a third forward (no graph)
SCHEDULES = ("joint", "sequential")


class MDGD(Method):
    def prepare(self, model, ctx):
        self.params = select_trainable(model, ctx.trainable_names)
        wanted = set(ctx.trainable_names)
        self.names = [n for n, _ in model.named_parameters() if n in wanted]  # the order of self.params
        # differentiated (g_phi, h_phi), never stepped
        self.phi_params = [p.detach().clone().requires_grad_(True) for p in self.params]
        self.frozen = FrozenOutputs(model)
        self.align = bool(self.options.get("align", True))
        self.scope = self.options.get("scope", "tensor")
        self.schedule = self.options.get("schedule", "joint")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"mdgd schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        return model

    def gradients(self, model, batch, ctx):
        """Return loss, L_v and the four gradient lists g_theta, h_theta, g_phi, h_phi."""
        if self.schedule == "sequential":
            return self._sequential_gradients(model, batch, ctx)
        layer = ctx.representation_layer
        with self.phase("forward theta"), self.frozen.record():
            loss_theta, z_theta = forward_vl(model, batch, ctx.image_token_id, layer)
        with self.phase("forward phi"), self.frozen.replay(), phi_weights(model, self.names, self.phi_params):
            loss_phi, z_phi = forward_vl(model, batch, ctx.image_token_id, layer)
        lv = (z_phi - z_theta).abs().mean()
        with self.phase("backward theta (g, h)"):
            g_theta, h_theta = _two_gradients(loss_theta, lv, self.params)
        # recomputed activations (gradient checkpointing) must be phi's
        with self.phase("backward phi (g, h)"), phi_weights(model, self.names, self.phi_params):
            g_phi, h_phi = _two_gradients(loss_phi, lv, self.phi_params)
        return loss_theta.detach(), lv.detach(), g_theta, h_theta, g_phi, h_phi

    def _sequential_gradients(self, model, batch, ctx):
        """The same gradients with one graph alive at a time, for one more forward pass of phi.

        L_v's gradient for one model treats the other's states as constants, so theta's graph is
        released before phi's is built: phi's states first come from a pass without a graph.
        """
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
        lv = (z_phi - z_theta).abs().mean()
        with self.phase("backward theta (g, h)"):
            g_theta, h_theta = _two_gradients(loss_theta, lv, self.params, keep_graph=False)
        z_theta, loss_theta = z_theta.detach(), loss_theta.detach()
        with self.frozen.replay(), phi_weights(model, self.names, self.phi_params):
            with self.phase("forward phi"):
                loss_phi, z_phi = forward_vl(model, batch, ctx.image_token_id, layer)
            with self.phase("backward phi (g, h)"):
                g_phi, h_phi = _two_gradients(
                    loss_phi, (z_phi - z_theta).abs().mean(), self.phi_params, keep_graph=False
                )
        return loss_theta, lv.detach(), g_theta, h_theta, g_phi, h_phi

    def step(self, model, batch, ctx):
        loss, lv, g_theta, h_theta, g_phi, h_phi = self.gradients(model, batch, ctx)
        with self.phase("gradient algebra"):
            g_theta_bar, g_phi_bar = (
                decouple(g_theta, h_theta, self.scope),
                decouple(g_phi, h_phi, self.scope),
            )
            g_tilde = regulariser(g_theta_bar, g_phi_bar, self.scope)
            for p, u in zip(self.params, mdgd_update(g_theta, h_theta, g_tilde, self.align)):
                p.grad = u
            cos = tensor_cosines(g_theta_bar, g_phi_bar)
        sizes = torch.tensor([p.numel() for p in self.params], dtype=torch.float64)
        return {
            "loss": loss,
            "lv": lv,
            "cosine": float((cos * sizes).sum() / sizes.sum()),
            "fraction_updated": 1.0,
        }


def _two_gradients(loss, lv, params, keep_graph: bool = True):
    """(grad loss, grad lv) over `params`; keep_graph leaves the graph for the other model's pass."""
    grad = torch.autograd.grad
    g = grad(loss, params, retain_graph=True, materialize_grads=True)
    h = grad(lv, params, retain_graph=keep_graph, materialize_grads=True)
    return list(g), list(h)
