"""Moved to `flarekit.experiments.sequence_kfold`."""

from flarekit.experiments.sequence_kfold import *  # noqa: F403
from flarekit.experiments.sequence_kfold import kfold_comparison_table  # noqa: F401
