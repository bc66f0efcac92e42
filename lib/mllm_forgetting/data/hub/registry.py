"""Every hub dataset adapter by task name. Adding a dataset = one module + one line here."""

from __future__ import annotations

from .aokvqa import AOKVQA, AOKVQA_DA
from .coin import COIN_TASKS
from .common import HubDataset
from .flickr30k import FLICKR30K
from .gqa import GQA
from .iconqa import ICONQA
from .mmbench import MMBENCH
from .okvqa import OKVQA
from .pathvqa import PATHVQA
from .pope import POPE
from .scienceqa import SCIENCEQA
from .textcaps import TEXTCAPS
from .textvqa import TEXTVQA
from .vizwiz import VIZWIZ
from .vqav2 import VQAV2

HUB_DATASETS: dict[str, HubDataset] = {
    d.name: d
    for d in (
        # LLaVA-1.5 (MDGD Table 1): pre-trained tasks, then targets
        VQAV2,
        GQA,
        VIZWIZ,
        SCIENCEQA,
        TEXTVQA,
        POPE,
        MMBENCH,
        FLICKR30K,
        OKVQA,
        # MiniCPM-V (Table 2) adds: pre-trained tasks, then targets
        AOKVQA,
        AOKVQA_DA,
        ICONQA,
        TEXTCAPS,
        PATHVQA,
        # CoIN (Chen et al. 2024): its 8-task continual sequence, read from local files by coin.coin_loader
        *COIN_TASKS,
    )
}


def check_hub_tasks(tasks) -> None:
    unknown = [t for t in tasks if t not in HUB_DATASETS]
    if unknown:
        raise ValueError(f"unknown hub task(s) {unknown}; valid hub tasks: {sorted(HUB_DATASETS)}")
