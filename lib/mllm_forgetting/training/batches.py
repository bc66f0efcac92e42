"""Turn common-schema rows into model inputs once, then cut them into batches cheaply.

Prompts go through the backbone's own processor (which expands the image token and preprocesses
pixels), one example at a time so every image layout works: batch-first pixels (LLaVA, Idefics2),
patches concatenated over the batch with a grid per image (Qwen2-VL) and lists with one entry per
example (MiniCPM-V-2's slices of each image, models/minicpmv.py). Answers are tokenized
separately, so training batches are prompt + answer + EOS with the loss on the answer only, and
generation batches are the left-padded prompts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from ..prompts import PromptTemplate

TEXT_KEYS = ("input_ids", "attention_mask")
# Image tensors of a large split are recomputed per batch instead of held in memory past this size.
MAX_CACHED_IMAGE_BYTES = 2 * 1024**3


@dataclass
class Encoded:
    """One or more splits, encoded: ragged token lists plus per-example image tensors."""

    prompt_ids: list[list[int]]
    answer_ids: list[list[list[int]]]  # per example, one token list per reference answer
    images: list  # per example: {name: tensor or list} from the processor, or a callable computing it
    ids: list[str]
    answers: list[list[str]]
    tasks: list[str]
    # per-token inputs besides the ids (e.g. Qwen2-VL's mm_token_type_ids), aligned with prompt_ids
    token_extras: dict[str, list[list[int]]] | None = None

    def __len__(self) -> int:
        return len(self.prompt_ids)

    def image_batch(self, index) -> dict:
        """The image inputs of `index`, concatenated along the first axis as the processor would (lists:
        one after the other)."""
        parts = [self.images[i] for i in index]
        parts = [p() if callable(p) else p for p in parts]
        return {k: _concat([p[k] for p in parts]) for k in parts[0]}

    @staticmethod
    def concat(parts: list[Encoded]) -> Encoded:
        extras = parts[0].token_extras
        return Encoded(
            prompt_ids=[x for p in parts for x in p.prompt_ids],
            answer_ids=[x for p in parts for x in p.answer_ids],
            images=[x for p in parts for x in p.images],
            ids=[x for p in parts for x in p.ids],
            answers=[x for p in parts for x in p.answers],
            tasks=[x for p in parts for x in p.tasks],
            token_extras={k: [x for p in parts for x in p.token_extras[k]] for k in extras}
            if extras
            else None,
        )


def encode(
    rows,
    processor,
    prompt: PromptTemplate,
    image_size: int | None = None,
    max_cached_bytes: int = MAX_CACHED_IMAGE_BYTES,
) -> Encoded:
    """Encode a datasets.Dataset in the common schema, each row written out by the backbone's prompt template.

    `image_size` resizes every image to a square first: backbones that keep the native resolution
    (Qwen2-VL) then give every image the same number of image tokens, which the visual-state
    losses and effective ranks compare position by position.
    """
    tokenizer = processor.tokenizer
    prompt_ids, images, extras = [], [], {}
    cache = True
    for i in range(len(rows)):
        row = rows[i]
        text = prompt.prompt(row, processor)
        enc = processor(text=[text], images=[[_rgb(row["image"], image_size)]], return_tensors="pt")
        ids = enc["input_ids"][0]
        prompt_ids.append(ids.tolist())
        for key, value in enc.items():
            if key not in TEXT_KEYS and _is_tensor(value) and value.shape == enc["input_ids"].shape:
                extras.setdefault(key, []).append(value[0].tolist())
        pixels = {k: v for k, v in enc.items() if k not in TEXT_KEYS and k not in extras}
        if i == 0:  # one example's size decides whether the split's images fit in memory
            cache = len(rows) * sum(map(_nbytes, pixels.values())) <= max_cached_bytes
        images.append(pixels if cache else functools.partial(_image_inputs, processor, rows, i, image_size))
    answers = list(rows["answers"])
    answer_ids = [
        [tokenizer(a, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for a in refs]
        for refs in answers
    ]
    return Encoded(
        prompt_ids, answer_ids, images, list(rows["id"]), answers, list(rows["task"]), extras or None
    )


def _is_tensor(value) -> bool:
    return isinstance(value, torch.Tensor)


def _concat(values: list):
    return torch.cat(values) if _is_tensor(values[0]) else [x for v in values for x in v]


def _nbytes(value) -> int:
    return value.element_size() * value.numel() if _is_tensor(value) else sum(map(_nbytes, value))


def _rgb(image, size: int | None):
    image = image.convert("RGB")
    return image if size is None else image.resize((size, size))


def _image_inputs(processor, rows, i: int, image_size: int | None) -> dict[str, torch.Tensor]:
    return dict(processor.image_processor(images=[[_rgb(rows[i]["image"], image_size)]], return_tensors="pt"))


def _pad(seqs: list[list[int]], value: int, left: bool = False) -> torch.Tensor:
    width = max(map(len, seqs))
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    for row, s in enumerate(seqs):
        if not s:
            continue
        if left:
            out[row, width - len(s) :] = torch.tensor(s)
        else:
            out[row, : len(s)] = torch.tensor(s)
    return out


def training_batch(enc: Encoded, index: np.ndarray, rng: np.random.Generator, pad_id: int) -> dict:
    """Right-padded prompt+answer sequences; labels are -100 except on answer tokens (Eq. 2)."""
    seqs, labels, answers = [], [], []
    for i in index:
        refs = enc.answer_ids[i]
        answer = refs[rng.integers(len(refs))] if len(refs) > 1 else refs[0]
        answers.append(answer)
        seqs.append(enc.prompt_ids[i] + answer)
        labels.append([-100] * len(enc.prompt_ids[i]) + answer)
    batch = {
        "input_ids": _pad(seqs, pad_id),
        "attention_mask": _pad([[1] * len(s) for s in seqs], 0),
        "labels": _pad(labels, -100),
    }
    for key, values in (enc.token_extras or {}).items():  # answer tokens are text: 0
        batch[key] = _pad([values[i] + [0] * len(a) for i, a in zip(index, answers)], 0)
    batch.update(enc.image_batch(index))
    return batch


def prompt_batch(enc: Encoded, index, pad_id: int) -> dict:
    """Left-padded prompts, so generation continues every row from its last position."""
    seqs = [enc.prompt_ids[i] for i in index]
    batch = {
        "input_ids": _pad(seqs, pad_id, left=True),
        "attention_mask": _pad([[1] * len(s) for s in seqs], 0, left=True),
    }
    for key, values in (enc.token_extras or {}).items():
        batch[key] = _pad([values[i] for i in index], 0, left=True)
    batch.update(enc.image_batch(list(index)))
    return batch


def to_device(batch: dict, device) -> dict:
    return {k: _to(v, device) for k, v in batch.items()}


def _to(value, device):
    return value.to(device) if _is_tensor(value) else [_to(v, device) for v in value]
