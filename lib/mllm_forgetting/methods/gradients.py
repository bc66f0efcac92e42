"""MDGD gradient algebra (Eqs. 7-12 of the MDGD paper) as pure functions over lists of per-parameter tensors.

No model is involved, so every identity here (orthogonality, projection, masking fraction) is unit tested.
`scope="tensor"` projects each parameter tensor on its own; `scope="global"` projects the flattened
concatenation of all trainable tensors. The paper leaves this open; "tensor" is the default because
gradient masking (Eq. 11) scores tensors one by one and the two variants then share one decomposition.
"""

from __future__ import annotations

import torch

Grads = list[torch.Tensor]
EPS = 1e-12  # below this squared norm a direction is treated as zero (e.g. h at step 0, when theta == phi)


def _dot(a: Grads, b: Grads) -> torch.Tensor:
    return sum((x.double() * y.double()).sum() for x, y in zip(a, b))


def _project_out(g: Grads, h: Grads) -> Grads:
    """g minus its projection on h, over the flattened vectors; unchanged where h is zero."""
    hh = _dot(h, h)
    if hh <= EPS:
        return [x.clone() for x in g]
    coef = (_dot(g, h) / hh).to(g[0].dtype)
    return [x - coef * y for x, y in zip(g, h)]


def _project_on(g: Grads, d: Grads) -> Grads:
    """Projection of g on the direction d, over the flattened vectors; zero where d is zero."""
    dd = _dot(d, d)
    if dd <= EPS:
        return [torch.zeros_like(x) for x in g]
    coef = (_dot(g, d) / dd).to(g[0].dtype)
    return [coef * y for y in d]


def _per_scope(fn, scope: str, *lists: Grads) -> Grads:
    if scope == "global":
        return fn(*lists)
    if scope == "tensor":
        return [fn(*[[lst[i]] for lst in lists])[0] for i in range(len(lists[0]))]
    raise ValueError(f"scope must be 'tensor' or 'global', got {scope!r}")


def decouple(g: Grads, h: Grads, scope: str = "tensor") -> Grads:
    """Eqs. 7-8: the task gradient made orthogonal to the visual-drift gradient h."""
    return _per_scope(_project_out, scope, g, h)


def regulariser(g_theta_bar: Grads, g_phi_bar: Grads, scope: str = "tensor") -> Grads:
    """Eq. 9: projection of the decoupled current gradient on the decoupled pre-trained gradient."""
    return _per_scope(_project_on, scope, g_theta_bar, g_phi_bar)


def combine_gradients(
    g_theta: Grads, h_theta: Grads, g_phi: Grads, h_phi: Grads, *, align: bool = True, scope: str = "tensor"
) -> Grads:
    """The gradient MDGD steps with (Eq. 10): g_theta + h_theta + g~ ; without `align`, g_theta + g~."""
    g_tilde = regulariser(decouple(g_theta, h_theta, scope), decouple(g_phi, h_phi, scope), scope)
    return mdgd_update(g_theta, h_theta, g_tilde, align)


def mdgd_update(g_theta: Grads, h_theta: Grads, g_tilde: Grads, align: bool = True) -> Grads:
    """Eq. 10's step direction from its parts."""
    if align:
        return [g + h + t for g, h, t in zip(g_theta, h_theta, g_tilde)]
    return [g + t for g, t in zip(g_theta, g_tilde)]


def tensor_cosines(a: Grads, b: Grads) -> torch.Tensor:
    """Cosine of a[i] and b[i] per tensor (0 where either is zero), in float64."""
    out = []
    for x, y in zip(a, b):
        denom = x.double().norm() * y.double().norm()
        out.append(
            (x.double() * y.double()).sum() / denom if denom > EPS else torch.zeros((), dtype=torch.float64)
        )
    return torch.stack(out)


def gradient_mask(g_theta_bar: Grads, g_phi_bar: Grads, alpha: float, rule: str = "threshold") -> list[bool]:
    """Eq. 11 at tensor granularity: keep the tensors whose decoupled gradients agree most.

    Tensors are ranked by the cosine of g_theta_bar and g_phi_bar, best first.
    - "threshold" (Eq. 11 as written): T_alpha is the cosine of the tensor at which the ranked tensors
      first hold the fraction `alpha` of all trainable elements, and every tensor with cosine >= T_alpha
      is kept. At tensor granularity the kept fraction is therefore at least alpha (the last tensor
      overshoots it); the step logs the fraction realised.
    - "knapsack": tensors are kept best first while the kept elements stay within alpha, skipping one
      that would overflow for a smaller, less aligned one that fits: the fraction never exceeds alpha,
      but the kept set is not a threshold set of the cosine.
    The best tensor is always kept, so a step never updates nothing.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
    cos = tensor_cosines(g_theta_bar, g_phi_bar)
    sizes = [x.numel() for x in g_theta_bar]
    budget = alpha * sum(sizes)
    order = torch.argsort(cos, descending=True, stable=True).tolist()
    if rule == "threshold":
        used = 0
        for i in order:
            used += sizes[i]
            if used >= budget:
                break
        threshold = cos[i]
        return [bool(c >= threshold) for c in cos]
    if rule != "knapsack":
        raise ValueError(f"rule must be 'threshold' or 'knapsack', got {rule!r}")
    keep = [False] * len(sizes)
    used = 0
    for i in order:
        if used and used + sizes[i] > budget:
            continue  # too big for what is left; a smaller, less aligned tensor may still fit
        keep[i] = True
        used += sizes[i]
    return keep


def visual_drift(z_phi: torch.Tensor, z_theta: torch.Tensor, reduction: str = "mean", weight: float = 1.0):
    """Eq. 6's visual representation loss L_v = ||z_phi - z_theta||_1 over the image-token states, in
    fp32 (states of a bf16 forward would round the small early differences away).

    The paper writes an L1 norm, a sum; "mean" divides it by the number of state elements (batch x
    image tokens x hidden). The scale matters in one place only: h = grad L_v enters Eq. 10's step as
    h_theta (the projections of Eqs. 7-9 do not depend on h's length), so `reduction` and `weight` set
    how strongly visual alignment counts against the task gradient.
    """
    diff = (z_phi.float() - z_theta.float()).abs()
    if reduction == "mean":
        return weight * diff.mean()
    if reduction == "sum":
        return weight * diff.sum()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def masked_update(g_theta: Grads, h_theta: Grads, keep: list[bool]) -> list[torch.Tensor | None]:
    """Eq. 12: M * (g_theta + h_theta); None marks a tensor the optimizer must leave untouched."""
    return [g + h if k else None for g, h, k in zip(g_theta, h_theta, keep)]


def task_and_drift_gradients(loss, lv, params, keep_graph: bool = True) -> tuple[Grads, Grads]:
    """(g, h) = (grad of the task loss, grad of L_v) over `params`: two backward passes over one graph;
    keep_graph leaves the graph for the other model's pass."""
    g = torch.autograd.grad(loss, params, retain_graph=True, materialize_grads=True)
    h = torch.autograd.grad(lv, params, retain_graph=keep_graph, materialize_grads=True)
    return list(g), list(h)
