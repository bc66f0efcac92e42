"""prepare_data: generate the embedded benchmark into the datasets directory that data.dvc versions."""
from __future__ import annotations

from ..data import build_benchmark


def prepare_data(out_dir: str, tasks: list[str], sizes: dict, seed: int, image_size: int) -> None:
    build_benchmark(out_dir, tasks, sizes, seed=seed, image_size=image_size)
