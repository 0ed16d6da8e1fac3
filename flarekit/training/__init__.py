"""keras.Model subclasses that own a training algorithm (SimCLR, ...)."""

from flarekit.training.cvae import ConditionalVAE
from flarekit.training.diffusion import DiffusionModel
from flarekit.training.simclr import (
    LARS,
    NTXentLoss,
    SimCLR,
    build_projection_head,
    contrastive_logits,
)

__all__ = [
    "ConditionalVAE",
    "DiffusionModel",
    "LARS",
    "NTXentLoss",
    "SimCLR",
    "build_projection_head",
    "contrastive_logits",
]
