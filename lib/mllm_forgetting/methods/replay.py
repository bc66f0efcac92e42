"""replay: fine-tuning on the stage's task mixed with a fixed buffer of every earlier task's training rows
(experience replay as CoIN's and MCITlib's baseline; Rolnick et al. 2019). The buffer of a task is the
first `fraction` of a permutation of its train split fixed by the seed, drawn once and reused by every
later stage. In a single-target cell the earlier tasks are the pre-trained ones when
`pretrained_tasks` is set (rehearsal of pre-training), else there are none and it is fine-tuning."""

from __future__ import annotations

from dataclasses import dataclass

from ..config.typed import option
from ..models.parts import select_trainable
from .base import Method, MethodConfig, register


@dataclass(frozen=True, kw_only=True)
class ReplayConfig(MethodConfig):
    """Fine-tuning with a per-task replay buffer."""

    fraction: float = option(
        "buffer size of each earlier task, as a fraction of its train rows", 0.1, exclusive_min=0, max=1
    )
    pretrained_tasks: bool = option("the pre-trained tasks are earlier tasks too (their buffers join)", False)


@register("replay", ReplayConfig)
class Replay(Method):
    def __init__(self, config):
        super().__init__(config)
        self.replay_fraction = config.fraction

    def prepare(self, model, ctx):
        self.params = select_trainable(model, ctx.trainable_names)
        return model
