"""MDGD gradient algebra against hand-computed cases (Eqs. 7-12)."""

import pytest
import torch
from mllm_forgetting.methods.gradients import (
    combine_gradients,
    decouple,
    gradient_mask,
    masked_update,
    regulariser,
    tensor_cosines,
    visual_drift,
)


def t(*xs):
    return torch.tensor(xs, dtype=torch.float64)


def flat(grads):
    return torch.cat([g.flatten() for g in grads])


def test_decoupled_gradient_is_orthogonal_to_h():
    torch.manual_seed(0)
    g, h = [torch.randn(3, 4), torch.randn(5)], [torch.randn(3, 4), torch.randn(5)]
    for scope in ("tensor", "global"):
        g_bar = decouple(g, h, scope)
        if scope == "tensor":
            for gb, hh in zip(g_bar, h):
                assert abs(float((gb * hh).sum())) < 1e-5
        else:
            assert abs(float(flat(g_bar) @ flat(h))) < 1e-5


def test_decouple_hand_case():
    # g = (1, 1), h = (1, 0): the component along h is removed, leaving (0, 1).
    assert torch.allclose(decouple([t(1, 1)], [t(1, 0)])[0], t(0, 1))


def test_zero_h_leaves_g_unchanged():
    g = [t(1, 2, 3), t(-1.5)]
    assert all(torch.equal(a, b) for a, b in zip(decouple(g, [t(0, 0, 0), t(0)]), g))


def test_regulariser_is_parallel_to_phi_gradient():
    # g~ = (g_theta_bar . g_phi_bar / |g_phi_bar|^2) g_phi_bar: for (2, 1) on (1, 0) that is (2, 0).
    assert torch.allclose(regulariser([t(2, 1)], [t(1, 0)])[0], t(2, 0))
    torch.manual_seed(1)
    a, b = torch.randn(6), torch.randn(6)
    g_tilde = regulariser([a], [b])[0]
    cos = float(g_tilde @ b / (g_tilde.norm() * b.norm()))
    assert abs(abs(cos) - 1) < 1e-6


def test_regulariser_zero_phi_direction_gives_zero():
    assert torch.equal(regulariser([t(1, 2)], [t(0, 0)])[0], t(0, 0))


def test_combine_gradients_hand_case():
    # g_theta=(1,1), h_theta=(1,0): g_theta_bar=(0,1). g_phi=(1,2), h_phi=(0,0): g_phi_bar=(1,2).
    # g~ = ((0,1).(1,2)/5)(1,2) = (0.4, 0.8). Eq. 10: g + h + g~ = (2.4, 1.8); without align: (1.4, 1.8).
    args = ([t(1, 1)], [t(1, 0)], [t(1, 2)], [t(0, 0)])
    assert torch.allclose(combine_gradients(*args)[0], t(2.4, 1.8))
    assert torch.allclose(combine_gradients(*args, align=False)[0], t(1.4, 1.8))


def test_scope_global_differs_from_tensor_when_tensors_disagree():
    g, h = [t(1, 0), t(0, 1)], [t(1, 0), t(0, 0)]
    tensor_scope = decouple(g, h, "tensor")
    global_scope = decouple(g, h, "global")
    assert torch.allclose(tensor_scope[0], t(0, 0)) and torch.allclose(tensor_scope[1], t(0, 1))
    assert torch.allclose(global_scope[0], t(0, 0)) and torch.allclose(global_scope[1], t(0, 1))
    g2 = [t(1, 1), t(1, 0)]
    h2 = [t(1, 0), t(1, 0)]
    # global: coef = (1 + 1) / 2 = 1 -> (0, 1), (0, 0); per tensor gives the same here but not below
    assert torch.allclose(flat(decouple(g2, h2, "global")), t(0, 1, 0, 0))
    g3, h3 = [t(2, 0), t(0, 1)], [t(1, 0), t(0, 1)]
    assert torch.allclose(flat(decouple(g3, h3, "tensor")), t(0, 0, 0, 0))
    # global coef = (2 + 1) / 2 = 1.5 -> (2 - 1.5, 0, 0, 1 - 1.5)
    assert torch.allclose(flat(decouple(g3, h3, "global")), t(0.5, 0, 0, -0.5))
    with pytest.raises(ValueError):
        decouple(g3, h3, "layer")


def test_gradient_mask_keeps_most_aligned_tensors():
    # Four tensors of 10 elements; cosines 1, -1, 0.5, 0 -> alpha 0.5 keeps the two best (20 of 40 elements).
    a = [t(*[1.0] * 10), t(*[1.0] * 10), t(*([1.0] * 5 + [0.0] * 5)), t(*([1.0] * 5 + [0.0] * 5))]
    b = [t(*[1.0] * 10), t(*[-1.0] * 10), t(*([1.0] * 10)), t(*([0.0] * 5 + [1.0] * 5))]
    cos = tensor_cosines(a, b)
    assert torch.allclose(cos, t(1.0, -1.0, 0.5**0.5, 0.0))
    for rule in ("threshold", "knapsack"):
        assert gradient_mask(a, b, 0.5, rule) == [True, False, True, False]
        assert gradient_mask(a, b, 0.25, rule) == [True, False, False, False]
        assert gradient_mask(a, b, 1.0, rule) == [True, True, True, True]
    # 0.3 of 40 elements is 12: the threshold set reaches it with the second tensor (20 elements);
    # the knapsack skips it, and the rest (10 each) would overflow too
    assert gradient_mask(a, b, 0.3, "threshold") == [True, False, True, False]
    assert gradient_mask(a, b, 0.3, "knapsack") == [True, False, False, False]


def test_the_default_mask_is_eq_11s_threshold_set():
    """Kept = {tensors with cosine >= T_alpha}, T_alpha the cosine at which the ranked tensors first hold
    alpha of the elements. The knapsack it replaced skipped a big tensor for a smaller, less aligned one
    (live: it kept cosine -0.075 after skipping 0.305)."""
    torch.manual_seed(2)
    sizes = (5, 50, 7, 30, 8, 64, 3)
    not_threshold_sets = 0  # knapsack masks that are no threshold set
    for trial in range(50):
        a = [torch.randn(n) for n in sizes]
        b = [x + torch.randn(x.shape) * (trial % 5) for x in a]
        cos = tensor_cosines(a, b)
        total = sum(sizes)
        for alpha in (0.05, 0.1, 0.3, 0.5, 0.9):
            keep = gradient_mask(a, b, alpha)
            kept_cos = [c for c, k in zip(cos.tolist(), keep) if k]
            threshold = min(kept_cos)
            assert keep == [c >= threshold for c in cos.tolist()]  # a threshold set
            kept = sum(n for n, k in zip(sizes, keep) if k)
            assert kept >= alpha * total  # it holds alpha ...
            above = sum(n for n, c in zip(sizes, cos.tolist()) if c > threshold)
            assert above < alpha * total  # ... and a higher threshold would not
            knapsack = gradient_mask(a, b, alpha, "knapsack")
            assert sum(n for n, k in zip(sizes, knapsack) if k) <= alpha * total or sum(knapsack) == 1
            lowest_kept = min(c for c, k in zip(cos.tolist(), knapsack) if k)
            not_threshold_sets += knapsack != [c >= lowest_kept for c in cos.tolist()]
    assert not_threshold_sets > 0  # the old rule fails the threshold-set assertion above on these cases
    with pytest.raises(ValueError, match="rule must be"):
        gradient_mask(a, b, 0.5, "topk")


def test_visual_drift_reduction_and_weight():
    z_phi, z_theta = torch.zeros(2, 3, 4), torch.ones(2, 3, 4)
    assert float(visual_drift(z_phi, z_theta)) == 1.0
    assert float(visual_drift(z_phi, z_theta, "sum")) == 24.0  # Eq. 6's L1 norm as written
    assert float(visual_drift(z_phi, z_theta, "mean", 0.5)) == 0.5
    low = visual_drift(z_phi.bfloat16(), (z_theta * 1.001).bfloat16())
    assert low.dtype == torch.float32
    with pytest.raises(ValueError, match="reduction must be"):
        visual_drift(z_phi, z_theta, "max")


def test_gradient_mask_rejects_alpha_outside_unit_interval():
    for alpha in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            gradient_mask([t(1.0)], [t(1.0)], alpha)


def test_masked_update_is_g_plus_h_on_kept_tensors_only():
    out = masked_update([t(1, 2), t(3)], [t(0.5, 0.5), t(1)], [True, False])
    assert torch.allclose(out[0], t(1.5, 2.5)) and out[1] is None
