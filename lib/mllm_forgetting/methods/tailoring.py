"""Model Tailor's arithmetic on one weight matrix, and the calibration Hessians it needs.

Written from the algorithm of Zhu et al., "Model Tailor" (ICML 2024), as the official code runs it
(didizhu-zju/Model-Tailor: `llava/train/sparsegpt.py`, a SparseGPT variant, driven by
`main_model_tailor.py`). A Linear layer with fine-tuned weight W maps calibration inputs X (one column a
token); a patched weight Ŵ changes its output by (Ŵ − W)X, whose squared norm is a quadratic with the
Hessian H = 2XXᵀ/N, the same for every row (the layer-wise model of OBS, Hassibi & Stork 1993, and of
SparseGPT, Frantar & Alistarh 2023). Columns are visited in order. Restoring entry q of a row to its
pre-trained value p_q, with the columns before q already final, costs (w_q − p_q)²/[H_F⁻¹]_qq (F: the
columns from q on), and the free columns absorb it best with δ_F = −(w_q − p_q)/[H_F⁻¹]_qq · (H_F⁻¹)_{q,:}
(OBS). U, the upper Cholesky factor of H⁻¹, holds all of these at once: [H_F⁻¹]_qq = U_qq² and
(H_F⁻¹)_{q,:}/[H_F⁻¹]_qq = U_{q,:}/U_qq.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn as nn

# The compensation's sign on (w − q)/U_qq · U_{q,:}: OBS subtracts it (SparseGPT). The official Model
# Tailor code adds it (`W1[:, i:] += ...`, the OBS line commented out above it), which moves the free
# columns away from the OBS optimum: the layer's error grows beyond the uncompensated patch's
# (tests/test_model_tailor.py).
SIGNS = {"obs": 1.0, "reversed": -1.0, "none": 0.0}


def inverse_hessian_factor(hessian: torch.Tensor, damp: float) -> torch.Tensor:
    """U with H⁻¹ = UᵀU, after the official code's conditioning: an input that was always zero gets a unit
    diagonal entry, and every diagonal entry gets `damp` times their mean."""
    h = hessian.float().clone()
    h.diagonal()[h.diagonal() == 0] = 1.0
    h.diagonal().add_(damp * h.diagonal().mean())
    return torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)


def standardised(x: torch.Tensor) -> torch.Tensor:
    """Each row as z-scores (the official code standardises both scores per row of each block, so that
    neither dominates by its scale); a row without spread scores 0."""
    std = x.std(dim=1, keepdim=True)
    return torch.where(std > 0, (x - x.mean(dim=1, keepdim=True)) / std, torch.zeros_like(x))


def salience(
    change: torch.Tensor,
    current: torch.Tensor,
    pre: torch.Tensor,
    u_diagonal: torch.Tensor,
    change_weight: float,
    sensitivity: str,
) -> torch.Tensor:
    """The fused score of a block's entries, higher kept: change_weight·z(|w_ft − p|) +
    (1 − change_weight)·z(r²/U_qq²), z standardising per row, r the entry's current value
    (`sensitivity: weight`, the official code's SparseGPT score) or its distance from phi (`change`, the
    OBS cost of restoring it)."""
    removed = current if sensitivity == "weight" else current - pre
    sensitive = removed.square() / u_diagonal.square()
    return change_weight * standardised(change) + (1 - change_weight) * standardised(sensitive)


def top_fraction(score: torch.Tensor, fraction: float) -> torch.Tensor:
    """The boolean mask of the round(fraction × size) highest scores."""
    k = math.floor(fraction * score.numel() + 0.5)
    mask = torch.zeros(score.numel(), dtype=torch.bool, device=score.device)
    mask[torch.topk(score.flatten(), k).indices] = True
    return mask.view_as(score)


def tailor_weight(
    tuned: torch.Tensor,
    phi: torch.Tensor,
    hessian: torch.Tensor,
    *,
    keep: float,
    change_weight: float,
    sensitivity: str,
    compensation: str,
    block_size: int,
    damp: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the tailored weight in `tuned`'s dtype, the mask of its patch). Restored entries are phi's exactly.

    Block by block of `block_size` columns, the round(keep × size) entries of best `salience` form the
    block's patch (scored after the earlier blocks' compensation, as the official code does); then column
    by column the others are restored and the later columns compensate (`compensation`).
    """
    w = tuned.detach().float().clone()
    p = phi.detach().to(w.device).float()
    change = (w - p).abs()  # the salience: what fine-tuning changed, before any compensation
    u = inverse_hessian_factor(hessian.to(w.device), damp)
    sign = SIGNS[compensation]
    kept = torch.zeros_like(w, dtype=torch.bool)
    columns = w.shape[1]
    for start in range(0, columns, block_size):
        end = min(start + block_size, columns)
        block, pre, u_block = w[:, start:end], p[:, start:end], u[start:end, start:end]  # views of w, p, u
        d = u_block.diagonal()
        score = salience(change[:, start:end], block, pre, d, change_weight, sensitivity)
        patch = top_fraction(score, keep)
        kept[:, start:end] = patch
        errors = torch.zeros_like(block)
        for j in range(end - start):
            target = torch.where(patch[:, j], block[:, j], pre[:, j])
            errors[:, j] = (block[:, j] - target) / d[j]
            if sign:
                block[:, j:] -= sign * errors[:, j : j + 1] * u_block[j : j + 1, j:]
            block[:, j] = target
        if sign and end < columns:  # the later blocks' share, in one product
            w[:, end:] -= sign * errors @ u[start:end, end:]
    tailored = torch.where(kept, w.to(tuned.dtype), phi.to(tuned.device, tuned.dtype))
    return tailored, kept


def output_error(delta: torch.Tensor, hessian: torch.Tensor) -> float:
    """Σ_rows δ H δᵀ: the mean squared change of the layer's output over the calibration tokens, times 2."""
    delta = delta.float()
    return float(((delta @ hessian.float()) * delta).sum())


class InputHessians:
    """H = 2XXᵀ/N of each named Linear's inputs over the calibration tokens, gathered by forward hooks.

    `mask`, set before each batch, is the batch's attention mask: inputs shaped (batch, sequence, ·) of a
    collector made with `skip_padding` keep only its real tokens (the LM layers; a connector's inputs
    are image features, whatever their shape).
    """

    def __init__(self, modules: dict[str, nn.Linear], skip_padding: bool):
        self.modules, self.skip_padding = modules, skip_padding
        self.mask: torch.Tensor | None = None
        self.sums: dict[str, torch.Tensor] = {}
        self.tokens: dict[str, int] = {}

    @contextmanager
    def collecting(self):
        handles = [m.register_forward_hook(self._hook(name)) for name, m in self.modules.items()]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def _hook(self, name: str):
        def add(module, args, output):
            x = args[0].detach()
            if (
                self.skip_padding
                and self.mask is not None
                and x.dim() == 3
                and x.shape[:2] == self.mask.shape
            ):
                x = x[self.mask]
            x = x.reshape(-1, x.shape[-1]).float()
            self.sums[name] = self.sums.get(name, 0) + x.T @ x
            self.tokens[name] = self.tokens.get(name, 0) + x.shape[0]

        return add

    def hessian(self, name: str) -> torch.Tensor | None:
        """None when no input reached the module (a Linear whose weight its parent uses directly)."""
        if not self.tokens.get(name):
            return None
        return 2 * self.sums[name] / self.tokens[name]
