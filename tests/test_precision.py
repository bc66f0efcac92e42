"""Training a bf16 backbone (the paper path): fp32 master weights make its steps those of fp32 training.

Before, AdamW stepped the bf16 weights themselves: at lr 2e-5 most updates rounded away (a weight near
1.0 moves only in steps of 2^-7). Each method here trains the same tiny backbone five steps at lr 2e-5
from the same bf16-rounded weights, once in fp32 and once as a bf16 model with master weights, and the
two updates are compared tensor by tensor.

Tolerance: autocast runs the forward in bf16 (8 significant bits), which perturbs every gradient by
about 2^-8 relative; AdamW's first steps move each element by about lr x sign(gradient), so the update
keeps its direction and length except where a gradient is near zero. Measured worst cases: length ratio
1.11 and cosine 0.95 (MDGD, whose h at theta ~ phi is a difference of nearly equal states); the bounds
below (0.8-1.25, 0.9) leave room for that, while training bf16 weights directly fails them by far
(30% of the elements moved, two tensors not at all, length ratio 0).
"""

import dataclasses

import pytest
import torch
from mllm_forgetting.methods import make_method
from mllm_forgetting.training.loop import train
from mllm_forgetting.training.precision import autocast_forward, to_model_dtype
from mllm_forgetting.training.settings import TrainingConfig
from test_methods import CONFIG, setup

SETTINGS = TrainingConfig(steps=5, batch_size=6, lr=2e-5, log_every=1, warmup_steps=0, schedule="constant")
METHODS = {
    "finetune": {},
    "lora": {},
    "mdgd": {},
    "mdgd_no_align": {"align": False},
    "mdgd_gm": {"alpha": 1.0},  # every tensor kept: the two runs' masks cannot differ
}


def updates(method_type: str, options: dict, precision: str) -> tuple[list[torch.Tensor], object]:
    """Five steps of a method; the change of each trained tensor (in fp32) and the method."""
    model, ctx, data, _, tokenizer = setup()
    ctx = dataclasses.replace(ctx, lora_target_modules=CONFIG.backbones["tiny-llava"].lora_target_modules)
    model = model.to(torch.bfloat16)  # both runs start from the same bf16-rounded weights
    if precision == "fp32":
        model = model.float()
    registered = make_method(method_type).config
    method = make_method(method_type, dataclasses.replace(registered, **options))
    model = method.prepare(model, ctx)
    if precision == "bf16 weights":  # the old path: AdamW on the bf16 tensors themselves
        to_model_dtype(method.params, "bfloat16")
    if precision != "fp32":
        model = autocast_forward(model, "bfloat16", "cpu")
    before = [p.detach().float().clone() for p in method.params]
    train(model, method, ctx, data, SETTINGS, 0, pad_id=tokenizer.pad_token_id, device="cpu", label="bf16")
    return [p.detach().float() - b for p, b in zip(method.params, before)], method


def agreement(update: list[torch.Tensor], reference: list[torch.Tensor]) -> dict:
    moved = sum(int((u != 0).sum()) for u in update)
    return {
        "moved": moved / sum(u.numel() for u in update),
        "still": sum(float(u.abs().max()) == 0 for u in update),
        "length": [float(u.norm() / r.norm()) for u, r in zip(update, reference)],
        "cosine": [float((u * r).sum() / (u.norm() * r.norm() + 1e-30)) for u, r in zip(update, reference)],
    }


@pytest.mark.parametrize("name", list(METHODS))
def test_a_bf16_step_changes_every_tensor_as_fp32_training_does(name):
    method_type = "mdgd" if name == "mdgd_no_align" else name
    reference, _ = updates(method_type, METHODS[name], "fp32")
    update, method = updates(method_type, METHODS[name], "bf16 master weights")
    assert all(p.dtype == torch.float32 for p in method.params)  # master weights ...
    found = agreement(update, reference)
    assert found["still"] == 0 and found["moved"] > 0.999, found  # every tensor, (nearly) every element
    assert all(0.8 < x < 1.25 for x in found["length"]), found["length"]
    assert all(c > 0.9 for c in found["cosine"]), found["cosine"]


def test_training_bf16_weights_directly_fails_the_same_check():
    """The check has power: the old path (no master weights) fails it."""
    reference, _ = updates("finetune", {}, "fp32")
    update, _ = updates("finetune", {}, "bf16 weights")
    found = agreement(update, reference)
    assert found["still"] > 0 or found["moved"] < 0.9, found


def test_frozen_weights_stay_bf16_and_the_saved_model_has_one_dtype():
    model, ctx, *_ = setup()
    model = model.to(torch.bfloat16)
    method = make_method("finetune")
    method.prepare(model, ctx)
    trained = {id(p) for p in method.params}
    assert all(p.dtype == torch.bfloat16 for p in model.parameters() if id(p) not in trained)
    assert all(p.dtype == torch.float32 for p in method.params)
    to_model_dtype(method.params, "bfloat16")  # what tune_cell does before save_pretrained
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
