"""Moved to `flarekit.experiments.generation`."""

from flarekit.experiments.generation import *  # noqa: F403
from flarekit.experiments.generation import (  # noqa: F401
    GENERATION_DEFAULTS,
    MODEL_FILE,
    condition_for,
    generation_report,
    load_generator,
    plot_contact_sheet,
    sample_to_folder,
)
