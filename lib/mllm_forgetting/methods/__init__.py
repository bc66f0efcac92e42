"""Tuning methods behind one registry: config `type` -> class. Options come from the config entry."""

from functools import partial

from .base import Method, TuneContext
from .finetune import FineTune
from .gradients import combine_gradients, gradient_mask
from .lora import LoRA
from .mdgd import MDGD
from .mdgd_gm import MDGDGradientMask
from .zero_shot import ZeroShot

METHODS = {
    "zero_shot": ZeroShot,
    "finetune": FineTune,
    "lora": LoRA,
    "mdgd": MDGD,
    "mdgd_no_align": partial(MDGD, align=False),
    "mdgd_gm": MDGDGradientMask,
}


def make_method(method_type: str, **options) -> Method:
    if method_type not in METHODS:
        raise ValueError(f"unknown method type {method_type!r}; valid: {sorted(METHODS)}")
    return METHODS[method_type](**options)


__all__ = ["METHODS", "Method", "TuneContext", "combine_gradients", "gradient_mask", "make_method"]
