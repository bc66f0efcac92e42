"""MoE-LoRA (CoIN's MoELoRA) on the tiny backbones: it starts as the pre-trained model, its router's gates
are a softmax over the experts, it tunes only its adapters, one expert is plain LoRA, and the tuned model
survives export and reload."""

import copy
import dataclasses

import pytest
import torch
from conftest import SMOKE
from mllm_forgetting.config.typed import ConfigError, build
from mllm_forgetting.methods import make_method
from mllm_forgetting.methods.moe_lora import MOE_LORA_FILE, MoELoRAConfig, load_moe_lora
from mllm_forgetting.training.loop import train
from mllm_forgetting.training.settings import TrainingConfig
from test_methods import CONFIG, setup

BACKBONES = list(SMOKE["backbones"])


def moe_setup(name="tiny-llava"):
    model, ctx, data, batch, tok = setup(name)
    ctx = dataclasses.replace(ctx, lora_target_modules=CONFIG.backbones[name].lora_target_modules)
    return model, ctx, data, batch, tok


def logits(model, batch):
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        return model(**inputs, use_cache=False).logits


def wrapped(model):
    from mllm_forgetting.methods.moe_lora import MoELoRALinear

    return {n: m for n, m in model.named_modules() if isinstance(m, MoELoRALinear)}


@pytest.mark.parametrize("name", BACKBONES)
def test_prepared_model_starts_as_the_pretrained_one(name):
    model, ctx, _, batch, _ = moe_setup(name)
    model.eval()
    before = logits(model, batch)
    method = make_method("moe_lora")
    model = method.prepare(model, ctx)
    layers = wrapped(model)
    assert layers and all(n.endswith(("q_proj", "k_proj")) for n in layers)
    assert all(
        float(layer.lora_A.detach().abs().sum()) > 0 for layer in layers.values()
    )  # only B starts at zero
    assert torch.equal(logits(model, batch), before)


def test_gates_are_a_softmax_over_the_experts():
    model, ctx, _, _, _ = moe_setup()
    method = make_method("moe_lora", MoELoRAConfig(experts=3))
    model = method.prepare(model, ctx)
    layer = next(iter(wrapped(model).values()))
    x = torch.randn(2, 5, layer.in_features)
    gates = layer.gates(x)
    assert gates.shape == (2, 5, 3)
    assert bool((gates > 0).all())
    torch.testing.assert_close(gates.sum(-1), torch.ones(2, 5))
    assert not torch.allclose(gates[0, 0], gates[0, 1])  # input-dependent, not a constant mixture


def test_only_the_adapters_and_routers_are_tuned():
    model, ctx, _, batch, _ = moe_setup()
    method = make_method("moe_lora", MoELoRAConfig(experts=2, r=4))
    model = method.prepare(model, ctx)
    layers = wrapped(model)
    adapter_ids = {id(p) for p in method.params}
    assert len(method.params) == 3 * len(layers)
    assert all(p.dtype == torch.float32 for p in method.params)
    assert method.trainable_count() == sum(
        2 * (4 * layer.in_features + layer.out_features * 4) + 2 * layer.in_features
        for layer in layers.values()
    )
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if id(p) not in adapter_ids}
    optimizer = torch.optim.AdamW(method.params, lr=1e-2)
    for _ in range(2):  # B moves on the first step (A's and the router's gradients are 0 while B is 0)
        optimizer.zero_grad()
        method.step(model, batch, ctx)
        for n, p in model.named_parameters():
            assert (p.grad is not None) == (id(p) in adapter_ids), n
        optimizer.step()
    assert all(float(p.grad.abs().sum()) > 0 for p in method.params)  # A and the routers learn too
    for n, p in model.named_parameters():
        if id(p) not in adapter_ids:
            assert torch.equal(p, frozen[n]), n


@pytest.mark.parametrize("name", BACKBONES)
def test_export_and_reload_give_the_tuned_model(name, tmp_path):
    model, ctx, data, batch, tok = moe_setup(name)
    pristine = copy.deepcopy(model)
    method = make_method("moe_lora", MoELoRAConfig(experts=3, r=4))
    model = method.prepare(model, ctx)
    settings = TrainingConfig(steps=3, batch_size=6, lr=1e-2, log_every=1)
    train(model, method, ctx, data, settings, 0, pad_id=tok.pad_token_id, device="cpu", label="moe")
    model.eval()
    tuned = logits(model, batch)
    assert not torch.allclose(tuned, logits(pristine, batch))  # training changed the model
    method.export(model).save_pretrained(tmp_path)
    assert (tmp_path / MOE_LORA_FILE).is_file() and (tmp_path / "moe_lora.safetensors").is_file()
    reloaded = load_moe_lora(tmp_path, pristine)
    assert not reloaded.training and not any(p.requires_grad for p in reloaded.parameters())
    assert torch.equal(logits(reloaded, batch), tuned)


def test_a_bf16_cell_saves_bf16_adapters_that_reload_onto_the_bf16_model(tmp_path):
    """The paper path: fp32 master weights under autocast, saved in the backbone's dtype (to_model_dtype),
    reloaded onto the bf16 pre-trained model, which evaluation runs without autocast."""
    from mllm_forgetting.training.precision import autocast_forward, to_model_dtype

    model, ctx, data, batch, tok = moe_setup()
    model = model.to(torch.bfloat16)
    pristine = copy.deepcopy(model)
    method = make_method("moe_lora", MoELoRAConfig(experts=2, r=4))
    model = autocast_forward(method.prepare(model, ctx), "bfloat16", "cpu")
    assert all(p.dtype == torch.float32 for p in method.params)
    settings = TrainingConfig(steps=2, batch_size=6, lr=1e-2, log_every=1)
    train(model, method, ctx, data, settings, 0, pad_id=tok.pad_token_id, device="cpu", label="bf16")
    to_model_dtype(method.params, "bfloat16")
    method.export(model).save_pretrained(tmp_path)
    reloaded = load_moe_lora(tmp_path, pristine)
    saved, loaded = wrapped(model), wrapped(reloaded)
    assert list(saved) == list(loaded)
    for name, layer in loaded.items():
        assert layer.lora_A.dtype == torch.bfloat16
        for a, b in zip(layer.adapter_parameters(), saved[name].adapter_parameters()):
            assert torch.equal(a, b)
    out = logits(reloaded, batch)
    assert out.dtype == torch.bfloat16 and bool(torch.isfinite(out).all())
    model.eval()
    torch.testing.assert_close(out.float(), logits(model, batch).float(), rtol=0.05, atol=0.05)


def test_preparing_a_reloaded_model_continues_its_adapters(tmp_path):
    """A later stage of a sequence could keep training the same experts: prepare reuses the wrapped layers."""
    model, ctx, data, _, tok = moe_setup()
    pristine = copy.deepcopy(model)
    method = make_method("moe_lora", MoELoRAConfig(experts=2, r=4))
    model = method.prepare(model, ctx)
    settings = TrainingConfig(steps=2, batch_size=6, lr=1e-2, log_every=1)
    train(model, method, ctx, data, settings, 0, pad_id=tok.pad_token_id, device="cpu", label="moe")
    method.export(model).save_pretrained(tmp_path)
    reloaded = load_moe_lora(tmp_path, pristine)
    again = make_method("moe_lora", MoELoRAConfig(experts=2, r=4))
    reloaded = again.prepare(reloaded, ctx)
    assert len(again.params) == len(method.params)
    assert all(torch.equal(a, b) and a.requires_grad for a, b in zip(again.params, method.params))
    with pytest.raises(ValueError, match="already holds MoE-LoRA adapters with experts=2"):
        make_method("moe_lora", MoELoRAConfig(experts=3, r=4)).prepare(reloaded, ctx)


def test_one_expert_is_plain_lora():
    model, ctx, _, _, _ = moe_setup()
    method = make_method("moe_lora", MoELoRAConfig(experts=1, r=4, lora_alpha=8))
    model = method.prepare(model, ctx)
    layer = next(iter(wrapped(model).values()))
    with torch.no_grad():
        layer.lora_B.normal_()
        x = torch.randn(3, layer.in_features)
        expected = layer.base_layer(x) + (8 / 4) * x @ layer.lora_A[0].T @ layer.lora_B[0].T
        torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(layer.gates(x), torch.ones(3, 1))


@pytest.mark.parametrize("key", ["experts", "r"])
def test_config_rejects_zero_experts_and_rank(key):
    with pytest.raises(ConfigError, match=rf"^methods\.moe: {key} must be >= 1; got 0$"):
        build(MoELoRAConfig, {key: 0}, "methods.moe")
    assert getattr(build(MoELoRAConfig, {key: 2}, "methods.moe"), key) == 2


def test_a_target_that_matches_nothing_is_an_error():
    model, ctx, _, _, _ = moe_setup()
    method = make_method("moe_lora")
    with pytest.raises(ValueError, match="matches no module"):
        method.prepare(model, dataclasses.replace(ctx, lora_target_modules=r".*nowhere"))
    model, ctx, _, _, _ = moe_setup()
    model = method.prepare(model, dataclasses.replace(ctx, lora_target_modules=["q_proj"]))  # peft suffixes
    assert wrapped(model) and all(n.endswith("q_proj") for n in wrapped(model))
