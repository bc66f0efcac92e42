"""What every tuning method provides, and the registry that maps a config `type` to it.

A method is one module: a config dataclass (its options, documented and checked when the config is
loaded) and a `Method` subclass registered with `@register("<type>", <Config>)`, which chooses and
freezes parameters (`prepare`) and sets their gradients for a minibatch (`step`); a post-hoc method
(Model Tailor) instead turns another cell's tuned model into its own (`tailor`). A continual method also
hears when a stage begins (`begin`: the pre-trained tensors and what the previous stage carried), may add
earlier tasks' rows to a stage's data (`replay_fraction`) and hands the next stage what it needs
(`finish`); a single-target cell is a sequence of one stage. Method modules import
torch inside their functions: the Snakefile loads every method's config class at each invocation and
stays torch-free (tests/test_config.py checks it).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..config.typed import option
from ..training.settings import TrainingOverride

if TYPE_CHECKING:
    import torch.nn as nn


@dataclass(frozen=True, kw_only=True)
class MethodConfig:
    """Options every method entry takes; a method's config class adds its own."""

    method_type: ClassVar[str] = ""  # set by @register

    label: str | None = option("row label in tables and figures (default: the entry's name)", None)
    training: TrainingOverride | None = option(
        "overrides of the shared `training` block for this method", None
    )

    # method types whose cells a post-hoc method may start from (checked when the config is loaded)
    base_types: ClassVar[tuple[str, ...]] = ()

    def base_entry(self) -> str | None:
        """The method entry whose cell (same backbone, target, seed) this one starts from; None: phi."""
        return None


@dataclass(frozen=True)
class Registered:
    config: type[MethodConfig]
    method: type[Method]


METHODS: dict[str, Registered] = {}


def register(method_type: str, config: type[MethodConfig]):
    """Class decorator: make `Method` subclass the implementation of config `type: <method_type>`."""

    def add(cls):
        if method_type in METHODS:
            raise ValueError(f"method type {method_type!r} is registered twice")
        METHODS[method_type] = Registered(config, cls)
        cls.method_type = config.method_type = method_type
        return cls

    return add


@dataclass(frozen=True)
class StepCost:
    """What one training step of a method runs, for the GPU cost model (reporting/cost.py)."""

    forward_models: int = 1  # models run forward per step, their graphs alive together
    backward_passes: int = 1  # vector-Jacobian products through the language model per step
    tuned: str = "trainable"  # which tensors get gradients: "trainable" (connector + last layers) or "lora"
    extra_copies: int = 0  # further tensors the size of the tuned ones held during a step (phi, gradients)


@dataclass(frozen=True)
class StageStart:
    """What a method is told when a stage begins (a single-target cell: stage 1 of a sequence of one)."""

    index: int  # 1-based
    # name -> the pre-trained model's tensor, for every name in ctx.trainable_names; valid during `begin`
    # only (a single-target cell passes the model's own tensors): a method copies what it keeps
    pretrained: dict
    carried: dict  # what the previous stage's `finish` returned ({} at stage 1)
    phi: str = "pretrained"  # the MDGD family's phi: "pretrained" or "previous" (the stage's start)


@dataclass(frozen=True)
class TuneContext:
    """Facts about the backbone a method needs, taken from its config entry."""

    trainable_names: list[str]  # connector + last LM layers (the paper's fine-tuning scope)
    image_token_id: int
    representation_layer: int  # hidden layer whose image-token states are the visual representation
    lora_target_modules: str | list[str] | None = None
    connector: str | None = None  # module path of the connector
    tuned_layers: tuple[str, ...] = ()  # module paths of the tuned LM layers, in forward order


class Method:
    """Base: plain gradient descent on the task loss over the context's trainable parameters."""

    trains = True
    post_hoc = False  # True: no training steps; `tailor` turns the base entry's cell's model into this one's
    has_phi = False  # True: a frozen model phi is part of the step (the MDGD family; `phi` in a sequence)
    replay_fraction = 0.0  # > 0: each earlier task's buffer (this fraction of its train rows) joins a stage
    method_type = ""  # set by @register
    cost: StepCost | None = StepCost()  # None: no training step (zero-shot)

    def __init__(self, config: MethodConfig):
        self.config = config
        self.params: list[nn.Parameter] = []

    def prepare(self, model: nn.Module, ctx: TuneContext) -> nn.Module:
        """Freeze what is not tuned; return the module to optimise (possibly wrapped)."""
        raise NotImplementedError

    def step(self, model: nn.Module, batch: dict, ctx: TuneContext) -> dict[str, float]:
        """Set `.grad` on `self.params` for one minibatch; return values to log (at least `loss`)."""
        from ..training.forward import forward_vl

        with self.phase("forward"):
            loss, _ = forward_vl(
                model, batch, ctx.image_token_id, ctx.representation_layer, need_visual=False
            )
        with self.phase("backward"):
            loss.backward()
        return {"loss": loss.detach()}

    def begin(self, model: nn.Module, ctx: TuneContext, start: StageStart) -> None:
        """After `prepare`, before the first step (a resumed run calls it again, then loads its state)."""

    def finish(
        self, model: nn.Module, ctx: TuneContext, data, *, carry: bool, batch_size: int, pad_id: int, device
    ) -> dict:
        """After the last step: change the trained model if the method does (WiSE-FT) and, with `carry`,
        return what the next stage's `begin` gets as `start.carried` (tensors by name; saved as carry.pt)."""
        return {}

    def phase(self, name: str):
        """Context around one pass of a step. Does nothing; the step benchmark sets a timer in its place."""
        return nullcontext()

    def state_dict(self) -> dict:
        """State the method carries between steps (checkpointed with the optimizer); none by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def trainable_count(self) -> int | None:
        """The #Params column: elements this method updates."""
        return sum(p.numel() for p in self.params)

    def export(self, model: nn.Module) -> nn.Module:
        """The module to save_pretrained after training."""
        return model

    def tailor(self, model: nn.Module, phi: dict, data, ctx: TuneContext, **calibration) -> dict:
        """A post-hoc method: change `model` (the base cell's tuned model) in place, given phi's trainable
        tensors by name and the target's training split `data`; return what it did (for train.json)."""
        raise NotImplementedError


def make_method(method_type: str, config: MethodConfig | None = None) -> Method:
    """The method of a registered type, with `config` (default: the type's config with its defaults)."""
    from . import METHOD_MODULES  # noqa: F401  (importing the package registers every method)

    if method_type not in METHODS:
        raise ValueError(f"unknown method type {method_type!r}; valid: {', '.join(METHODS)}")
    registered = METHODS[method_type]
    return registered.method(config if config is not None else registered.config())
