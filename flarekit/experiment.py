"""Moved: the runner now lives in `flarekit.experiments` (one package for the
runner and every trainer). This module re-exports it while callers move."""

from flarekit.experiments import *  # noqa: F403
from flarekit.experiments import __all__  # noqa: F401
