"""Methods on a real tiny model: MDGD's gradients at theta == phi, MDGD-GM's mask, NaN loss, CLI errors."""

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, SMOKE, check_mdgd_first_step, smoke_config, train_spec_for
from mllm_forgetting.config.typed import ConfigError, build
from mllm_forgetting.errors import NonFiniteLossError
from mllm_forgetting.methods import METHODS, TuneContext, make_method
from mllm_forgetting.methods.mdgd import MDGDConfig
from mllm_forgetting.methods.mdgd_gm import MDGDGradientMaskConfig
from mllm_forgetting.models.parts import trainable_names
from mllm_forgetting.models.registry import build_backbone
from mllm_forgetting.spec import to_json
from mllm_forgetting.training.batches import Encoded, training_batch
from mllm_forgetting.training.forward import forward_vl
from mllm_forgetting.training.loop import train
from mllm_forgetting.training.settings import TrainingConfig

WORDS = "what color is the circle red blue green answer".split()
CONFIG = smoke_config()


def setup(name="tiny-llava"):
    cfg = CONFIG.backbones[name]
    torch.manual_seed(0)
    model, processor = build_backbone(cfg.architecture, cfg.size, WORDS)
    ctx = TuneContext(
        trainable_names(model, cfg.connector, cfg.layers, 1),
        model.config.image_token_id,
        representation_layer=-1,
    )
    rng = np.random.default_rng(0)
    from PIL import Image

    ims = [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(6)]
    enc = processor(
        text=["<image> what color is the circle answer"] * 6,
        images=[[i] for i in ims],
        return_tensors="pt",
        padding=True,
    )
    answers = [["red"], ["blue"], ["green"]] * 2
    tok = processor.tokenizer
    data = Encoded(
        prompt_ids=[ids.tolist() for ids in enc["input_ids"]],
        answer_ids=[[tok(a[0], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]] for a in answers],
        images=[{k: v[i : i + 1] for k, v in enc.items() if k.startswith("pixel")} for i in range(6)],
        ids=[str(i) for i in range(6)],
        answers=answers,
        tasks=["vqa"] * 6,
    )
    batch = training_batch(data, np.arange(6), rng, tok.pad_token_id)
    return model, ctx, data, batch, tok


@pytest.mark.parametrize("name", list(SMOKE["backbones"]))
def test_mdgd_first_step_doubles_the_task_gradient(name):
    model, ctx, _, batch, _ = setup(name)
    check_mdgd_first_step(model, ctx, batch)


@pytest.mark.parametrize("name", list(SMOKE["backbones"]))
def test_fused_mdgd_gradients_equal_the_straightforward_ones(name):
    """phi run through theta's module with its own trainable tensors, the vision tower computed once and
    g, h of each model from one batched backward pass give the deep-copy, four-pass gradients."""
    model, ctx, _, batch, _ = setup(name)
    method = make_method("mdgd")
    method.prepare(model, ctx)
    reference_phi = [p.detach().clone() for p in method.params]
    with torch.no_grad():  # move theta off phi so every gradient is non-trivial
        for p in method.params:
            p.add_(0.05 * torch.randn_like(p))
    expected_phi_model = copy.deepcopy(model)
    with torch.no_grad():
        for (_, p), ref in zip(
            [(n, p) for n, p in expected_phi_model.named_parameters() if n in ctx.trainable_names],
            reference_phi,
        ):
            p.copy_(ref)
    fused = method.gradients(model, batch, ctx)[2:]
    naive = straightforward_gradients(model, expected_phi_model, ctx.trainable_names, batch, ctx)
    for fused_list, naive_list in zip(fused, naive):
        for a, b in zip(fused_list, naive_list):
            assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)
    assert any(float(h.abs().sum()) > 0 for h in fused[1])  # h_theta is not trivially zero
    replayed = {type(m).__name__ for m in method.frozen.replayed()}
    assert any("Vision" in n for n in replayed), replayed  # the vision tower ran once for both models
    assert not any("Projector" in n or "Connector" in n for n in replayed)  # trainable: never replayed


def straightforward_gradients(model, phi, names, batch, ctx):
    """The naive MDGD step: phi a separate whole model, four separate backward passes."""
    params = [p for n, p in model.named_parameters() if n in names]
    phi_params = [p for n, p in phi.named_parameters() if n in names]
    for p in phi_params:
        p.requires_grad_(True)
    loss_theta, z_theta = forward_vl(model, batch, ctx.image_token_id, ctx.representation_layer)
    loss_phi, z_phi = forward_vl(phi, batch, ctx.image_token_id, ctx.representation_layer)
    lv = (z_phi - z_theta).abs().mean()
    grad = torch.autograd.grad
    return (
        grad(loss_theta, params, retain_graph=True),
        grad(lv, params, retain_graph=True),
        grad(loss_phi, phi_params, retain_graph=True),
        grad(lv, phi_params),
    )


@pytest.mark.parametrize("name", list(SMOKE["backbones"]))
def test_sequential_schedule_gives_the_joint_gradients(name):
    """One graph at a time (phi's states first from a pass without a graph) changes memory, not gradients."""
    results = []
    for schedule in ("joint", "sequential"):
        model, ctx, _, batch, _ = setup(name)
        method = make_method("mdgd", MDGDConfig(schedule=schedule))
        method.prepare(model, ctx)
        torch.manual_seed(1)
        with torch.no_grad():
            for p in method.params:
                p.add_(0.05 * torch.randn_like(p))
        results.append(method.gradients(model, batch, ctx))
    joint, sequential = results
    assert torch.equal(joint[1], sequential[1])  # L_v
    for a_list, b_list in zip(joint[2:], sequential[2:]):
        for a, b in zip(a_list, b_list):
            assert torch.allclose(a, b, atol=1e-7, rtol=1e-6)
    # an unknown schedule is refused when the config is loaded, before any model is built
    with pytest.raises(
        ConfigError, match=r"^methods\.mdgd: schedule must be one of 'joint', 'sequential'; got 'lazy'"
    ):
        smoke_config(lambda raw: raw["methods"]["mdgd"].update(schedule="lazy"))


def test_phi_is_only_a_copy_of_the_trainable_tensors():
    model, ctx, _, _, _ = setup()
    method = make_method("mdgd")
    method.prepare(model, ctx)
    phi_elements = sum(p.numel() for p in method.phi_params)
    assert phi_elements == sum(p.numel() for p in method.params) < sum(p.numel() for p in model.parameters())
    assert not any(isinstance(v, torch.nn.Module) for v in vars(method).values())  # no second model


def test_mdgd_phi_stays_frozen_while_theta_moves():
    model, ctx, data, _, tok = setup()
    method = make_method("mdgd")
    method.prepare(model, ctx)
    before = [p.detach().clone() for p in method.phi_params]
    rows = train(
        model,
        method,
        ctx,
        data,
        TrainingConfig(steps=3, batch_size=6, lr=1e-2, log_every=1),
        0,
        pad_id=tok.pad_token_id,
        device="cpu",
        label="test",
    )
    assert all(torch.equal(a, b) for a, b in zip(before, method.phi_params))
    assert not all(torch.equal(a, b) for a, b in zip(before, method.params))
    assert rows[-1]["lv"] > 0  # theta has drifted from phi


@pytest.mark.parametrize("mask", ["threshold", "knapsack"])
def test_mdgd_gm_updates_the_masked_tensors_and_logs_the_fraction(mask):
    model, ctx, _, batch, _ = setup()
    method = make_method("mdgd_gm", MDGDGradientMaskConfig(alpha=0.3, mask=mask))
    method.prepare(model, ctx)
    logs = method.step(model, batch, ctx)
    total = sum(p.numel() for p in method.params)
    updated = sum(p.numel() for p in method.params if p.grad is not None)
    if mask == "threshold":  # Eq. 11: the best tensors up to the one that fills alpha
        assert 0.3 * total <= updated < total
    else:
        assert 0 < updated <= 0.3 * total
    assert abs(logs["fraction_updated"] - updated / total) < 1e-9
    assert method.trainable_count() == updated


@pytest.mark.parametrize("alpha", [0.0, -0.5, 1.5])
def test_mdgd_gm_rejects_alpha_outside_unit_interval(alpha):
    # checked by the config builder (load_config / spec loading), not when the method prepares
    def edit(raw):
        raw["methods"]["mdgd_gm_0.5"]["alpha"] = alpha

    with pytest.raises(ConfigError, match=r"^methods\.mdgd_gm_0\.5: alpha must be in \(0, 1\]; got "):
        smoke_config(edit)
    with pytest.raises(ConfigError, match=r"alpha must be in \(0, 1\]"):
        build(MDGDGradientMaskConfig, {"alpha": alpha}, "spec.method")
    assert build(MDGDGradientMaskConfig, {"alpha": 1.0}, "spec.method").alpha == 1.0


def test_non_finite_loss_stops_with_cell_and_step():
    model, ctx, data, _, tok = setup()
    method = make_method("finetune")
    method.prepare(model, ctx)
    with torch.no_grad():
        model.lm_head.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"my/cell: non-finite task loss .* at step 0"):
        train(
            model,
            method,
            ctx,
            data,
            TrainingConfig(steps=2, batch_size=6, lr=1e-3),
            0,
            pad_id=tok.pad_token_id,
            device="cpu",
            label="my/cell",
        )


def test_unknown_method_type_names_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=rf"^unknown method type 'sgd'; valid: {', '.join(METHODS)}$",
    ):
        make_method("sgd")


def test_train_script_reports_one_line_error(tmp_path):
    spec = json.loads(to_json(train_spec_for()))
    spec["cell"] = {"backbone": "b", "target": "t", "method": "m", "seed": 0}
    spec["method"]["type"] = "nope"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/train.py"),
            "--spec",
            json.dumps(spec),
            "--data",
            str(tmp_path),
            "--pretrained",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "out"),
            "--results",
            str(tmp_path / "results"),
            "--threads",
            "1",
            "--checkpoint-every",
            "0",
            "--no-tracking",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: cell b/t/m/seed0: spec.method: unknown method type 'nope'; valid: {', '.join(METHODS)}"
    )
    assert not (tmp_path / "out").exists()


def test_a_representation_layer_outside_the_model_names_the_valid_range():
    """A hub backbone's depth is known only once loaded: the error names the range, not an IndexError."""
    from mllm_forgetting.training.forward import layer_states

    states = tuple(torch.full((1, 2), float(i)) for i in range(5))  # embeddings + 4 layers
    assert float(layer_states(states, -1)[0, 0]) == 4.0 and float(layer_states(states, -5)[0, 0]) == 0.0
    with pytest.raises(
        ValueError, match=r"representation_layer 5 is outside this model's hidden states: -5\.\.4"
    ):
        layer_states(states, 5)
