"""zero_shot: the pre-trained backbone itself, evaluated without tuning (the tables' first row)."""

from .base import Method


class ZeroShot(Method):
    trains = False

    def prepare(self, model, ctx):
        return model

    def trainable_count(self):
        return None
