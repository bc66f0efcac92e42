"""A tiny stand-in for MiniCPM-V-2's published model and tokenizer, built here: the call signatures and the
data contract of the published classes, so tests drive models/minicpmv.py as it drives the real model.

It mirrors openbmb/MiniCPM-V-2's modeling_minicpmv.py (the hub's `main` revision, mirrored on GitHub in
HwwwwwwwH/MiniCPM-V-2 at commit 187851962; line numbers of that file):

- MiniCPMV.__init__ (l. 21-30): `llm` (a causal LM: `llm.model.embed_tokens`, `llm.model.layers`,
  `llm.config.scale_emb`, `llm.generate`), `vpm` (`pos_embed`, `patch_embed.patch_size`,
  `forward_features`, `num_prefix_tokens`), `resampler` (forward(x, tgt_size) -> (1, query_num, hidden):
  resampler.py l. 147-167) and `transform` (ToTensor + Normalize(0.5, 0.5), l. 59-67);
- get_vision_embedding (l. 75-86), get_vllm_embedding (l. 88-138: embeddings * scale_emb, the slices'
  features scattered in place over data["image_bound"]), forward(data, **kwargs) (l. 140-151: needs
  data["position_ids"], passes kwargs to the LM);
- _convert_to_tensors (l. 153-180), _process_list (l. 182-195: prompts padded on the left with 0, their
  spans not moved), _decode (l. 197-204: pad_token_id=0), _decode_text (l. 206-215),
  get_slice_image_placeholder (l. 225-253), generate(data_list, img_list, tokenizer, ...) (l. 255-299);
- LlamaTokenizerWrapper (l. 381-415): im_start/im_end/slice_start/slice_end, bos_id, eos_id, im_start_id,
  im_end_id; `<unk>` (id 0) is also the padding token (special_tokens_map.json).

What differs, on purpose, all behind the interface: the LM is transformers' LlamaForCausalLM (MiniCPM's
LM is a Llama that also scales its residuals and logits); the vision tower is a patch embedding (SigLIP
from timm in the real one); the resampler is one attention of learnt queries over the patches; an image
larger than the slice area is cut into a 2 x 1 or 1 x 2 grid after the whole image (slice_image,
l. 466-520, searches the best grid up to max_slice_nums); the tokenizer is word-level.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
from huggingface_hub.dataclasses import strict
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

SPECIALS = ["<unk>", "<s>", "</s>", "<image>", "</image>", "<slice>", "</slice>", "<用户>", "<AI>"]


@strict
class StandInConfig(LlamaConfig):
    """MiniCPMVConfig's fields the model and the adapter read (configuration_minicpm.py l. 198-230)."""

    model_type = "minicpmv"
    query_num: int = 4
    slice_mode: bool = True
    scale_resolution: int = 16  # the side of a slice, pixels
    patch_size: int = 8
    vision_dim: int = 16
    scale_emb: float = 12.0


class StandInTokenizer(PreTrainedTokenizerFast):
    """LlamaTokenizerWrapper's names on a word-level tokenizer."""

    im_start, im_end, slice_start, slice_end = "<image>", "</image>", "<slice>", "</slice>"

    @property
    def bos_id(self):
        return self.bos_token_id

    @property
    def eos_id(self):
        return self.eos_token_id

    @property
    def im_start_id(self):
        return self.convert_tokens_to_ids(self.im_start)

    @property
    def im_end_id(self):
        return self.convert_tokens_to_ids(self.im_end)


def build_tokenizer(words: list[str]) -> StandInTokenizer:
    vocab = {token: i for i, token in enumerate(SPECIALS + sorted(set(words)))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return StandInTokenizer(
        tokenizer_object=core,
        unk_token="<unk>",
        pad_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        additional_special_tokens=SPECIALS[3:],
    )


class VisionTower(nn.Module):
    def __init__(self, config: StandInConfig):
        super().__init__()
        self.embed_dim, self.num_prefix_tokens = config.vision_dim, 0
        self.patch_embed = nn.Conv2d(3, config.vision_dim, config.patch_size, stride=config.patch_size)
        self.patch_embed.patch_size = (config.patch_size, config.patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, 1, config.vision_dim))

    def forward_features(self, x):
        return self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed


class Resampler(nn.Module):
    def __init__(self, config: StandInConfig):
        super().__init__()
        self.query = nn.Parameter(0.02 * torch.randn(config.query_num, config.hidden_size))
        self.kv_proj = nn.Linear(config.vision_dim, config.hidden_size, bias=False)
        self.attn = nn.MultiheadAttention(config.hidden_size, config.num_attention_heads, batch_first=True)

    def forward(self, x, tgt_size=None, attn_mask=None):
        kv = self.kv_proj(x)
        return self.attn(self.query.expand(len(x), -1, -1), kv, kv)[0]


class StandInMiniCPMV(PreTrainedModel):
    config_class = StandInConfig
    supports_gradient_checkpointing = True

    def __init__(self, config: StandInConfig):
        super().__init__(config)
        self.llm = LlamaForCausalLM(config)
        self.vpm = VisionTower(config)
        self.resampler = Resampler(config)
        self.post_init()

    @staticmethod
    def transform(image) -> torch.Tensor:
        return (torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1) - 0.5) / 0.5

    def get_vision_embedding(self, pixel_values):
        dtype, patch = self.vpm.pos_embed.dtype, self.vpm.patch_embed.patch_size[0]
        res = []
        for pixels in pixel_values:
            tgt_size = (math.ceil(pixels.shape[-2] / patch), math.ceil(pixels.shape[-1] / patch))
            features = self.vpm.forward_features(pixels.unsqueeze(0).type(dtype))[
                :, self.vpm.num_prefix_tokens :
            ]
            res.append(self.resampler(features, tgt_size))
        return torch.vstack(res)

    def get_vllm_embedding(self, data):
        if "vision_hidden_states" in data:
            states = data["vision_hidden_states"]
        else:
            states = [self.get_vision_embedding(p) if len(p) else [] for p in data["pixel_values"]]
        embeds = self.llm.model.embed_tokens(data["input_ids"]) * self.llm.config.scale_emb
        for row, bounds in enumerate(data["image_bound"]):
            if len(states[row]) and len(bounds):
                index = torch.cat([torch.arange(start, end) for start, end in bounds.tolist()])
                index = index.to(embeds.device).view(-1, 1).repeat(1, embeds.shape[-1])
                embeds[row].scatter_(0, index, states[row].type(embeds.dtype).view(-1, embeds.shape[-1]))
        return embeds, states

    def forward(self, data, **kwargs):
        embeds, _ = self.get_vllm_embedding(data)
        position_ids = data["position_ids"].long()
        return self.llm(input_ids=None, position_ids=position_ids, inputs_embeds=embeds, **kwargs)

    def _convert_to_tensors(self, tokenizer, input_str, max_inp_length=None):
        ids = (
            tokenizer.encode(input_str)
            if tokenizer.add_bos_token
            else [tokenizer.bos_id] + tokenizer.encode(input_str)
        )
        ids = torch.tensor(ids[:max_inp_length], dtype=torch.int32)
        starts = torch.where(ids == tokenizer.im_start_id)[0] + 1
        ends = torch.where(ids == tokenizer.im_end_id)[0]
        return {
            "input_ids": ids.unsqueeze(0).to(self.device),
            "image_bound": torch.stack([starts, ends], dim=1),
        }

    def _process_list(self, tokenizer, data_list, max_inp_length=None):
        inputs = [self._convert_to_tensors(tokenizer, text, max_inp_length) for text in data_list]
        width = max(i["input_ids"].shape[1] for i in inputs)
        ids = torch.zeros(len(inputs), width, dtype=torch.int32)
        for row, i in enumerate(inputs):
            ids[row, width - i["input_ids"].shape[1] :] = i["input_ids"][0]
        return {"input_ids": ids.to(self.device), "image_bound": [i["image_bound"] for i in inputs]}

    def _decode(self, inputs_embeds, tokenizer, **kwargs):
        output = self.llm.generate(
            inputs_embeds=inputs_embeds, pad_token_id=0, eos_token_id=tokenizer.eos_token_id, **kwargs
        )
        return self._decode_text(output, tokenizer)

    def _decode_text(self, result_ids, tokenizer):
        texts = []
        for result in result_ids:
            result = result[result != 0]
            result = result[1:] if result[0] == tokenizer.bos_id else result
            result = result[:-1] if result[-1] == tokenizer.eos_id else result
            texts.append(tokenizer.decode(result).strip())
        return texts

    def get_slice_image_placeholder(self, image, tokenizer):
        side = self.config.scale_resolution
        span = tokenizer.im_start + tokenizer.unk_token * self.config.query_num + tokenizer.im_end
        if image.width * image.height <= side * side:
            return [image.resize((side, side))], span
        cols, rows = (2, 1) if image.width >= image.height else (1, 2)
        grid = image.resize((side * cols, side * rows))
        boxes = [
            (c * side, r * side, (c + 1) * side, (r + 1) * side) for r in range(rows) for c in range(cols)
        ]
        grid_spans = "\n".join(span * cols for _ in range(rows))
        slices = [image.resize((side, side))] + [grid.crop(box) for box in boxes]
        return slices, span + tokenizer.slice_start + grid_spans + tokenizer.slice_end

    def generate(
        self,
        data_list=None,
        img_list=None,
        tokenizer=None,
        max_inp_length=None,
        vision_hidden_states=None,
        return_vision_hidden_states=False,
        **kwargs,
    ):
        inputs = self._process_list(tokenizer, data_list, max_inp_length)
        if vision_hidden_states is None:
            inputs["pixel_values"] = [
                [self.transform(i).to(self.device) for i in images] for images in img_list
            ]
        else:
            inputs["vision_hidden_states"] = vision_hidden_states
        with torch.inference_mode():
            embeds, vision_hidden_states = self.get_vllm_embedding(inputs)
            result = self._decode(embeds, tokenizer, **kwargs)
        return (result, vision_hidden_states) if return_vision_hidden_states else result


def build_standin(words: list[str], seed: int = 0) -> tuple[StandInMiniCPMV, StandInTokenizer]:
    """The stand-in model and its tokenizer: what AutoModel and AutoProcessor give for the repository."""
    tokenizer = build_tokenizer(words)
    config = StandInConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=128,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        initializer_range=0.5,  # wide enough that answers depend on the image, the prompt and its padding
    )
    torch.manual_seed(seed)
    return StandInMiniCPMV(config), tokenizer
