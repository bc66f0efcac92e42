import json
import re
import shlex
from pathlib import Path

ENV = "../../environment.yml"
FIGURES = ["erank", "top_tokens", "tsne", "alpha", "learning_curves"]
BACKBONES = config["backbones"]
HUB_BACKBONES = [name for name, b in BACKBONES.items() if "hub_id" in b]
BUILT_BACKBONES = [name for name in BACKBONES if name not in HUB_BACKBONES]


def script_path(name):
    """A script of scripts/, located from the workflow's own folder (any working directory works)."""
    return str(Path(workflow.basedir).parent / "scripts" / name)


def as_json(obj):
    """Configs travel to scripts as shell-quoted JSON; params compare by value, so an edit reruns exactly its cells."""
    return shlex.quote(json.dumps(obj, sort_keys=True))


def one_of(names):
    """A wildcard constraint matching exactly these names (and nothing when there are none)."""
    return "|".join(map(re.escape, names)) or "(?!)"


def targets_of(backbone):
    return BACKBONES[backbone].get("targets", config["targets"])


def pretrain_tasks_of(backbone):
    return BACKBONES[backbone].get("pretrain_tasks", config["data"]["pretrain_tasks"])


def resource(backbone, name, default):
    """A train/evaluate job's resource from the backbone's `resources` (GPUs, memory, minutes)."""
    return BACKBONES[backbone].get("resources", {}).get(name, default)


def grid():
    """(backbone, target) pairs: each backbone with its own target tasks (the paper's Tables 1 and 2)."""
    return [(b, t) for b in BACKBONES for t in targets_of(b)]


def check_names():
    """Fail early, naming the valid choices, when the grid refers to something undefined."""
    known_targets, known_pretrain = config["data"]["target_tasks"], config["data"]["pretrain_tasks"]
    for backbone in BACKBONES:
        for target in targets_of(backbone):
            if target not in known_targets:
                raise ValueError(
                    f"{backbone}: unknown target {target!r}; valid (data.target_tasks): {known_targets}"
                )
        for task in pretrain_tasks_of(backbone):
            if task not in known_pretrain:
                raise ValueError(
                    f"{backbone}: pre-trained task {task!r} is not prepared; valid (data.pretrain_tasks): "
                    f"{known_pretrain}"
                )
    for name in config["methods"]:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            raise ValueError(f"method name {name!r} must be letters, digits, '_', '.', '-'")


check_names()


wildcard_constraints:
    backbone=one_of(BACKBONES),
    target=one_of(sorted({t for _, t in grid()})),
    method=one_of(config["methods"]),
    seed=r"\d+",


def cell_metrics(backbone, target):
    """metrics.json of every method and seed of one backbone x target."""
    return expand(
        "results/cells/{backbone}/{target}/{method}/seed{seed}/metrics.json",
        backbone=backbone,
        target=target,
        method=list(config["methods"]),
        seed=config["seeds"],
    )


def all_tables():
    return [f"results/tables/{b}_{t}.{ext}" for b, t in grid() for ext in ("csv", "md")]


def all_figures():
    return [f"results/figures/{b}_{t}_{figure}.png" for b, t in grid() for figure in FIGURES]
