"""mdgd: modality-decoupled gradient descent (MDGD paper, Eqs. 6-10).

phi is the frozen pre-trained model and theta starts as its copy. Each minibatch gives
g = grad L_vl and h = grad L_v (Eq. 6, mean absolute difference of the image-token states) for both;
the task gradients are made orthogonal to h (Eqs. 7-8), theta's is projected on phi's (Eq. 9), and the
optimizer steps with g_theta + h_theta + g~ (Eq. 10; without h_theta when align=False, the paper's
"w/o visual align").
"""
from __future__ import annotations

import copy

import torch

from ..models.parts import select_trainable
from ..training.forward import forward_vl
from .base import Method
from .gradients import decouple, mdgd_update, regulariser, tensor_cosines


class MDGD(Method):
    def prepare(self, model, ctx):
        self.params = select_trainable(model, ctx.trainable_names)
        self.phi = copy.deepcopy(model).eval()
        self.phi_params = select_trainable(self.phi, ctx.trainable_names)  # differentiated, never stepped
        self.align = bool(self.options.get("align", True))
        self.scope = self.options.get("scope", "tensor")
        return model

    def gradients(self, model, batch, ctx):
        """Return loss, L_v and the four gradient lists g_theta, h_theta, g_phi, h_phi."""
        layer = ctx.representation_layer
        loss_theta, z_theta = forward_vl(model, batch, ctx.image_token_id, layer)
        loss_phi, z_phi = forward_vl(self.phi, batch, ctx.image_token_id, layer)
        lv = (z_phi - z_theta).abs().mean()
        grad = torch.autograd.grad
        g_theta = grad(loss_theta, self.params, retain_graph=True, materialize_grads=True)
        h_theta = grad(lv, self.params, retain_graph=True, materialize_grads=True)
        g_phi = grad(loss_phi, self.phi_params, retain_graph=True, materialize_grads=True)
        h_phi = grad(lv, self.phi_params, materialize_grads=True)
        return loss_theta.detach(), lv.detach(), list(g_theta), list(h_theta), list(g_phi), list(h_phi)

    def step(self, model, batch, ctx):
        loss, lv, g_theta, h_theta, g_phi, h_phi = self.gradients(model, batch, ctx)
        g_theta_bar, g_phi_bar = decouple(g_theta, h_theta, self.scope), decouple(g_phi, h_phi, self.scope)
        g_tilde = regulariser(g_theta_bar, g_phi_bar, self.scope)
        for p, u in zip(self.params, mdgd_update(g_theta, h_theta, g_tilde, self.align)):
            p.grad = u
        cos = tensor_cosines(g_theta_bar, g_phi_bar)
        sizes = torch.tensor([p.numel() for p in self.params], dtype=torch.float64)
        return {"loss": loss, "lv": lv, "cosine": float((cos * sizes).sum() / sizes.sum()), "fraction_updated": 1.0}
