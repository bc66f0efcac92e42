"""A cell of the experiment grid (backbone x target task x method x seed), and a stage of a sequence."""

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


@dataclass(frozen=True)
class Stage(Cell):
    """Stage `index` (1-based) of a continual sequence: the cell that learns `target`, the sequence's
    index-th task, starting from stage index-1's state (stage 1: from the pre-trained model)."""

    sequence: str
    index: int

    @property
    def name(self) -> str:
        return f"continual/{self.run}/{self.directory}"

    @property
    def run(self) -> str:
        """backbone/sequence/method/seed<k>: the run this stage belongs to."""
        return f"{self.backbone}/{self.sequence}/{self.method}/seed{self.seed}"

    @property
    def directory(self) -> str:
        return f"stage{self.index}_{self.target}"


def cell_from_dict(value: dict) -> Cell:
    """A Cell or a Stage from its as_dict()."""
    return Stage(**value) if "sequence" in value else Cell(**value)
