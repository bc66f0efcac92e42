"""The pipeline's config as typed objects: `load_config(mapping)` checks every key of config/*.yaml.

Every option has one documented default here (config/README.md is generated from these classes and
config/schema.yaml derived from them; tests keep both current). Method options live with their method
(methods/<type>.py), a built backbone's `size` with its architecture (models/size.py). A mistake is a
ConfigError naming the key and what is valid, raised before any job runs.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..cells import Cell, Stage
from ..prompts import PROMPTS, PromptTemplate
from ..tracking.mlflow_store import DEFAULT_EXPERIMENT
from ..training.settings import PretrainConfig, TrainingConfig, TrainingOverride
from .typed import ConfigError, as_plain, build, option, unknown_key

if TYPE_CHECKING:
    from ..methods.base import MethodConfig

NAME = re.compile(r"[A-Za-z0-9_.\-]+")  # backbone and method names become path components and wildcards


@dataclass(frozen=True, kw_only=True)
class SplitSizes:
    """Rows per split of every task (null = the whole split, for hub data)."""

    train: int | None = option("training rows per task", min=1)
    val: int | None = option("validation rows per task (pre-training's zero-shot check)", min=1)
    test: int | None = option("test rows per task (the tables' scores)", min=1)


@dataclass(frozen=True, kw_only=True)
class ProbeSizes:
    """Images per attribute of the probe sets (data/probes.py): colour, shape, position, count, digit. They
    are part of the data directory, so changing them prepares the data again and reruns every step."""

    train: int = option("images per attribute the linear probes are fitted on", min=1)
    test: int = option("images per attribute the probes are scored on", min=1)


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """The prepared datasets: the generated benchmark or the paper's datasets from the hub."""

    dir: str = option("prepared datasets directory (what <dir>.dvc versions)")
    seed: int = option("seed of the generated benchmark and of the hub datasets' samples")
    sizes: SplitSizes = option("rows per split")
    pretrain_tasks: list[str] = option("tasks the backbones are pre-trained on and evaluated on")
    target_tasks: list[str] = option("tasks a backbone can be tuned on")
    source: Literal["generated", "hub"] = option(
        "generated: the embedded benchmark; hub: real datasets", "generated"
    )
    image_size: int = option("image side of the generated benchmark, pixels", 32, min=8)
    probes: ProbeSizes | None = option(
        "probe sets of the generated benchmark (visual-knowledge probes of every cell); null = none", None
    )

    def __post_init__(self):
        if self.probes is not None and self.source != "generated":
            raise ConfigError(
                "probes: the probe sets are drawn with the generated benchmark's scenes; "
                "set `probes: null` for source hub"
            )
        if self.source == "generated":
            missing = [s for s in ("train", "val", "test") if getattr(self.sizes, s) is None]
            if missing:
                raise ConfigError(
                    f"sizes: the generated benchmark needs a row count for every split; null for {missing}"
                )
        known = _task_kinds(self.source)
        for key in ("pretrain_tasks", "target_tasks"):
            for task in getattr(self, key):
                if task not in known:
                    raise ConfigError(
                        f"{key}: unknown task {task!r} for source {self.source!r}; "
                        f"valid: {', '.join(sorted(known))}"
                    )
            if not getattr(self, key):
                raise ConfigError(f"{key} is empty")

    @property
    def tasks(self) -> list[str]:
        return self.pretrain_tasks + [t for t in self.target_tasks if t not in self.pretrain_tasks]

    def kind(self, task: str) -> str:
        return _task_kinds(self.source)[task]


def _task_kinds(source: str) -> dict[str, str]:
    """task -> metric kind, for the generated benchmark or the hub adapters."""
    if source == "generated":
        from ..data.tasks import TASKS

        return {name: spec.kind for name, spec in TASKS.items()}
    from ..data.hub.registry import HUB_DATASETS

    return {name: spec.kind for name, spec in HUB_DATASETS.items()}


@dataclass(frozen=True, kw_only=True)
class ErankConfig:
    """Effective rank (MDGD Eq. 4) of the image-token states."""

    centre: bool = option("subtract the mean state first (Eq. 4 uses the uncentred matrix)", False)
    variant: Literal["singular", "covariance"] = option(
        "singular: Eq. 4's singular values; covariance: their squares (Diff-eRank style)", "singular"
    )


@dataclass(frozen=True, kw_only=True)
class AnswerBudget:
    """Greedy decoding's max_new_tokens per task kind, end-of-sequence included: a number of tokens, or
    `train` = the task's longest train-split answer in the backbone's tokens (never the scored split's)."""

    open: int | Literal["train"] = option("exact-match questions", "train", min=1)
    multiple_choice: int | Literal["train"] = option("option-letter questions", "train", min=1)
    yes_no: int | Literal["train"] = option("yes/no questions (POPE)", "train", min=1)
    caption: int | Literal["train"] = option("captions", "train", min=1)
    vqa: int | Literal["train"] = option("VQA soft-accuracy questions", "train", min=1)
    pathvqa: int | Literal["train"] = option("PathVQA questions", "train", min=1)


@dataclass(frozen=True, kw_only=True)
class ProbeConfig:
    """Linear probes on the frozen image-token states (metrics/probes.py), fitted on the probe sets' train
    images and scored on their test images."""

    pooling: Literal["flatten", "mean"] = option(
        "flatten: every image token's state side by side (keeps where each token is); mean: their average",
        "flatten",
    )
    C: float = option("inverse L2 strength of scikit-learn's LogisticRegression", 1.0, exclusive_min=0)


@dataclass(frozen=True, kw_only=True)
class LikelihoodConfig:
    """Likelihood scoring of closed questions (metrics/likelihood.py): each multiple-choice and yes/no
    question answered a second time by its candidate answer with the highest log-likelihood."""

    yes_no: list[str] = option(
        "a yes/no question's two candidates, yes first, as the backbone answers (LLaVA-1.5: Yes, No); "
        'quote them in YAML ("yes"): bare yes and no are booleans',
        ["yes", "no"],
    )

    def __post_init__(self):
        if len(self.yes_no) != 2 or len(set(self.yes_no)) != 2 or not all(w.strip() for w in self.yes_no):
            raise ConfigError(f"yes_no: two different non-empty words, yes first; got {self.yes_no}")


@dataclass(frozen=True, kw_only=True)
class EvaluationConfig:
    """How a cell is scored: greedy answers on every pre-trained task and the target, likelihood scores,
    linear probes and effective ranks."""

    batch_size: int = option(
        "questions (likelihood scoring: question-candidate pairs) per forward pass", min=1
    )
    representation_layer: int = option(
        "hidden layer of the image-token states (L_v, effective rank); -1 = last, as the paper", -1
    )
    erank: ErankConfig = option("effective-rank options", ErankConfig())
    max_test_examples: int | None = option(
        "score at most this many test questions per task (null = all)", None, min=1
    )
    max_new_tokens: AnswerBudget = option("answer length budget per task kind", AnswerBudget())
    likelihood: LikelihoodConfig | None = option(
        "also score multiple-choice and yes/no questions by their answers' log-likelihood; null = not",
        None,
    )
    probes: ProbeConfig | None = option(
        "linear probes of the image-token states on data.probes' images; null = none", None
    )


@dataclass(frozen=True, kw_only=True)
class Resources:
    """A backbone's cluster request for each of its train and evaluate jobs."""

    gpu: int = option("GPUs (sbatch --gpus when above 0)", 0, min=0)
    mem_mb: int = option("memory, MB", 8000, min=1)
    runtime: int = option("time limit, minutes", 120, min=1)
    threads: int | None = option("CPU threads (null = the config's `threads`)", None, min=1)


@dataclass(frozen=True, kw_only=True)
class BackboneConfig:
    """A backbone: built (architecture + size + pretrain: a tiny model the pipeline pre-trains) or a hub
    checkpoint (hub_id: a published model fetch_backbone downloads)."""

    connector: str = option("module path of the projector / resampler (tuned by fine-tune and MDGD)")
    layers: str = option("module path of the language model's decoder layer list")
    trainable_last_layers: int = option("tune this many last decoder layers (with the connector)", min=1)
    lora_target_modules: str | list[str] = option("peft target_modules of the LoRA method: a regex or names")
    prompt: str = option("prompt template: a name in prompts.PROMPTS or in the config's `prompts`")
    architecture: str | None = option("built backbone: a key of models.registry.ARCHITECTURES", None)
    size: dict[str, Any] | None = option(
        "built backbone: widths and depths (its architecture's class in models/size.py)", None
    )
    pretrain: PretrainConfig | None = option("built backbone: pre-training settings", None)
    hub_id: str | None = option("hub backbone: repository id, e.g. llava-hf/llava-1.5-7b-hf", None)
    revision: str = option("hub backbone: revision (branch, tag or commit) fetched", "main")
    trust_remote_code: bool = option("the checkpoint's modeling code lives in its hub repository", False)
    dtype: Literal["float32", "bfloat16"] = option(
        "weights' precision; bfloat16 trains with fp32 master weights of the tuned tensors "
        "(training/precision.py)",
        "float32",
    )
    gradient_checkpointing: bool = option(
        "recompute activations in the backward pass (a 7B cell on one GPU)", False
    )
    device_map: str | dict[str, Any] | None = option(
        "accelerate placement over several GPUs, e.g. auto", None
    )
    attn_implementation: str | None = option(
        "e.g. sdpa or flash_attention_2 (null = transformers' default)", None
    )
    image_resize: int | None = option(
        "resize images to this square first (a fixed image-token count)", None, min=8
    )
    pretrain_tasks: list[str] | None = option(
        "this backbone's pre-trained tasks (null = data.pretrain_tasks)", None
    )
    targets: list[str] | None = option("this backbone's target tasks (null = the config's `targets`)", None)
    resources: Resources = option("cluster resources of its train and evaluate jobs", Resources())

    def __post_init__(self):
        built = [k for k in ("architecture", "size", "pretrain") if getattr(self, k) is not None]
        if self.hub_id is None and len(built) != 3:
            missing = sorted({"architecture", "size", "pretrain"} - set(built))
            raise ConfigError(
                f"a built backbone needs architecture, size and pretrain (missing {missing}); "
                "a hub backbone needs hub_id"
            )
        if self.hub_id is not None and built:
            raise ConfigError(f"a hub backbone (hub_id) takes no {', '.join(built)}")
        if self.hub_id is not None and not re.fullmatch(r"[^/\s]+/[^/\s]+", self.hub_id):
            raise ConfigError(f"hub_id must look like owner/name; got {self.hub_id!r}")

    @property
    def built(self) -> bool:
        return self.hub_id is None


@dataclass(frozen=True, kw_only=True)
class SequenceMethod:
    """A method entry of `continual.methods`: the method's config, and which model phi is in a stage."""

    config: MethodConfig
    phi: Literal["pretrained", "previous"] = "pretrained"

    @property
    def label(self) -> str | None:
        return self.config.label


@dataclass(frozen=True, kw_only=True)
class ContinualConfig:
    """Continual instruction tuning (docs/continual.md): every sequence learnt task after task, by every
    backbone x method x seed; stage k starts from stage k-1's tuned state and is scored on every task of
    the sequence and every pre-trained task."""

    sequences: dict[str, list[str]] = option(
        "sequence name -> its tasks in the order they are learnt (each one of data.target_tasks)"
    )
    methods: dict[str, Any] = option(
        "stage method entry -> {type: <method type>, ...its options}; the MDGD family also takes "
        "`phi: pretrained` (the paper's frozen model, default) or `phi: previous` (the previous stage's)"
    )
    backbones: list[str] | None = option("backbones that learn the sequences (null = every backbone)", None)
    seeds: list[int] = option("seeds of every sequence run", [0])
    training: TrainingOverride | None = option(
        "overrides of the shared `training` block for every stage (a method's own come after)", None
    )
    max_test_examples: int | None = option(
        "score at most this many test questions per task at each stage (null = evaluation.max_test_examples)",
        None,
        min=1,
    )
    probes: bool = option("also fit the linear probes (evaluation.probes) at every stage", False)

    def __post_init__(self):
        if not self.sequences:
            raise ConfigError("sequences: give at least one sequence")
        for name, tasks in self.sequences.items():
            if not NAME.fullmatch(name):
                raise ConfigError(f"sequences.{name}: a sequence name must be letters, digits, '_', '.', '-'")
            if len(tasks) < 2 or len(set(tasks)) != len(tasks):
                raise ConfigError(f"sequences.{name}: two or more different tasks; got {tasks}")
        if not self.methods:
            raise ConfigError("methods: give at least one method entry")
        if not self.seeds:
            raise ConfigError("seeds: give at least one seed")


@dataclass(frozen=True, kw_only=True)
class MlflowConfig:
    experiment: str = option("MLflow experiment of every cell's run", DEFAULT_EXPERIMENT)


@dataclass(frozen=True, kw_only=True)
class Config:
    """config/config.yaml: data, backbones, methods, training, evaluation, seeds."""

    data: DataConfig = option("the prepared datasets")
    backbones: dict[str, BackboneConfig] = option("backbone name -> entry")
    targets: list[str] = option("target tasks that get tuning cells (a backbone may set its own)")
    methods: dict[str, Any] = option("cell name -> {type: <method type>, ...its options} (methods/<type>.py)")
    training: TrainingConfig = option("how every tuning cell trains")
    evaluation: EvaluationConfig = option("how every cell is scored")
    seeds: list[int] = option("seeds of every tuning cell (mean and spread over them in the tables)")
    threads: int = option("torch threads per job", 1, min=1)
    checkpoint_every: int = option(
        "a training cell saves its whole state every N steps; a rerun resumes (0 = never)", 50, min=0
    )
    results: str = option(
        "directory of everything a run writes: cells, checkpoints, tables, figures, logs, benchmarks, the "
        "MLflow store (a test config keeps its own, apart from the committed tables)",
        "results",
    )
    mlflow: MlflowConfig = option("tracking", MlflowConfig())
    prompts: dict[str, PromptTemplate] = option("prompt templates besides the built-in ones (prompts.py)", {})
    continual: ContinualConfig | None = option(
        "continual instruction tuning: task sequences learnt stage by stage (null = none)", None
    )

    # ---------------------------------------------------------------- the grid

    def targets_of(self, backbone: str) -> list[str]:
        return self.backbones[backbone].targets or self.targets

    def pretrain_tasks_of(self, backbone: str) -> list[str]:
        return self.backbones[backbone].pretrain_tasks or self.data.pretrain_tasks

    def grid(self) -> list[tuple[str, str]]:
        """(backbone, target) pairs: each backbone with its own targets (the paper's Tables 1 and 2)."""
        return [(b, t) for b in self.backbones for t in self.targets_of(b)]

    def cells(self, backbone: str, target: str) -> list[Cell]:
        return [Cell(backbone, target, m, s) for m in self.methods for s in self.seeds]

    def base_of(self, cell: Cell) -> Cell | None:
        """The cell whose model a post-hoc method's cell starts from (Model Tailor: its fine-tune cell)."""
        base = self.methods[cell.method].base_entry()
        return None if base is None else Cell(cell.backbone, cell.target, base, cell.seed)

    def sequence_runs(self) -> list[tuple[str, str, str, int]]:
        """(backbone, sequence, method entry, seed) of every continual run."""
        c = self.continual
        if c is None:
            return []
        backbones = c.backbones or list(self.backbones)
        return [(b, q, m, s) for b in backbones for q in c.sequences for m in c.methods for s in c.seeds]

    def stages(self, backbone: str, sequence: str, method: str, seed: int) -> list[Stage]:
        tasks = self.continual.sequences[sequence]
        return [Stage(backbone, t, method, seed, sequence, i) for i, t in enumerate(tasks, 1)]

    def prompt_of(self, backbone: str) -> PromptTemplate:
        return {**PROMPTS, **self.prompts}[self.backbones[backbone].prompt]

    def plain(self) -> dict:
        """The config as data, every default filled in (what the cell specs are made of)."""
        return as_plain(self)


def load_config(mapping: dict) -> Config:
    """The typed, checked config; ConfigError (one line: where, what, what is valid) on any mistake."""
    from ..methods import METHODS  # every method module registered

    config = build(Config, mapping, "")
    methods = {name: _method_config(name, entry, METHODS) for name, entry in config.methods.items()}
    _check_bases(methods)
    for name in config.backbones:
        if not NAME.fullmatch(name):
            raise ConfigError(f"backbones.{name}: a backbone name must be letters, digits, '_', '.', '-'")
    backbones = {name: with_typed_size(b, f"backbones.{name}") for name, b in config.backbones.items()}
    continual = config.continual
    if continual is not None:
        entries = {name: _sequence_method(name, entry, METHODS) for name, entry in continual.methods.items()}
        continual = dataclasses.replace(continual, methods=entries)
    config = dataclasses.replace(config, methods=methods, backbones=backbones, continual=continual)
    _check_grid(config)
    _check_continual(config)
    if config.evaluation.probes is not None and config.data.probes is None:
        raise ConfigError(
            "evaluation.probes: the probes are fitted on the probe sets; set data.probes (or probes: null)"
        )
    return config


def _method_config(name: str, entry, registry):
    where = f"methods.{name}"
    if not NAME.fullmatch(name):
        raise ConfigError(f"{where}: a method name must be letters, digits, '_', '.', '-'")
    if not isinstance(entry, dict) or "type" not in entry:
        raise ConfigError(f"{where}: needs `type`, one of {', '.join(registry)}")
    method_type = entry["type"]
    if method_type not in registry:
        raise ConfigError(f"{where}: {unknown_key(method_type, registry, 'method type')}")
    return build(registry[method_type].config, {k: v for k, v in entry.items() if k != "type"}, where)


def _sequence_method(name: str, entry, registry) -> SequenceMethod:
    """A `continual.methods` entry: a method entry plus `phi` for the methods that have a phi."""
    where = f"continual.methods.{name}"
    entry = dict(entry) if isinstance(entry, dict) else entry
    phi = entry.pop("phi", "pretrained") if isinstance(entry, dict) else "pretrained"
    config = _method_config(name, entry, registry)
    method = registry[config.method_type].method
    if not method.trains or method.post_hoc:
        raise ConfigError(
            f"{where}: a {config.method_type} entry does not train; every stage of a sequence trains"
        )
    if phi not in ("pretrained", "previous"):
        raise ConfigError(f"{where}: phi must be pretrained or previous; got {phi!r}")
    if phi != "pretrained" and not method.has_phi:
        raise ConfigError(f"{where}: phi: only the MDGD family has a phi; {config.method_type} takes none")
    return SequenceMethod(config=config, phi=phi)


def _check_continual(config: Config) -> None:
    """Every backbone of the sequences exists; every sequence task is prepared and its prompt covers it."""
    c = config.continual
    if c is None:
        return
    for name in c.backbones or []:
        if name not in config.backbones:
            raise ConfigError(f"continual.backbones: {unknown_key(name, config.backbones, 'backbone')}")
    for sequence, tasks in c.sequences.items():
        for task in tasks:
            if task not in config.data.target_tasks:
                raise ConfigError(
                    f"continual.sequences.{sequence}: task {task!r} is not prepared; valid "
                    f"(data.target_tasks): {', '.join(config.data.target_tasks)}"
                )
        for backbone in c.backbones or list(config.backbones):
            template = config.prompt_of(backbone)
            for task in tasks:
                try:
                    template.task_prompt(task, config.data.kind(task))
                except ConfigError as err:
                    raise ConfigError(f"continual: backbone {backbone}: {err}") from None
            _check_answer_budget(config, tasks)


def _check_bases(methods: dict) -> None:
    """A post-hoc method's `base` names an entry of a type it can start from."""
    for name, method in methods.items():
        base = method.base_entry()
        if base is None:
            continue
        types = " or ".join(method.base_types)
        valid = [n for n, m in methods.items() if m.method_type in method.base_types]
        if not valid:
            raise ConfigError(
                f"methods.{name}: base: unknown method entry {base!r} (valid: none; add a {types} entry)"
            )
        if base not in methods:
            raise ConfigError(f"methods.{name}: base: {unknown_key(base, valid, 'method entry')}")
        if base not in valid:
            raise ConfigError(
                f"methods.{name}: base {base!r} is a {methods[base].method_type} entry; {method.method_type} "
                f"starts from a {types} entry's model (valid: {', '.join(valid)})"
            )


def with_typed_size(backbone: BackboneConfig, where: str) -> BackboneConfig:
    """The entry with its `size` typed by its architecture's size class (a built backbone)."""
    if not backbone.built:
        return backbone
    from ..models.registry import ARCHITECTURES

    if backbone.architecture not in ARCHITECTURES:
        raise ConfigError(f"{where}: {unknown_key(backbone.architecture, ARCHITECTURES, 'architecture')}")
    size = build(ARCHITECTURES[backbone.architecture].size, backbone.size, f"{where}.size")
    return dataclasses.replace(backbone, size=size)


def _check_grid(config: Config) -> None:
    """Cross-references: each backbone's tasks are prepared and its prompt covers them."""
    data = config.data
    templates = {**PROMPTS}
    for name in config.prompts:
        if name in PROMPTS:
            raise ConfigError(f"prompts.{name}: a built-in template has this name; choose another")
    templates.update(config.prompts)
    if not config.seeds:
        raise ConfigError("seeds: give at least one seed")
    for name, backbone in config.backbones.items():
        where = f"backbones.{name}"
        for target in config.targets_of(name):
            if target not in data.target_tasks:
                raise ConfigError(
                    f"{where}: unknown target {target!r}; valid (data.target_tasks): "
                    f"{', '.join(data.target_tasks)}"
                )
        for task in config.pretrain_tasks_of(name):
            if task not in data.pretrain_tasks:
                raise ConfigError(
                    f"{where}: pre-trained task {task!r} is not prepared; valid (data.pretrain_tasks): "
                    f"{', '.join(data.pretrain_tasks)}"
                )
        if backbone.prompt not in templates:
            raise ConfigError(f"{where}: {unknown_key(backbone.prompt, templates, 'prompt template')}")
        template = templates[backbone.prompt]
        for task in config.pretrain_tasks_of(name) + config.targets_of(name):
            try:
                template.task_prompt(task, data.kind(task))
            except ConfigError as err:
                raise ConfigError(f"{where}: prompt {backbone.prompt!r}: {err}") from None
        _check_answer_budget(config, config.pretrain_tasks_of(name) + config.targets_of(name))
        if backbone.built:
            _check_representation_layer(config.evaluation.representation_layer, backbone.size, where)
            stages = backbone.pretrain.resolved_stages(config.pretrain_tasks_of(name))
            for i, stage in enumerate(stages):
                outside = sorted(set(stage["tasks"]) - set(config.pretrain_tasks_of(name)))
                if outside:
                    raise ConfigError(
                        f"{where}.pretrain.stages[{i}]: tasks outside the pre-trained tasks: {outside}"
                    )


def _check_answer_budget(config: Config, tasks: list[str]) -> None:
    """A `train` budget reads the task's train split: the hub's evaluation-only datasets have none."""
    for task in tasks:
        kind = config.data.kind(task)
        budget = getattr(config.evaluation.max_new_tokens, kind)
        if budget == "train" and not _has_train_split(config.data, task):
            raise ConfigError(
                f"evaluation.max_new_tokens.{kind} is 'train' but task {task!r} has no train split; "
                "give a number of tokens"
            )


def _has_train_split(data: DataConfig, task: str) -> bool:
    if data.source == "generated":
        return True  # every generated task has data.sizes.train rows
    from ..data.hub.registry import HUB_DATASETS

    return "train" in HUB_DATASETS[task].splits


def _check_representation_layer(layer: int, size, where: str) -> None:
    """A built backbone's depth is known before it exists: hidden states 0 (embeddings) .. text_layers."""
    n = getattr(size, "text_layers", None)
    if n is not None and not -(n + 1) <= layer <= n:
        raise ConfigError(
            f"evaluation.representation_layer {layer} is outside {where}'s hidden states: {-(n + 1)}..{n} "
            f"(the embeddings and {n} layers)"
        )
