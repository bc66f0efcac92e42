"""The code path of the paper-scale backbones, on tiny models of the same transformers classes.

Qwen2-VL stands for the modern transformers-native backbones: chat-template prompts, a variable
number of flattened patches per image with a grid (`image_grid_thw`) and per-token M-RoPE type ids.
LLaVA-1.5's class is the tiny-llava backbone itself. Loading options (dtype) are checked on a saved
checkpoint; MiniCPM-V-2's remote code and its input adapter are tests/test_minicpmv.py's.
"""

import datasets
import numpy as np
import pytest
import torch
from conftest import smoke_config
from mllm_forgetting.config.typed import ConfigError
from mllm_forgetting.data.benchmark import FEATURES
from mllm_forgetting.evaluation import predict, representations
from mllm_forgetting.methods import TuneContext, make_method
from mllm_forgetting.methods.mdgd_gm import MDGDGradientMaskConfig
from mllm_forgetting.models.loading import load_backbone
from mllm_forgetting.models.parts import trainable_names
from mllm_forgetting.models.registry import ARCHITECTURES, build_backbone
from mllm_forgetting.prompts import WORDS as WORDS_TEMPLATE
from mllm_forgetting.prompts import PromptTemplate, TaskPrompt
from mllm_forgetting.training.batches import encode, training_batch
from mllm_forgetting.training.forward import visual_states
from mllm_forgetting.training.loop import train
from mllm_forgetting.training.settings import TrainingConfig
from PIL import Image

WORDS = "what color is the circle red blue green describe image answer".split()
SIZE = {
    "vision_hidden": 32,
    "vision_layers": 1,
    "text_hidden": 64,
    "text_layers": 2,
    "heads": 2,
    "image_size": 32,
    "patch_size": 8,
}
QWEN = ARCHITECTURES["qwen2_vl"].size(**SIZE)
# the processor's chat template around the bare question
CHAT = PromptTemplate(turn="chat", tasks={"open": TaskPrompt(text="{question}")})


def rows(n=6, sizes=((32, 32), (48, 32), (32, 40))):
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in sizes] * (
        n // len(sizes)
    )
    cols = {
        "id": [str(i) for i in range(n)],
        "image": images,
        "question": ["what color is the circle"] * n,
        "context": [""] * n,
        "options": [[]] * n,
        "answers": [["red"], ["blue", "green"]] * (n // 2),
        "task": ["vqa"] * n,
        "kind": ["open"] * n,
    }
    return datasets.Dataset.from_dict(cols, features=FEATURES)


@pytest.fixture(scope="module")
def qwen():
    torch.manual_seed(0)
    return build_backbone("qwen2_vl", QWEN, WORDS)


def test_chat_prompt_comes_from_the_processors_template(qwen):
    _, processor = qwen
    text = CHAT.prompt(rows()[0], processor)
    assert text.startswith("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>what color")
    assert text.endswith("<|im_start|>assistant\n")
    why = {"question": "why", "context": "", "options": [], "task": "vqa", "kind": "open"}
    assert WORDS_TEMPLATE.prompt(why, processor) == "<image> why answer"


def test_native_resolution_images_batch_with_their_grids(qwen):
    model, processor = qwen
    enc = encode(rows(), processor, CHAT, image_size=32)
    batch = training_batch(enc, np.arange(6), np.random.default_rng(0), processor.tokenizer.pad_token_id)
    grid = batch["image_grid_thw"]
    assert grid.shape == (6, 3) and batch["pixel_values"].shape[0] == int(grid.prod(-1).sum())
    # the per-token type ids follow the padded sequence: 1 exactly on image tokens, 0 on answers and padding
    is_image = batch["input_ids"] == model.config.image_token_id
    assert torch.equal(batch["mm_token_type_ids"].bool(), is_image)
    assert ((batch["labels"] != -100) & is_image).sum() == 0
    out = model(**{k: v for k, v in batch.items() if k != "labels"})
    assert out.logits.shape[:2] == batch["input_ids"].shape


@pytest.mark.parametrize("method", ["finetune", "mdgd", "mdgd_gm"])
def test_methods_train_a_qwen2_vl_backbone(qwen, method):
    model, processor = qwen
    torch.manual_seed(0)
    model, _ = build_backbone("qwen2_vl", QWEN, WORDS)
    names = trainable_names(model, "model.visual.merger", "model.language_model.layers", 1)
    ctx = TuneContext(names, model.config.image_token_id, representation_layer=-1)
    tuner = make_method(method, MDGDGradientMaskConfig(alpha=0.5) if method == "mdgd_gm" else None)
    tuner.prepare(model, ctx)
    before = [p.detach().clone() for p in tuner.params]
    data = encode(rows(), processor, CHAT, image_size=32)
    logs = train(
        model,
        tuner,
        ctx,
        data,
        TrainingConfig(steps=3, batch_size=4, lr=1e-2, log_every=1),
        0,
        pad_id=processor.tokenizer.pad_token_id,
        device="cpu",
        label=method,
    )
    assert len(logs) == 3 and all(np.isfinite(r["loss"]) for r in logs)
    assert any(not torch.equal(a, b) for a, b in zip(before, tuner.params))


def test_generation_and_representations_on_qwen2_vl(qwen):
    model, processor = qwen
    enc = encode(rows(), processor, CHAT, image_size=32)
    answers = predict(model, processor.tokenizer, enc, batch_size=4, max_new_tokens=2, device="cpu")
    assert len(answers) == 6 and all(isinstance(a, str) for a in answers)
    visual, multimodal = representations(
        model,
        enc,
        image_token_id=model.config.image_token_id,
        layer=-1,
        batch_size=4,
        pad_id=processor.tokenizer.pad_token_id,
        device="cpu",
    )
    # a 32x32 image is 4x4 patches of 8 pixels, merged 2x2: 4 image tokens of the LM's width
    assert visual.shape == (6, 4, QWEN.text_hidden) and multimodal.shape == (6, QWEN.text_hidden)


def test_unequal_image_token_counts_ask_for_a_fixed_image_size():
    states = (torch.zeros(2, 4, 3),)
    ids = torch.tensor([[7, 7, 1, 1], [7, 1, 1, 1]])
    with pytest.raises(ValueError, match="image_resize"):
        visual_states(states, ids, image_token_id=7, layer=-1)
    assert visual_states(states, torch.tensor([[7, 7, 1, 1], [1, 7, 7, 1]]), 7, -1).shape == (2, 2, 3)


def llava_entry(**options):
    """The smoke config's tiny-llava entry with this test's size and `options`, loaded (checked)."""

    def edit(raw):
        raw["backbones"]["tiny-llava"].update(size=dict(SIZE), **options)

    return smoke_config(edit).backbones["tiny-llava"]


def test_loading_options_set_dtype(tmp_path):
    entry = llava_entry(dtype="bfloat16")
    model, processor = build_backbone("llava", entry.size, WORDS)
    model.save_pretrained(tmp_path / "llava")
    processor.save_pretrained(tmp_path / "llava")
    loaded, _ = load_backbone(tmp_path / "llava", entry)
    assert next(loaded.parameters()).dtype == torch.bfloat16
    with pytest.raises(ConfigError, match=r"backbones\.tiny-llava: dtype must be one of .*; got 'fp8'"):
        llava_entry(dtype="fp8")


@pytest.mark.parametrize("method", ["finetune", "mdgd"])
def test_gradient_checkpointing_gives_the_same_gradients(method):
    """A 7B cell recomputes activations in backward; MDGD's four retained-graph gradients must not change."""
    grads, forwards = [], []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model, processor = build_backbone("qwen2_vl", QWEN, WORDS)
        if checkpointing:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        model.train()
        names = trainable_names(model, "model.visual.merger", "model.language_model.layers", 1)
        ctx = TuneContext(names, model.config.image_token_id, representation_layer=-1)
        tuner = make_method(method)
        tuner.prepare(model, ctx)
        calls = []  # forward runs of the first LM layer (theta's and phi's), recomputations included
        model.model.language_model.layers[0].mlp.gate_proj.register_forward_hook(
            lambda *a, calls=calls: calls.append(1)
        )
        if method == "mdgd":  # move theta off phi, so h and L_v are not zero
            with torch.no_grad():
                for p in tuner.params:
                    p.add_(0.01 * torch.randn_like(p))
        data = encode(rows(), processor, CHAT, image_size=32)
        tuner.step(
            model,
            training_batch(data, np.arange(4), np.random.default_rng(0), processor.tokenizer.pad_token_id),
            ctx,
        )
        grads.append([p.grad.clone() for p in tuner.params])
        forwards.append(len(calls))
    for plain, recomputed in zip(*grads):
        assert torch.allclose(plain, recomputed, atol=1e-6, rtol=1e-5)
    assert any(g.abs().sum() > 0 for g in grads[1])
    # one forward per model without checkpointing; with it, each backward pass recomputes the layer
    # (fine-tuning: 1, MDGD: g and h of both models = 4), which is what reporting/cost.py counts
    assert forwards == ([2, 6] if method == "mdgd" else [1, 2])
