import json
import re
import shlex
from pathlib import Path

ENV = "../../environment.yml"
FIGURES = ["erank", "top_tokens", "tsne", "alpha", "learning_curves"]


def script_path(name):
    """A script of scripts/, located from the workflow's own folder (any working directory works)."""
    return str(Path(workflow.basedir).parent / "scripts" / name)


def as_json(obj):
    """Configs travel to scripts as shell-quoted JSON; params compare by value, so an edit reruns exactly its cells."""
    return shlex.quote(json.dumps(obj, sort_keys=True))


def check_names():
    """Fail early, naming the valid choices, when the grid refers to something undefined."""
    known_targets = config["data"]["target_tasks"]
    for target in config["targets"]:
        if target not in known_targets:
            raise ValueError(f"unknown target {target!r}; valid (data.target_tasks): {known_targets}")
    for name in config["methods"]:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            raise ValueError(f"method name {name!r} must be letters, digits, '_', '.', '-'")


check_names()


wildcard_constraints:
    backbone="|".join(map(re.escape, config["backbones"])),
    target="|".join(map(re.escape, config["targets"])),
    method="|".join(map(re.escape, config["methods"])),
    seed=r"\d+",


def cell_metrics(backbone, target):
    """metrics.json of every method and seed of one backbone x target."""
    return expand("results/cells/{backbone}/{target}/{method}/seed{seed}/metrics.json", backbone=backbone,
                  target=target, method=list(config["methods"]), seed=config["seeds"])


def all_tables():
    return expand("results/tables/{backbone}_{target}.{ext}", backbone=list(config["backbones"]),
                  target=config["targets"], ext=["csv", "md"])


def all_figures():
    return expand("results/figures/{backbone}_{target}_{figure}.png", backbone=list(config["backbones"]),
                  target=config["targets"], figure=FIGURES)
