"""Turn common-schema rows into model inputs once, then cut them into batches cheaply.

Prompts go through the backbone's own processor (which expands the image token and preprocesses
pixels); answers are tokenized separately, so training batches are prompt + answer + EOS with the
loss on the answer only, and generation batches are the left-padded prompts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

PIXEL_KEYS = ("pixel_values", "pixel_attention_mask")


@dataclass
class Encoded:
    """One or more splits, encoded: ragged token lists plus stacked pixel tensors."""
    prompt_ids: list[list[int]]
    answer_ids: list[list[list[int]]]  # per example, one token list per reference answer
    pixels: dict[str, torch.Tensor]
    ids: list[str]
    answers: list[list[str]]
    tasks: list[str]

    def __len__(self) -> int:
        return len(self.prompt_ids)

    @staticmethod
    def concat(parts: list["Encoded"]) -> "Encoded":
        return Encoded(
            prompt_ids=[x for p in parts for x in p.prompt_ids],
            answer_ids=[x for p in parts for x in p.answer_ids],
            pixels={k: torch.cat([p.pixels[k] for p in parts]) for k in parts[0].pixels},
            ids=[x for p in parts for x in p.ids],
            answers=[x for p in parts for x in p.answers],
            tasks=[x for p in parts for x in p.tasks],
        )


def encode(rows, processor, prompt_template: str, chunk: int = 512) -> Encoded:
    """Encode a datasets.Dataset in the common schema (image, question, answers, task, ...)."""
    tokenizer = processor.tokenizer
    prompt_ids, pixel_parts = [], {k: [] for k in PIXEL_KEYS}
    nested = _wants_nested_images(processor)
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        images = [img.convert("RGB") for img in part["image"]]
        prompts = [prompt_template.format(question=q) for q in part["question"]]
        enc = processor(text=prompts, images=[[im] for im in images] if nested else images, return_tensors="pt",
                        padding=True)
        for ids, mask in zip(enc["input_ids"], enc["attention_mask"]):
            prompt_ids.append(ids[mask.bool()].tolist())
        for k in PIXEL_KEYS:
            if k in enc:
                pixel_parts[k].append(enc[k])
    answers = list(rows["answers"])
    answer_ids = [[tokenizer(a, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for a in refs]
                  for refs in answers]
    return Encoded(prompt_ids, answer_ids, {k: torch.cat(v) for k, v in pixel_parts.items() if v},
                   list(rows["id"]), answers, list(rows["task"]))


def _wants_nested_images(processor) -> bool:
    # Idefics-style processors take one list of images per prompt; LLaVA-style take a flat list.
    return "Idefics" in type(processor).__name__


def training_batch(enc: Encoded, index: np.ndarray, rng: np.random.Generator, pad_id: int) -> dict:
    """Right-padded prompt+answer sequences; labels are -100 except on answer tokens (Eq. 2)."""
    seqs, labels = [], []
    for i in index:
        refs = enc.answer_ids[i]
        answer = refs[rng.integers(len(refs))] if len(refs) > 1 else refs[0]
        seqs.append(enc.prompt_ids[i] + answer)
        labels.append([-100] * len(enc.prompt_ids[i]) + answer)
    width = max(map(len, seqs))
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    label_t = torch.full((len(seqs), width), -100, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, (s, l) in enumerate(zip(seqs, labels)):
        input_ids[row, :len(s)] = torch.tensor(s)
        label_t[row, :len(l)] = torch.tensor(l)
        mask[row, :len(s)] = 1
    batch = {"input_ids": input_ids, "attention_mask": mask, "labels": label_t}
    batch.update({k: v[index] for k, v in enc.pixels.items()})
    return batch


def prompt_batch(enc: Encoded, index, pad_id: int) -> dict:
    """Left-padded prompts, so generation continues every row from its last position."""
    seqs = [enc.prompt_ids[i] for i in index]
    width = max(map(len, seqs))
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        input_ids[row, width - len(s):] = torch.tensor(s)
        mask[row, width - len(s):] = 1
    batch = {"input_ids": input_ids, "attention_mask": mask}
    batch.update({k: v[list(index)] for k, v in enc.pixels.items()})
    return batch


def to_device(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}
