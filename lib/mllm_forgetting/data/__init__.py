"""Procedurally generated visual benchmark (coloured shapes, digits) stored as HF datasets."""

from .benchmark import FEATURES, KINDS, build_benchmark, build_split, load_split, read_vocabulary
from .tasks import FACTS, PRETRAIN_TASKS, TARGET_TASKS, TASKS, TaskSpec

__all__ = [
    "FEATURES",
    "KINDS",
    "build_benchmark",
    "build_split",
    "load_split",
    "read_vocabulary",
    "FACTS",
    "PRETRAIN_TASKS",
    "TARGET_TASKS",
    "TASKS",
    "TaskSpec",
]
