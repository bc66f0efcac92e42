from .registry import BUILDERS, build_backbone, check_checkpoint, image_token_id, load_backbone, loading_options
from .parts import select_trainable, trainable_names

__all__ = ["BUILDERS", "build_backbone", "check_checkpoint", "image_token_id", "load_backbone", "loading_options",
           "select_trainable", "trainable_names"]
