"""zero_shot: the pre-trained backbone itself, evaluated without tuning (the tables' first row)."""

from dataclasses import dataclass

from .base import Method, MethodConfig, register


@dataclass(frozen=True, kw_only=True)
class ZeroShotConfig(MethodConfig):
    """No options: the pre-trained model phi."""


@register("zero_shot", ZeroShotConfig)
class ZeroShot(Method):
    trains = False
    cost = None

    def prepare(self, model, ctx):
        return model

    def trainable_count(self):
        return None
