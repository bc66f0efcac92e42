"""prepare_data: write every task's train/val/test in the common schema into the datasets directory
that DVC versions: generated (the embedded benchmark) or converted from the hub (the paper's datasets)."""

from __future__ import annotations

from ..data import build_benchmark

SOURCES = ("generated", "hub")


def prepare_data(
    out_dir: str, tasks: list[str], sizes: dict, seed: int, image_size: int = 32, source: str = "generated"
) -> None:
    if source == "generated":
        missing = [split for split, n in sizes.items() if n is None]
        if missing:
            raise ValueError(f"the generated benchmark needs a row count for every split; null for {missing}")
        build_benchmark(out_dir, tasks, sizes, seed=seed, image_size=image_size)
    elif source == "hub":
        from ..data.hub import prepare_hub_tasks  # needs network on first run: hub datasets are downloaded

        prepare_hub_tasks(out_dir, tasks, sizes, seed=seed)
    else:
        raise ValueError(f"unknown data source {source!r}; valid: {list(SOURCES)}")
