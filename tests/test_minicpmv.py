"""MiniCPM-V-2 through its input adapter (models/minicpmv.py), on the stand-in of tests/minicpmv_standin.py:
the published model's call signatures and data contract, tiny and random. What only the real checkpoint
on a GPU can show is in docs/cluster.md."""

import json
from types import SimpleNamespace

import datasets
import numpy as np
import pytest
import torch
from conftest import check_mdgd_first_step, smoke_config
from minicpmv_standin import StandInMiniCPMV, StandInTokenizer, build_standin
from mllm_forgetting.data.benchmark import FEATURES
from mllm_forgetting.evaluation import predict, representations
from mllm_forgetting.methods import TuneContext, make_method
from mllm_forgetting.models import loading
from mllm_forgetting.models.minicpmv import (
    IMAGE_MARK,
    IMAGE_TAG,
    MiniCPMVInputs,
    MiniCPMVProcessor,
    adapt_minicpmv,
)
from mllm_forgetting.models.parts import trainable_names
from mllm_forgetting.prompts import PromptTemplate, TaskPrompt
from mllm_forgetting.training.batches import encode, prompt_batch, training_batch
from mllm_forgetting.training.forward import forward_vl
from PIL import Image

WORDS = "what color is the circle of this shape red blue green".split()
CHAT = PromptTemplate(turn="chat", tasks={"open": TaskPrompt(text="{question}")})
QUESTIONS = ["what color is the circle", "what color", "what color is this shape", "what is the shape"]
# a 16x16 image is one slice of the stand-in; a 32x16 or 16x32 one the whole image and a grid of 2
SLICES = {(16, 16): 1, (32, 16): 3, (16, 32): 3}
MIXED = ((16, 16), (32, 16), (16, 32), (32, 16))
QUERIES, HIDDEN = 4, 32  # image tokens per slice, the LM's width


def rows(sizes=((32, 16),) * 4):
    rng = np.random.default_rng(0)
    cols = {
        "id": [str(i) for i in range(len(sizes))],
        "image": [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in sizes],
        "question": QUESTIONS[: len(sizes)],
        "context": [""] * len(sizes),
        "options": [[]] * len(sizes),
        "answers": [["red"], ["blue", "green"]] * (len(sizes) // 2),
        "task": ["vqa"] * len(sizes),
        "kind": ["open"] * len(sizes),
    }
    return datasets.Dataset.from_dict(cols, features=FEATURES)


def adapted(seed=0):
    """The adapted stand-in; the processor it starts from is the tokenizer, as AutoProcessor gives for the
    repository (it has no processor class)."""
    return adapt_minicpmv(*build_standin(WORDS, seed))


def batch_of(processor, sizes=((32, 16),) * 4):
    enc = encode(rows(sizes), processor, CHAT)
    return enc, training_batch(
        enc, np.arange(len(enc)), np.random.default_rng(0), processor.tokenizer.pad_token_id
    )


def published_prompt(model, tokenizer, row):
    """The published chat()'s prompt of a row (modeling_minicpmv.py l. 316-342) and the image's slices."""
    slices, spans = model.published.get_slice_image_placeholder(row["image"].convert("RGB"), tokenizer)
    return f"<用户>{spans}\n{row['question']}<AI>", slices


def inputs(batch):
    return {k: v for k, v in batch.items() if k != "labels"}


def test_prompts_and_image_inputs_are_the_published_chats():
    model, processor = adapted()
    tokenizer, data = processor.tokenizer, rows()
    assert CHAT.prompt(data[0], processor) == f"<用户>{IMAGE_TAG}\nwhat color is the circle<AI>"
    enc = encode(data, processor, CHAT)
    text, slices = published_prompt(model, tokenizer, data[0])
    published = model.published._convert_to_tensors(tokenizer, text)
    ids = published["input_ids"][0].long()
    for start, end in published["image_bound"].tolist():
        ids[start:end] = IMAGE_MARK  # the pipeline's ids mark the image positions
    assert enc.prompt_ids[0] == ids.tolist() and ids.eq(IMAGE_MARK).sum() == 3 * QUERIES
    (pixels,) = enc.images[0]["pixel_values"]
    assert len(pixels) == 3 and all(
        torch.equal(p, model.published.transform(s)) for p, s in zip(pixels, slices)
    )
    lazy = encode(
        data, processor, CHAT, max_cached_bytes=0
    )  # a split too large to hold: recomputed per batch
    assert callable(lazy.images[0])
    for a, b in zip(lazy.image_batch([0, 1])["pixel_values"], enc.image_batch([0, 1])["pixel_values"]):
        assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_malformed_inputs_are_refused():
    model, processor = adapted()
    image = rows()[0]["image"]
    with pytest.raises(ValueError, match="needs"):
        processor(text=["<用户>what color<AI>"], images=[[image]])
    with pytest.raises(ValueError, match="one prompt with one image"):
        processor(text=[IMAGE_TAG] * 2, images=[[image], [image]])
    enc = processor(text=[f"{IMAGE_TAG}what"], images=[[image]])
    with pytest.raises(ValueError, match="3 image spans for 1 image slices"):
        model(enc["input_ids"], enc["attention_mask"], [enc["pixel_values"][0][:1]])


def test_a_training_batch_gives_a_finite_loss_whose_gradient_reaches_the_tuned_tensors():
    model, processor = adapted()
    _, batch = batch_of(processor, MIXED)
    assert [len(p) for p in batch["pixel_values"]] == [SLICES[s] for s in MIXED]
    names = trainable_names(model, "resampler", "llm.model.layers", 1)
    ctx = TuneContext(names, model.config.image_token_id, representation_layer=-1)
    method = make_method("finetune")
    method.prepare(model, ctx)
    logs = method.step(model, batch, ctx)
    assert torch.isfinite(logs["loss"])
    tuned = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert set(tuned) == set(names) and all(torch.isfinite(g).all() for g in tuned.values())
    # the resampler's features reach the LM only through the image spans: its gradient says they were placed
    assert all(float(tuned[f"resampler.{n}"].abs().sum()) > 0 for n in ("query", "kv_proj.weight"))
    assert model.vpm.patch_embed.weight.grad is None


def test_image_token_states_are_the_published_models_at_its_image_spans():
    model, processor = adapted()
    tokenizer = processor.tokenizer
    enc, batch = batch_of(processor)  # questions of different lengths: padded with <unk>, as image spans are
    assert tokenizer.pad_token_id == tokenizer.unk_token_id and (batch["attention_mask"] == 0).any()
    _, visual = forward_vl(model, batch, model.config.image_token_id, layer=-1)
    assert visual.shape == (4, 3 * QUERIES, HIDDEN)
    _, embedded = forward_vl(model, batch, model.config.image_token_id, layer=0)  # the embeddings
    out, last = model(**inputs(batch), use_cache=False), torch.zeros(4, HIDDEN)
    for row in range(4):
        slices = batch["pixel_values"][row]
        assert torch.allclose(embedded[row], model.published.get_vision_embedding(slices).view(-1, HIDDEN))
        # the example alone through the published forward, as OpenBMB's finetune calls it: the same logits
        n = int(batch["attention_mask"][row].sum())
        ids = batch["input_ids"][row, :n]
        text, _ = published_prompt(model, tokenizer, rows()[row])
        data = {
            "input_ids": ids.masked_fill(ids == IMAGE_MARK, tokenizer.unk_token_id)[None],
            "pixel_values": [slices],
            "image_bound": [model.published._convert_to_tensors(tokenizer, text)["image_bound"]],
            "position_ids": torch.arange(n)[None],
        }
        alone = model.published(data=data, use_cache=False).logits[0]
        assert torch.allclose(out.logits[row, :n], alone, atol=1e-5)
        # its prompt's last state is z^vl, which representations() reads from prompts padded on the left
        prompt = len(enc.prompt_ids[row])
        data = {k: v[:, :prompt] if k in ("input_ids", "position_ids") else v for k, v in data.items()}
        last[row] = model.published(data=data, output_hidden_states=True).hidden_states[-1][0, -1]
    pad = tokenizer.pad_token_id
    visual, multimodal = representations(
        model,
        enc,
        image_token_id=model.config.image_token_id,
        layer=-1,
        batch_size=3,
        pad_id=pad,
        device="cpu",
    )
    assert visual.shape == (4, 3 * QUERIES, HIDDEN) and torch.allclose(multimodal, last, atol=1e-5)


def test_greedy_answers_are_the_published_generates(monkeypatch):
    model, processor = adapted()
    tokenizer, data = processor.tokenizer, rows(MIXED)
    enc = encode(data, processor, CHAT)
    answers = predict(model, tokenizer, enc, batch_size=4, max_new_tokens=5, device="cpu")
    assert len(answers) == 4 and all(isinstance(a, str) for a in answers)
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    batch = prompt_batch(enc, range(4), pad)  # prompts of different lengths, padded on the left
    ours = model.generate(**batch, max_new_tokens=5, do_sample=False, pad_token_id=pad, eos_token_id=eos)
    ours = ours[:, batch["input_ids"].shape[1] :]
    monkeypatch.setattr(model.published, "_decode_text", lambda ids, tokenizer: ids)  # its tokens, undecoded
    for row in range(4):  # one prompt at a time, as chat() calls it
        text, slices = published_prompt(model, tokenizer, data[row])
        (theirs,) = model.published.generate(
            data_list=[text], img_list=[slices], tokenizer=tokenizer, max_new_tokens=5, do_sample=False
        )
        assert ours[row, : len(theirs)].tolist() == theirs.tolist()
        assert bool((ours[row, len(theirs) :] == pad).all())  # padding once its answer ended


def minicpm_entry():
    """A hub backbone entry of MiniCPM-V-2, whose modeling code is remote."""

    def edit(raw):
        entry = dict(raw["backbones"]["tiny-llava"], hub_id="openbmb/MiniCPM-V-2", trust_remote_code=True)
        for key in ("architecture", "size", "pretrain"):
            del entry[key]
        raw["backbones"]["minicpm"] = entry

    return smoke_config(edit).backbones["minicpm"]


def test_a_minicpmv_checkpoint_loads_through_its_adapter_and_saves_back(tmp_path, monkeypatch):
    published, tokenizer = build_standin(WORDS)
    published.save_pretrained(tmp_path / "phi")
    tokenizer.save_pretrained(tmp_path / "phi")
    assert json.loads((tmp_path / "phi" / "config.json").read_text())["model_type"] == "minicpmv"
    # the stand-in in place of the repository's remote code; AutoProcessor gives its tokenizer
    model_class = SimpleNamespace(
        from_pretrained=lambda p, **kw: StandInMiniCPMV.from_pretrained(p, dtype=kw["dtype"])
    )
    monkeypatch.setattr(loading, "AutoModel", model_class)
    monkeypatch.setattr(
        loading,
        "AutoProcessor",
        SimpleNamespace(from_pretrained=lambda p, **kw: StandInTokenizer.from_pretrained(p)),
    )
    model, processor = loading.load_backbone(tmp_path / "phi", minicpm_entry())
    assert isinstance(model, MiniCPMVInputs) and isinstance(processor, MiniCPMVProcessor)
    _, batch = batch_of(processor)
    reference = adapt_minicpmv(published, tokenizer)[0]
    assert torch.allclose(model(**inputs(batch)).logits, reference(**inputs(batch)).logits)
    with torch.no_grad():  # a tuned model (the train step's model/) saves and loads back the same way
        model.resampler.query.add_(1.0)
    model.save_pretrained(tmp_path / "tuned")
    processor.save_pretrained(tmp_path / "tuned")
    tuned, _ = loading.load_backbone(tmp_path / "tuned", minicpm_entry())
    assert torch.allclose(tuned(**inputs(batch)).logits, model(**inputs(batch)).logits)


def test_mdgd_and_gradient_checkpointing_through_the_adapter():
    grads = []
    for checkpointing in (False, True):
        model, processor = adapted()
        if checkpointing:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        model.train()
        _, batch = batch_of(processor)
        ctx = TuneContext(trainable_names(model, "resampler", "llm.model.layers", 1), IMAGE_MARK, -1)
        grads.append(check_mdgd_first_step(model, ctx, batch))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))  # recomputing changes nothing


def test_lora_adapters_train_save_and_merge_through_the_adapter(tmp_path):
    from peft import PeftModel

    model, processor = adapted()
    _, batch = batch_of(processor)
    ctx = TuneContext([], IMAGE_MARK, -1, lora_target_modules=r".*llm.*\.(q_proj|k_proj)")  # the paper's
    lora = make_method("lora")
    model = lora.prepare(model, ctx)
    assert lora.params and all(
        "llm.model.layers" in n for n, p in model.named_parameters() if p.requires_grad
    )
    lora.step(model, batch, ctx)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in lora.params)
    with torch.no_grad():
        for p in lora.params:
            p.add_(0.1)  # B starts at zero: move it, so the merge changes the model
    lora.export(model).save_pretrained(tmp_path)
    merged = PeftModel.from_pretrained(adapted()[0], tmp_path).merge_and_unload()
    assert isinstance(merged, MiniCPMVInputs)
    with torch.no_grad():
        # merging W + BA into one matrix reorders float32 sums: logits of magnitude ~5 agree to ~1e-4
        torch.testing.assert_close(
            merged(**inputs(batch)).logits, model(**inputs(batch)).logits, rtol=1e-4, atol=2e-4
        )


def test_remote_code_that_does_not_import_says_where_to_read_why(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "minicpmv"}))

    def written_for_transformers_4(path, **kwargs):  # what MiniCPM-V-2's modeling_minicpm.py meets on 5.x
        raise ModuleNotFoundError("No module named 'transformers.modeling_attn_mask_utils'")

    monkeypatch.setattr(loading, "AutoModel", SimpleNamespace(from_pretrained=written_for_transformers_4))
    with pytest.raises(ImportError, match=r"does not import here \(No module .*\); see docs/cluster.md"):
        loading.load_backbone(tmp_path, minicpm_entry())
