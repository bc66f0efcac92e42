"""Tiny backbones are real transformers models: built from configs, saved, reloaded like hub checkpoints."""

import numpy as np
import pytest
import torch
from conftest import SMOKE, smoke_config
from mllm_forgetting.methods import TuneContext, make_method
from mllm_forgetting.methods.lora import LoRAConfig
from mllm_forgetting.models.loading import load_backbone
from mllm_forgetting.models.parts import trainable_names
from mllm_forgetting.models.registry import build_backbone
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

WORDS = "is there a circle in the image yes no answer".split()
CONFIG = smoke_config()
CASES = [(b.architecture, b.size, b.connector, b.layers) for b in CONFIG.backbones.values()]


def images(n):
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(n)]


@pytest.mark.parametrize("arch, size, connector, layers", CASES)
def test_build_save_and_reload_like_a_hub_checkpoint(tmp_path, arch, size, connector, layers):
    model, processor = build_backbone(arch, size, WORDS)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path)
    assert type(reloaded) is type(model)
    assert type(AutoProcessor.from_pretrained(tmp_path)) is type(processor)
    for (n, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items()):
        assert torch.equal(a, b), n


@pytest.mark.parametrize("arch, size, connector, layers", CASES)
def test_trainable_scope_is_connector_plus_last_layers(arch, size, connector, layers):
    model, _ = build_backbone(arch, size, WORDS)
    names = trainable_names(model, connector, layers, 1)
    last = f"{layers}.{size.text_layers - 1}."
    assert any(n.startswith(connector + ".") for n in names) and any(n.startswith(last) for n in names)
    assert not any(n.startswith(f"{layers}.0.") for n in names)
    with pytest.raises(ValueError, match="outside"):
        trainable_names(model, connector, layers, size.text_layers + 1)


@pytest.mark.parametrize("arch, size, connector, layers", CASES)
def test_a_mistyped_module_path_is_an_error_naming_the_closest_one(arch, size, connector, layers):
    """Before, a connector typo matched no parameter silently and only the last layers were tuned."""
    model, _ = build_backbone(arch, size, WORDS)
    with pytest.raises(ValueError, match=rf"backbone `connector`: the model has no module '{connector}x' "):
        trainable_names(model, connector + "x", layers, 1)
    with pytest.raises(ValueError, match=rf"did you mean '{layers}'"):
        trainable_names(model, connector, layers[:-1], 1)


@pytest.mark.parametrize("name", list(SMOKE["backbones"]))
def test_lora_adapts_only_language_model_query_and_key(name):
    cfg = CONFIG.backbones[name]
    model, _ = build_backbone(cfg.architecture, cfg.size, WORDS)
    ctx = TuneContext(
        trainable_names=[],
        image_token_id=model.config.image_token_id,
        representation_layer=-1,
        lora_target_modules=cfg.lora_target_modules,
    )
    method = make_method("lora", LoRAConfig(r=2, lora_alpha=4))
    wrapped = method.prepare(model, ctx)
    names = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n and ("q_proj" in n or "k_proj" in n) for n in names)
    assert not any("vision" in n for n in names)


@pytest.mark.parametrize("arch, size, connector, layers", CASES)
def test_processor_expands_the_image_into_its_tokens(arch, size, connector, layers):
    model, processor = build_backbone(arch, size, WORDS)
    nested = "Idefics" in type(processor).__name__
    ims = images(2)
    enc = processor(
        text=["<image> is there a circle answer"] * 2,
        images=[[i] for i in ims] if nested else ims,
        return_tensors="pt",
        padding=True,
    )
    expected = getattr(size, "resampler_latents", None) or (size.image_size // size.patch_size) ** 2
    assert ((enc["input_ids"] == model.config.image_token_id).sum(1) == expected).all()
    out = model(**enc, output_hidden_states=True)
    assert out.logits.shape[:2] == enc["input_ids"].shape


def test_missing_checkpoint_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="pretrain"):
        load_backbone(tmp_path / "nowhere", CONFIG.backbones["tiny-llava"])
