"""Binary flare forecast from a `frames` sequence, labelled at the last frame."""

from __future__ import annotations

import dataclasses

from flarekit.data.tasks.base import register_task
from flarekit.data.tasks.binary import BinaryTask


@register_task
@dataclasses.dataclass(frozen=True)
class SequenceTask(BinaryTask):
    """`BinaryTask` over the `frames` feature ([T, H, W, C], oldest first);
    scored, headed and reported as a binary forecast."""

    name = "sequence"
    input_key: str = "frames"
