"""finetune: gradient descent on the connector and the last LM layers (the paper's standard fine-tuning)."""

from dataclasses import dataclass

from ..models.parts import select_trainable
from .base import Method, MethodConfig, register


@dataclass(frozen=True, kw_only=True)
class FineTuneConfig(MethodConfig):
    """No options of its own: the backbone entry's connector and trainable_last_layers say what is tuned."""


@register("finetune", FineTuneConfig)
class FineTune(Method):
    def prepare(self, model, ctx):
        self.params = select_trainable(model, ctx.trainable_names)
        return model
