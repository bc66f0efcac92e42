"""finetune: full gradient descent on the connector and the last LM layers (the paper's standard fine-tuning)."""

from ..models.parts import select_trainable
from .base import Method


class FineTune(Method):
    def prepare(self, model, ctx):
        self.params = select_trainable(model, ctx.trainable_names)
        return model
