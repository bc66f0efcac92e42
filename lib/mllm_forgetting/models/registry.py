"""Built backbones by `architecture`: the size class of its config entry and the builder of the model.

An architecture name is the transformers model type of what its builder makes (config.json's
`model_type`). Adding one is a module with a builder and one line here; its size class says which
`size` keys the config may give and where each lands in config.json (`CHECKPOINT_FIELDS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .idefics2 import build_idefics2
from .llava import build_llava
from .qwen2_vl import build_qwen2_vl
from .size import NativeResolutionSize, ResamplerSize, VisionLanguageSize


@dataclass(frozen=True)
class Architecture:
    size: type  # the config's `size` class
    build: Callable  # (size, vocabulary words) -> (randomly initialised model, processor)


ARCHITECTURES = {
    "llava": Architecture(VisionLanguageSize, build_llava),
    "idefics2": Architecture(ResamplerSize, build_idefics2),
    "qwen2_vl": Architecture(NativeResolutionSize, build_qwen2_vl),
}


def build_backbone(architecture: str, size, words: list[str]):
    """(model, processor) of a built architecture; `size` is an instance of its size class."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown backbone architecture {architecture!r}; valid: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[architecture].build(size, words)
