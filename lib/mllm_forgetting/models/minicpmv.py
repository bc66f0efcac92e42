"""MiniCPM-V-2 (openbmb/MiniCPM-V-2, remote code) driven as the pipeline drives transformers' image-text
models: processor(text=[prompt], images=[[image]]), then model(**inputs) and model.generate(**inputs).

Written against the published interface of the hub repository's modeling_minicpmv.py: the file of its
`main` revision (unchanged since 2024-05-28; mirrored on GitHub in HwwwwwwwH/MiniCPM-V-2 at commit
187851962, whose line numbers are given here). The repository has no processor class: the image
handling lives in the model.

- `get_slice_image_placeholder(image, tokenizer)` (l. 225-253) cuts an image into the whole image and a
  grid of slices and writes one `<image>` + query_num x `<unk>` + `</image>` span per slice;
  `transform` (l. 59-67) makes each slice a normalised (3, H, W) tensor. chat() writes a turn as
  `<用户>` + spans + "\\n" + question + `<AI>` (l. 316-342).
- `forward(data, **kwargs)` (l. 140-151): `get_vllm_embedding(data)` (l. 88-138) embeds
  `data["input_ids"]` and scatters the resampled features of `data["pixel_values"]` (per example, a list
  of slice tensors) over `data["image_bound"]` (per example, an (n, 2) tensor of [start, end) spans of
  the `<unk>` tokens); the LM runs on those embeddings at `data["position_ids"]`, with the keyword
  arguments, and returns transformers' CausalLMOutputWithPast (logits; hidden_states: the embeddings,
  then each layer's output, the last after the final norm).
- `generate(data_list=[prompt strings], img_list=...)` (l. 255-299) tokenizes the strings itself and
  returns decoded text; under it are get_vllm_embedding and `llm.generate(inputs_embeds=...,
  pad_token_id=0)` (l. 197-204), which returns only the new tokens.

`MiniCPMVInputs` builds `data` from the pipeline's batches (input_ids, attention_mask, pixel_values);
`MiniCPMVProcessor` writes prompts and image inputs with the model's own slicing and transform.
MiniCPM-V-2 pads with `<unk>`, the token its image spans are written with, so the ids the pipeline holds
mark image positions with IMAGE_MARK (the model's config.image_token_id, by which the pipeline finds
the image-token states); the adapter turns the marks back into `<unk>` and spans for the model.

tests/test_minicpmv.py checks all of this on a stand-in with the published signatures and data contract
(tests/minicpmv_standin.py), not on the real model. The repository's modeling_minicpm.py was written for
transformers 4.36 and does not import on 5.x (transformers.modeling_attn_mask_utils is gone), so it needs
porting before a GPU run can confirm the rest: its config and tokenizer classes, the SigLIP tower (timm)
and resampler giving one feature per `<unk>` of each span, cached generation, gradient checkpointing,
the scores. See docs/cluster.md.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase

# Not a vocabulary id: it marks image-token positions in the pipeline's ids (LLaVA's own code marks images
# with -200 the same way) and never reaches the model's embedding.
IMAGE_MARK = -200
# Where the image goes in a prompt (the tag later MiniCPM-V chat templates use); replaced by its spans.
IMAGE_TAG = "(<image>./</image>)"
USER, ASSISTANT = "<用户>", "<AI>"


def adapt_minicpmv(model, processor):
    """(model, processor) of a loaded MiniCPM-V-2 checkpoint, as the pipeline drives them. `processor` is
    what AutoProcessor gives for the repository: its tokenizer (it has no processor class)."""
    tokenizer = processor if isinstance(processor, PreTrainedTokenizerBase) else processor.tokenizer
    return MiniCPMVInputs(model, tokenizer.unk_token_id), MiniCPMVProcessor(model, tokenizer)


class MiniCPMVInputs(nn.Module):
    """The published MiniCPMV taking the pipeline's batches: forward and generate build its `data`."""

    def __init__(self, model: nn.Module, unk_id: int):
        super().__init__()
        if next(model.parameters(recurse=False), None) is not None:
            raise TypeError(f"{type(model).__name__} holds parameters outside its submodules")
        # its submodules under their own names: the config's module paths (resampler, llm.model.layers),
        # LoRA's target patterns and the state dict's keys stay the checkpoint's
        for name, module in model.named_children():
            self.add_module(name, module)
        object.__setattr__(self, "published", model)  # held, not registered: its modules are above
        self.config = model.config
        self.config.image_token_id = IMAGE_MARK
        self.unk_id = unk_id

    def train(self, mode: bool = True):
        super().train(mode)
        self.published.train(mode)  # its own flag too: get_vllm_embedding reads it
        return self

    def forward(self, input_ids, attention_mask=None, pixel_values=None, **kwargs):
        """The LM's output on the batch; kwargs (output_hidden_states, use_cache) go to the LM."""
        data = self._data(input_ids, pixel_values)
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        # left-padded prompts start counting at their first token, as the LM's generation does
        data["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
        return self.published(data=data, attention_mask=attention_mask, **kwargs)

    @torch.no_grad()
    def generate(self, input_ids, attention_mask=None, pixel_values=None, **kwargs):
        """Prompt + new tokens, as transformers' generate returns them: the published generate's two steps
        on the encoded batch, with its attention mask (which the published one leaves out)."""
        embeds, _ = self.published.get_vllm_embedding(self._data(input_ids, pixel_values))
        new = self.llm.generate(inputs_embeds=embeds, attention_mask=attention_mask, **kwargs)
        return torch.cat([input_ids, new.to(input_ids.device)], dim=1)

    def save_pretrained(self, *args, **kwargs):
        return self.published.save_pretrained(*args, **kwargs)

    def activation_checkpointing_enable(self, **kwargs):
        return self.published.activation_checkpointing_enable(**kwargs)

    def _data(self, input_ids, pixel_values) -> dict:
        is_image = input_ids == IMAGE_MARK
        bounds = image_bounds(is_image)
        for row, (spans, slices) in enumerate(zip(bounds, pixel_values)):
            if len(spans) != len(slices):  # e.g. a prompt cut inside its image
                raise ValueError(f"batch row {row}: {len(spans)} image spans for {len(slices)} image slices")
        return {
            "input_ids": input_ids.masked_fill(is_image, self.unk_id),
            "pixel_values": pixel_values,
            "image_bound": bounds,
        }


def image_bounds(is_image: torch.Tensor) -> list[torch.Tensor]:
    """Per row of a (batch, length) mask, the [start, end) positions of each run of image tokens."""
    edges = torch.diff(F.pad(is_image.long(), (1, 1)), dim=1)
    return [torch.stack([(e == 1).nonzero()[:, 0], (e == -1).nonzero()[:, 0]], dim=1) for e in edges]


class MiniCPMVProcessor:
    """The processor calls the pipeline makes, for MiniCPM-V-2: one prompt with one image per call, the
    image sliced, transformed and spelled out in the prompt as the published chat() does."""

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer
        self.image_start, self.image_end = tokenizer.convert_tokens_to_ids(
            [tokenizer.im_start, tokenizer.im_end]
        )

    def apply_chat_template(self, conversation, add_generation_prompt: bool = False, **kwargs) -> str:
        """chat()'s prompt: `<用户>` before a user's turn, `<AI>` before the assistant's, the image first."""
        prompt = ""
        for message in conversation:
            prompt += USER if message["role"] == "user" else ASSISTANT
            parts = message["content"]
            parts = [{"type": "text", "text": parts}] if isinstance(parts, str) else parts
            prompt += "".join(IMAGE_TAG + "\n" if p["type"] == "image" else p["text"] for p in parts)
        return prompt + (ASSISTANT if add_generation_prompt else "")

    def __call__(self, text: list[str], images: list[list], return_tensors: str = "pt", **kwargs) -> dict:
        """input_ids (image positions marked), attention_mask and pixel_values: a one-example list holding
        the list of the image's slice tensors, as the model's data["pixel_values"] has per example."""
        if len(text) != 1 or len(images) != 1 or len(images[0]) != 1:
            raise ValueError("the MiniCPM-V-2 processor takes one prompt with one image per call")
        prompt = text[0]
        if prompt.count(IMAGE_TAG) != 1:
            raise ValueError(f"a MiniCPM-V-2 prompt needs {IMAGE_TAG} once, where the image goes: {prompt!r}")
        slices, spans = self._slices(images[0][0])
        # what the published tokenization gives (_convert_to_tensors, l. 153-180): BOS, then the prompt
        ids = self.tokenizer(prompt.replace(IMAGE_TAG, spans), add_special_tokens=False)["input_ids"]
        ids = torch.tensor([self._mark_images([self.tokenizer.bos_token_id, *ids])])
        return {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "pixel_values": [self._pixels(slices)],
        }

    def image_processor(self, images: list[list], return_tensors: str = "pt") -> dict:
        """The image inputs alone (what encode recomputes per batch for a split too large to hold)."""
        ((image,),) = images
        return {"pixel_values": [self._pixels(self._slices(image)[0])]}

    def save_pretrained(self, path, **kwargs):
        """The tokenizer's files: the image handling is model code, which model.save_pretrained writes."""
        return self.tokenizer.save_pretrained(path, **kwargs)

    def _slices(self, image):
        """The image's slices (the whole image first) and their spans, as chat() makes them (l. 326-339)."""
        if self.model.config.slice_mode:
            return self.model.get_slice_image_placeholder(image, self.tokenizer)
        tok = self.tokenizer
        return [image], tok.im_start + tok.unk_token * self.model.config.query_num + tok.im_end

    def _pixels(self, slices) -> list[torch.Tensor]:
        return [self.model.transform(s) for s in slices]

    def _mark_images(self, ids: list[int]) -> list[int]:
        """IMAGE_MARK between each `<image>` and its `</image>`: the spans image_bound holds."""
        marked, inside = [], False
        for token in ids:
            inside = inside and token != self.image_end
            marked.append(IMAGE_MARK if inside else token)
            inside = inside or token == self.image_start
        return marked
