"""Moved to `flarekit.experiments.self_supervised`."""

from flarekit.experiments.self_supervised import *  # noqa: F403
from flarekit.experiments.self_supervised import (  # noqa: F401
    ENCODER_FILE,
    transfer_encoder,
)
