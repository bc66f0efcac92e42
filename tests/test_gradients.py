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


def test_gradient_mask_keeps_most_aligned_within_alpha():
    # Four tensors of 10 elements; cosines 1, -1, 0.5, 0 -> alpha 0.5 keeps the two best (20 of 40 elements).
    a = [t(*[1.0] * 10), t(*[1.0] * 10), t(*([1.0] * 5 + [0.0] * 5)), t(*([1.0] * 5 + [0.0] * 5))]
    b = [t(*[1.0] * 10), t(*[-1.0] * 10), t(*([1.0] * 10)), t(*([0.0] * 5 + [1.0] * 5))]
    cos = tensor_cosines(a, b)
    assert torch.allclose(cos, t(1.0, -1.0, 0.5**0.5, 0.0))
    assert gradient_mask(a, b, 0.5) == [True, False, True, False]
    assert gradient_mask(a, b, 0.25) == [True, False, False, False]
    assert gradient_mask(a, b, 1.0) == [True, True, True, True]


def test_gradient_mask_fraction_never_exceeds_alpha_and_keeps_one():
    torch.manual_seed(2)
    a = [torch.randn(n) for n in (5, 50, 7, 30, 8)]
    b = [torch.randn(n) for n in (5, 50, 7, 30, 8)]
    total = sum(x.numel() for x in a)
    for alpha in (0.05, 0.1, 0.3, 0.5, 0.9):
        keep = gradient_mask(a, b, alpha)
        kept = sum(x.numel() for x, k in zip(a, keep) if k)
        assert any(keep)
        assert kept <= alpha * total or sum(keep) == 1


def test_gradient_mask_rejects_alpha_outside_unit_interval():
    for alpha in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            gradient_mask([t(1.0)], [t(1.0)], alpha)


def test_masked_update_is_g_plus_h_on_kept_tensors_only():
    out = masked_update([t(1, 2), t(3)], [t(0.5, 0.5), t(1)], [True, False])
    assert torch.allclose(out[0], t(1.5, 2.5)) and out[1] is None
