"""A cell of the experiment grid: backbone x target task x method x seed."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Cell:
    backbone: str
    target: str
    method: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.backbone}/{self.target}/{self.method}/seed{self.seed}"

    def as_dict(self) -> dict:
        return asdict(self)
