"""prepare_data: write every task's train/val/test in the common schema into the datasets directory
that DVC versions: generated (the embedded benchmark) or converted from the hub (the paper's datasets)."""

from __future__ import annotations

from ..config.settings import DataConfig


def prepare_data(data: DataConfig, out_dir: str) -> None:
    sizes = {"train": data.sizes.train, "val": data.sizes.val, "test": data.sizes.test}
    if data.source == "generated":
        from ..data.benchmark import build_benchmark

        probes = None if data.probes is None else {"train": data.probes.train, "test": data.probes.test}
        build_benchmark(
            out_dir, data.tasks, sizes, seed=data.seed, image_size=data.image_size, probe_sizes=probes
        )
    else:
        from ..data.hub.coin import coin_loader
        from ..data.hub.prepare import prepare_hub_tasks

        # needs network on first run: hub datasets are downloaded; CoIN's tasks read its local files
        prepare_hub_tasks(out_dir, data.tasks, sizes, seed=data.seed, load=coin_loader())
