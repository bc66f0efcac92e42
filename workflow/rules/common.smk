import os
import re
import shlex
from pathlib import Path

from mllm_forgetting.cells import Cell, Stage
from mllm_forgetting.reporting import CONTINUAL_FIGURES, FIGURES
from mllm_forgetting.spec import (
    evaluate_spec,
    pretrain_spec,
    stage_evaluate_spec,
    stage_train_spec,
    to_json,
    train_spec,
)

ENV = "../../environment.yml"
RESULTS = CONFIG.results  # every output goes under it (config key `results`)
BUILT_BACKBONES = [name for name, b in CONFIG.backbones.items() if b.built]
HUB_BACKBONES = [name for name, b in CONFIG.backbones.items() if not b.built]


# The rules call `python`: the interpreter running Snakemake, whose environment has the package, comes
# first on the jobs' PATH (under --use-conda the rule's environment comes before it). The command text
# names no absolute path: Snakemake reruns a rule whose command changed, and a clone elsewhere must not.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def script(name):
    """`python <the script, relative to the working directory>`."""
    return f"python {shlex.quote(os.path.relpath(Path(workflow.basedir).parent / 'scripts' / name))}"


def quoted(spec):
    """A spec as shell-quoted JSON; params compare by value, so an edit reruns exactly the steps it changes."""
    return shlex.quote(to_json(spec))


def cell_of(w):
    return Cell(w.backbone, w.target, w.method, int(w.seed))


def resource(backbone, name):
    """A train/evaluate job's resource from the backbone's `resources` (GPUs, memory, minutes, threads)."""
    value = getattr(CONFIG.backbones[backbone].resources, name)
    return CONFIG.threads if value is None else value


def one_of(names):
    """A wildcard constraint matching exactly these names (and nothing when there are none)."""
    return "|".join(map(re.escape, names)) or "(?!)"


wildcard_constraints:
    backbone=one_of(CONFIG.backbones),
    target=one_of(sorted({t for _, t in CONFIG.grid()})),
    method=one_of(CONFIG.methods),
    seed=r"\d+",


CELL = f"{RESULTS}/cells/{{backbone}}/{{target}}/{{method}}/seed{{seed}}"


def cell_files(backbone, target, name):
    """The file `name` (metrics.json, train_log.csv, ...) of every method and seed of one backbone x target."""
    return [
        f"{RESULTS}/cells/{c.backbone}/{c.target}/{c.method}/seed{c.seed}/{name}"
        for c in CONFIG.cells(backbone, target)
    ]


def base_model(w):
    """The model a post-hoc method's cell tailors (Model Tailor: its fine-tune cell's model/); none otherwise."""
    base = CONFIG.base_of(cell_of(w))
    return [] if base is None else f"{RESULTS}/cells/{base.name}/model"


def all_models():
    """Every cell's tuned model: a product of the run like the tables (deleting one reruns its cell)."""
    return [path for b, t in CONFIG.grid() for path in cell_files(b, t, "model")]


def all_tables():
    return [f"{RESULTS}/tables/{b}_{t}.{ext}" for b, t in CONFIG.grid() for ext in ("csv", "md")]


def all_figures():
    return [f"{RESULTS}/figures/{b}_{t}_{figure}.png" for b, t in CONFIG.grid() for figure in FIGURES]


# ------------------------------------------------------------------------------ continual sequences
SEQUENCES = CONFIG.continual.sequences if CONFIG.continual else {}
SEQUENCE_METHODS = list(CONFIG.continual.methods) if CONFIG.continual else []
CONTINUAL = f"{RESULTS}/continual"


def stage_of(w):
    """The Stage of a stage rule's wildcards; its task must be the sequence's index-th."""
    tasks, index = SEQUENCES[w.sequence], int(w.index)
    if not 1 <= index <= len(tasks) or tasks[index - 1] != w.task:
        raise ValueError(f"{w.sequence} has no stage {index}_{w.task}; its stages: {stage_names(w.sequence)}")
    return Stage(w.backbone, w.task, w.smethod, int(w.seed), w.sequence, index)


def pretrained_stage(w):
    """Stage 0: the pre-trained model, scored on the sequence (row 0 of the accuracy matrix)."""
    return Stage(w.backbone, "pretrained", "pretrained", 0, w.sequence, 0)


def stage_names(sequence):
    return [f"stage{i}_{t}" for i, t in enumerate(SEQUENCES[sequence], 1)]


def stage_dir(stage):
    return f"{CONTINUAL}/{stage.run}/{stage.directory}"


def previous_stage(w):
    """Stage k-1's model/ and carry.pt (nothing for stage 1)."""
    stage = stage_of(w)
    if stage.index == 1:
        return []
    before = Stage(
        stage.backbone,
        SEQUENCES[stage.sequence][stage.index - 2],
        stage.method,
        stage.seed,
        stage.sequence,
        stage.index - 1,
    )
    return [f"{stage_dir(before)}/model", f"{stage_dir(before)}/carry.pt"]


def sequence_files(backbone, sequence, name):
    """The file `name` of every stage of every method and seed of one backbone x sequence."""
    return [
        f"{stage_dir(stage)}/{name}"
        for b, q, m, s in CONFIG.sequence_runs()
        if (b, q) == (backbone, sequence)
        for stage in CONFIG.stages(b, q, m, s)
    ]


def all_continual():
    pairs = sorted({(b, q) for b, q, _, _ in CONFIG.sequence_runs()})
    tables = [f"{CONTINUAL}/tables/{b}_{q}.{ext}" for b, q in pairs for ext in ("csv", "md")]
    figures = [f"{CONTINUAL}/figures/{b}_{q}_{f}.png" for b, q in pairs for f in CONTINUAL_FIGURES]
    matrices = [f"{CONTINUAL}/tables/{b}_{q}_{m}_matrix.csv" for b, q in pairs for m in SEQUENCE_METHODS]
    # every stage's scores too: a table whose inputs are missing is not rebuilt from them otherwise (a
    # method added to the config must run its stages, as rule all asks for every cell's model)
    stages = [path for b, q in pairs for path in sequence_files(b, q, "metrics.json")]
    return tables + figures + matrices + stages
