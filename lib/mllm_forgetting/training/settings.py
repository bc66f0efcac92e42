"""Optimisation settings: the `training` block (shared by every method), a method's overrides of it, and a
built backbone's `pretrain` block. Typed and checked when the config is loaded; no torch here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from ..config.typed import ConfigError, option

# transformers.get_scheduler names that need nothing beyond warm-up and total steps (a test checks them)
Schedule = Literal[
    "constant",
    "constant_with_warmup",
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "inverse_sqrt",
]


@dataclass(frozen=True, kw_only=True)
class Optimisation:
    """AdamW with a learning-rate schedule, clipped gradients and a log row every `log_every` steps."""

    batch_size: int = option("examples per optimizer step (at most the split's size)", min=1)
    lr: float = option("peak learning rate of AdamW", exclusive_min=0)
    weight_decay: float = option("AdamW weight decay", 0.0, min=0)
    warmup_steps: int = option("linear warm-up steps of the schedule", 0, min=0)
    schedule: Schedule = option(
        "learning-rate schedule (a transformers.get_scheduler name)", "constant_with_warmup"
    )
    grad_clip: float = option(
        "clip the gradient norm of the tuned tensors to this (0 = no clipping)", 1.0, min=0
    )
    log_every: int = option("write a train_log.csv row (and an MLflow step) every N steps", 10, min=1)


@dataclass(frozen=True, kw_only=True)
class TrainingConfig(Optimisation):
    """The `training` block: how every tuning cell trains (a method may override any key)."""

    steps: int = option("optimizer steps per cell", min=1)

    def with_overrides(self, override: TrainingOverride | None) -> TrainingConfig:
        if override is None:
            return self
        changed = {k: v for k, v in dataclasses.asdict(override).items() if v is not None}
        return dataclasses.replace(self, **changed)


def _optional_copy(cls, name: str, doc: str):
    """A dataclass with `cls`'s fields, each optional (None = keep the shared value), same docs and bounds."""
    fields = [
        (f.name, f.type + " | None", dataclasses.field(default=None, metadata=f.metadata))
        for f in dataclasses.fields(cls)
    ]
    made = dataclasses.make_dataclass(name, fields, frozen=True, kw_only=True, namespace={"__doc__": doc})
    made.__module__ = __name__
    return made


TrainingOverride = _optional_copy(
    TrainingConfig, "TrainingOverride", "A method's `training:` key: the shared training settings it changes."
)


@dataclass(frozen=True, kw_only=True)
class PretrainStage:
    """One stage of pre-training, with a fresh warm-up."""

    tasks: list[str] | Literal["all"] = option('tasks trained on in this stage, or "all" pre-trained tasks')
    steps: int = option("optimizer steps of this stage", min=1)


@dataclass(frozen=True, kw_only=True)
class PretrainConfig(Optimisation):
    """A built backbone's pre-training: `stages` in order (LLaVA-style alignment first) or `steps` on all."""

    steps: int | None = option(
        "steps of a single stage on every pre-trained task (instead of `stages`)", None, min=1
    )
    stages: list[PretrainStage] | None = option("stages run in order, each with its own warm-up", None)

    def __post_init__(self):
        if (self.steps is None) == (self.stages is None):
            raise ConfigError(
                "give either steps (one stage on all pre-trained tasks) or stages, not both or neither"
            )

    def resolved_stages(self, tasks: list[str]) -> list[dict]:
        """[{tasks, steps}] with "all" replaced by the backbone's pre-trained tasks."""
        stages = self.stages or [PretrainStage(tasks="all", steps=self.steps)]
        return [
            {"tasks": list(tasks) if s.tasks == "all" else list(s.tasks), "steps": s.steps} for s in stages
        ]

    def stage_training(self, steps: int) -> TrainingConfig:
        """This block's optimisation settings for a stage of `steps` steps."""
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(Optimisation)}
        return TrainingConfig(steps=steps, **shared)
