"""The `size` of a built backbone: the widths and depths of a randomly initialised tiny model.

Each architecture has a size class; `CHECKPOINT_FIELDS` says where each key lands in the config.json of
the model its builder makes, so a saved checkpoint can be checked against its config entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config.typed import ConfigError, option


@dataclass(frozen=True, kw_only=True)
class VisionLanguageSize:
    """A vision tower and a decoder LM (both towers use `heads` attention heads)."""

    vision_hidden: int = option("width of the vision tower", min=1)
    vision_layers: int = option("layers of the vision tower", min=1)
    text_hidden: int = option("width of the language model", min=1)
    text_layers: int = option("layers of the language model", min=1)
    heads: int = option("attention heads of both towers", min=1)
    image_size: int = option("image side the vision tower sees, pixels", min=1)
    patch_size: int = option("vision patch side, pixels", min=1)
    max_positions: int = option("position embeddings of the language model", 128, min=1)

    CHECKPOINT_FIELDS: ClassVar[dict[str, str]] = {
        "vision_hidden": "vision_config.hidden_size",
        "vision_layers": "vision_config.num_hidden_layers",
        "image_size": "vision_config.image_size",
        "patch_size": "vision_config.patch_size",
        "text_hidden": "text_config.hidden_size",
        "text_layers": "text_config.num_hidden_layers",
        "heads": "text_config.num_attention_heads",
        "max_positions": "text_config.max_position_embeddings",
    }

    def __post_init__(self):
        for width in ("vision_hidden", "text_hidden"):
            if getattr(self, width) % self.heads:
                raise ConfigError(f"{width} {getattr(self, width)} is not divisible by heads {self.heads}")
        if self.image_size % self.patch_size:
            raise ConfigError(
                f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}"
            )


@dataclass(frozen=True, kw_only=True)
class ResamplerSize(VisionLanguageSize):
    """... plus a perceiver resampler between the towers (Idefics2, the MiniCPM-V analogue)."""

    resampler_latents: int = option("latents of the perceiver resampler = image tokens the LM sees", min=1)
    resampler_depth: int = option("layers of the perceiver resampler", 2, min=1)

    CHECKPOINT_FIELDS: ClassVar[dict[str, str]] = {
        **VisionLanguageSize.CHECKPOINT_FIELDS,
        "resampler_latents": "perceiver_config.resampler_n_latents",
        "resampler_depth": "perceiver_config.resampler_depth",
    }


@dataclass(frozen=True, kw_only=True)
class NativeResolutionSize(VisionLanguageSize):
    """Qwen2-VL: `image_size` squared is the processor's pixel budget (square images: a fixed token count)."""

    max_positions: int = option("position embeddings of the language model", 256, min=1)

    CHECKPOINT_FIELDS: ClassVar[dict[str, str]] = {  # image_size lives in the processor, not config.json
        "vision_hidden": "vision_config.embed_dim",
        "vision_layers": "vision_config.depth",
        "patch_size": "vision_config.patch_size",
        "text_hidden": "text_config.hidden_size",
        "text_layers": "text_config.num_hidden_layers",
        "heads": "text_config.num_attention_heads",
        "max_positions": "text_config.max_position_embeddings",
    }
