"""What every tuning method provides: which parameters it trains and how one step sets their gradients."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch.nn as nn

from ..training.forward import forward_vl


@dataclass(frozen=True)
class TuneContext:
    """Facts about the backbone a method needs, taken from its config entry."""

    trainable_names: list[str]  # connector + last LM layers (the paper's fine-tuning scope)
    image_token_id: int
    representation_layer: int = -1  # hidden layer whose image-token states are the visual representation
    lora_target_modules: str | list[str] | None = None


class Method:
    """Base: plain gradient descent on the task loss over the context's trainable parameters."""

    trains = True

    def __init__(self, **options):
        self.options = options
        self.params: list[nn.Parameter] = []

    def prepare(self, model: nn.Module, ctx: TuneContext) -> nn.Module:
        """Freeze what is not tuned; return the module to optimise (possibly wrapped)."""
        raise NotImplementedError

    def step(self, model: nn.Module, batch: dict, ctx: TuneContext) -> dict[str, float]:
        """Set `.grad` on `self.params` for one minibatch; return values to log (at least `loss`)."""
        with self.phase("forward"):
            loss, _ = forward_vl(model, batch, ctx.image_token_id, need_visual=False)
        with self.phase("backward"):
            loss.backward()
        return {"loss": loss.detach()}

    def phase(self, name: str):
        """Context around one pass of a step. Does nothing; the step benchmark sets a timer in its place."""
        return nullcontext()

    def state_dict(self) -> dict:
        """State the method carries between steps (checkpointed with the optimizer); none by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def trainable_count(self) -> int:
        """The #Params column: elements this method updates."""
        return sum(p.numel() for p in self.params)

    def export(self, model: nn.Module) -> nn.Module:
        """The module to save_pretrained after training."""
        return model
