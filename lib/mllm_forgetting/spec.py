"""Cell specs: what a rule hands its script, as one JSON object.

A spec holds every setting a step's result depends on, with every default filled in, and nothing
else (no paths, threads or cluster resources). The Snakemake rules pass it as a `param`, so a config
edit reruns exactly the steps whose spec changed; the script turns it back into typed objects, checked
again before a model is built, and the train step records it in the cell's directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .cells import Cell, Stage, cell_from_dict
from .config.settings import BackboneConfig, Config, DataConfig, EvaluationConfig
from .config.typed import ConfigError, as_plain, build
from .methods.base import METHODS, MethodConfig
from .prompts import PromptTemplate
from .training.settings import TrainingConfig


@dataclass(frozen=True)
class TrainSpec:
    """A tuning cell's train step: the method, its resolved training settings and the backbone's entry."""

    cell: Cell
    backbone: BackboneConfig
    method: MethodConfig
    training: TrainingConfig  # the shared block with the method's overrides applied
    representation_layer: int
    prompt: PromptTemplate
    experiment: str  # MLflow

    @property
    def label(self) -> str:
        return self.method.label or self.cell.method


@dataclass(frozen=True)
class EvaluateSpec:
    """A cell's evaluate step: what it is scored on and how."""

    cell: Cell
    backbone: BackboneConfig
    evaluation: EvaluationConfig
    pretrain_tasks: list[str]
    prompt: PromptTemplate


@dataclass(frozen=True)
class StageTrainSpec(TrainSpec):
    """A continual stage's train step: a tuning cell that starts from the previous stage (cell: a Stage)."""

    tasks: list[str]  # the sequence, in order (replay draws the earlier ones' buffers)
    phi: str  # the MDGD family's phi: pretrained or previous
    pretrain_tasks: list[str]  # replay with pretrained_tasks draws their buffers too


@dataclass(frozen=True)
class StageEvaluateSpec(EvaluateSpec):
    """A continual stage's evaluate step: every pre-trained task and every task of the sequence."""

    tasks: list[str]


@dataclass(frozen=True)
class PretrainSpec:
    """A built backbone's pre-training (phi)."""

    backbone_name: str
    backbone: BackboneConfig
    tasks: list[str]
    seed: int
    prompt: PromptTemplate


def train_spec(config: Config, cell: Cell) -> TrainSpec:
    method = config.methods[cell.method]
    return TrainSpec(
        cell=cell,
        backbone=_result_part(config.backbones[cell.backbone]),
        method=method,
        training=config.training.with_overrides(method.training),
        representation_layer=config.evaluation.representation_layer,
        prompt=config.prompt_of(cell.backbone),
        experiment=config.mlflow.experiment,
    )


def evaluate_spec(config: Config, cell: Cell) -> EvaluateSpec:
    return EvaluateSpec(
        cell=cell,
        backbone=_result_part(config.backbones[cell.backbone]),
        evaluation=config.evaluation,
        pretrain_tasks=config.pretrain_tasks_of(cell.backbone),
        prompt=config.prompt_of(cell.backbone),
    )


def pretrain_spec(config: Config, backbone: str) -> PretrainSpec:
    return PretrainSpec(
        backbone_name=backbone,
        backbone=_result_part(config.backbones[backbone]),
        tasks=config.pretrain_tasks_of(backbone),
        seed=config.seeds[0],
        prompt=config.prompt_of(backbone),
    )


def stage_train_spec(config: Config, stage: Stage) -> StageTrainSpec:
    entry = config.continual.methods[stage.method]
    training = config.training.with_overrides(config.continual.training)
    return StageTrainSpec(
        cell=stage,
        backbone=_result_part(config.backbones[stage.backbone]),
        method=entry.config,
        training=training.with_overrides(entry.config.training),
        representation_layer=config.evaluation.representation_layer,
        prompt=config.prompt_of(stage.backbone),
        experiment=config.mlflow.experiment,
        tasks=list(config.continual.sequences[stage.sequence]),
        phi=entry.phi,
        pretrain_tasks=config.pretrain_tasks_of(stage.backbone),
    )


def stage_evaluate_spec(config: Config, stage: Stage) -> StageEvaluateSpec:
    from dataclasses import replace

    c = config.continual
    evaluation = replace(
        config.evaluation,
        max_test_examples=c.max_test_examples or config.evaluation.max_test_examples,
        probes=config.evaluation.probes if c.probes else None,
    )
    return StageEvaluateSpec(
        cell=stage,
        backbone=_result_part(config.backbones[stage.backbone]),
        evaluation=evaluation,
        pretrain_tasks=config.pretrain_tasks_of(stage.backbone),
        prompt=config.prompt_of(stage.backbone),
        tasks=list(c.sequences[stage.sequence]),
    )


def _result_part(backbone: BackboneConfig) -> BackboneConfig:
    """The entry without its cluster resources, which change no result (editing them reruns nothing)."""
    from dataclasses import replace

    from .config.settings import Resources

    return replace(backbone, resources=Resources())


# ------------------------------------------------------------------------------------------ JSON


def to_json(spec) -> str:
    """The spec as compact, key-sorted JSON (equal specs give equal strings: Snakemake compares params)."""
    return json.dumps(to_plain(spec), sort_keys=True, separators=(",", ":"))


def to_plain(spec) -> dict:
    plain = as_plain(spec)
    if isinstance(spec, TrainSpec):
        plain["method"] = {"type": spec.method.method_type, **plain["method"]}
    return plain


def from_json(cls, text: str):
    """A spec of class `cls` from to_json's text, every part checked as the config loader checks it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"spec: not JSON ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError("spec: expected a JSON object")
    parts = {
        "cell": cell_from_dict,
        "backbone": _backbone,
        "method": _method,
        "training": lambda v: build(TrainingConfig, v, "spec.training"),
        "evaluation": lambda v: build(EvaluationConfig, v, "spec.evaluation"),
        "prompt": lambda v: build(PromptTemplate, v, "spec.prompt"),
    }
    fields = cls.__dataclass_fields__
    unknown = set(data) - set(fields)
    missing = set(fields) - set(data)
    if unknown or missing:
        raise ConfigError(
            f"spec: not a {cls.__name__} (unknown {sorted(unknown)}, missing {sorted(missing)})"
        )
    return cls(**{k: parts.get(k, lambda v: v)(v) for k, v in data.items()})


def evaluate_spec_from_json(text: str) -> EvaluateSpec:
    """An EvaluateSpec, or a StageEvaluateSpec when the cell is a continual stage."""
    try:
        is_stage = "sequence" in json.loads(text).get("cell", {})
    except (json.JSONDecodeError, AttributeError):
        is_stage = False  # from_json names what is wrong
    return from_json(StageEvaluateSpec if is_stage else EvaluateSpec, text)


def _backbone(value: dict) -> BackboneConfig:
    from .config.settings import with_typed_size

    return with_typed_size(build(BackboneConfig, value, "spec.backbone"), "spec.backbone")


def _method(value: dict) -> MethodConfig:
    from . import methods  # noqa: F401  (registers every method)

    options = dict(value)
    method_type = options.pop("type", None)
    if method_type not in METHODS:
        raise ConfigError(f"spec.method: unknown method type {method_type!r}; valid: {', '.join(METHODS)}")
    return build(METHODS[method_type].config, options, "spec.method")


def data_from_json(text: str) -> DataConfig:
    return build(DataConfig, json.loads(text), "spec.data")
