import json
import re
import shlex
from pathlib import Path

SCRIPTS = Path(workflow.basedir).parent / "scripts"
ENV = "../../environment.yml"
RESULTS = "results"
CELL = RESULTS + "/cells/{backbone}/{target}/{method}/seed{seed}"
FIGURES = ["erank", "top_tokens", "tsne", "alpha", "learning_curves"]


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


def cells(backbone, target):
    return expand(CELL, backbone=backbone, target=target, method=list(config["methods"]), seed=config["seeds"])


def all_tables():
    return expand(RESULTS + "/tables/{backbone}_{target}.{ext}", backbone=list(config["backbones"]),
                  target=config["targets"], ext=["csv", "md"])


def all_figures():
    return expand(RESULTS + "/figures/{backbone}_{target}_{figure}.png", backbone=list(config["backbones"]),
                  target=config["targets"], figure=FIGURES)
