from .parts import select_trainable, trainable_names
from .registry import (
    BUILDERS,
    build_backbone,
    check_checkpoint,
    image_token_id,
    load_backbone,
    loading_options,
)

__all__ = [
    "BUILDERS",
    "build_backbone",
    "check_checkpoint",
    "image_token_id",
    "load_backbone",
    "loading_options",
    "select_trainable",
    "trainable_names",
]
