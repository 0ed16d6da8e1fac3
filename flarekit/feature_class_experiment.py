"""Moved to `flarekit.experiments.feature_class`."""

from flarekit.experiments.feature_class import *  # noqa: F403
