"""Adapters that bring the paper's real datasets from the Hugging Face hub into the common schema
(data.benchmark.FEATURES), and `prepare_hub_tasks`, which builds them on disk."""

from __future__ import annotations

from .common import COMMON_SPLITS, HubDataset, HubSplit, ImageTable
from .prepare import load_from_hub, prepare_hub_tasks
from .registry import HUB_DATASETS, check_hub_tasks

__all__ = [
    "COMMON_SPLITS",
    "HUB_DATASETS",
    "HubDataset",
    "HubSplit",
    "ImageTable",
    "check_hub_tasks",
    "load_from_hub",
    "prepare_hub_tasks",
]
