"""Tuning methods behind one registry (`METHODS`: config `type` -> config class and implementation).

Each module below registers its method when imported; adding a method is one module and its name here.
"""

from importlib import import_module

from .base import METHODS, Method, MethodConfig, StageStart, TuneContext, make_method, register

METHOD_MODULES = (
    "zero_shot",
    "finetune",
    "lora",
    "mdgd",
    "mdgd_gm",
    "model_tailor",
    "ewc",
    "lwf",
    "wise_ft",
    "replay",
    "moe_lora",
)

for _name in METHOD_MODULES:
    import_module(f"{__name__}.{_name}")

__all__ = [
    "METHODS",
    "METHOD_MODULES",
    "Method",
    "MethodConfig",
    "StageStart",
    "TuneContext",
    "make_method",
    "register",
]
