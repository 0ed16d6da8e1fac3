"""Forecast verification for flarekit: skill scores, probabilistic scores,
bootstrap intervals over regions, reference forecasters and the Bayes ceiling.

Pure numpy / pandas / scikit-learn: nothing here imports TensorFlow or Keras,
so scoring is fast and works whatever the Keras backend. Definitions follow
SCIENCE.md; `evaluate` is the one call a run needs.
"""

from flarekit.metrics.aggregate import (
    aggregate_runs,
    format_interval,
    format_mean_sd,
    format_number,
    get_path,
)
from flarekit.metrics.baselines import (
    always_no_forecast,
    climatology_forecast,
    flux_to_named_class,
    persistence_class_forecast,
    persistence_forecast,
    persistence_log_flux,
)
from flarekit.metrics.bootstrap import (
    GroupResampler,
    bootstrap_distribution,
    bootstrap_interval,
    bootstrap_intervals,
    percentile_interval,
)
from flarekit.metrics.ceiling import bayes_ceiling, fraction_of_ceiling
from flarekit.metrics.evaluate import TASK_KINDS, evaluate, hash_test_set
from flarekit.metrics.forecast import (
    SCORE_NAMES,
    best_hss2_threshold,
    best_tss_threshold,
    binary_scores,
    contingency_table,
    scores_from_table,
    tss_curve,
)
from flarekit.metrics.multiclass import (
    confusion_matrix,
    gandin_murphy_gerrity_score,
    gerrity_scoring_matrix,
    multiclass_scores,
)
from flarekit.metrics.probabilistic import (
    brier_score,
    brier_skill_score,
    probabilistic_scores,
    reliability_curve,
    roc_auc,
    roc_curve,
)
from flarekit.metrics.regression import (
    SDO_BENCHMARK_GROUPS,
    regression_scores,
    sdo_benchmark_groups,
    sdo_benchmark_score,
)

__all__ = [
    "SCORE_NAMES",
    "SDO_BENCHMARK_GROUPS",
    "TASK_KINDS",
    "GroupResampler",
    "aggregate_runs",
    "always_no_forecast",
    "bayes_ceiling",
    "best_hss2_threshold",
    "best_tss_threshold",
    "binary_scores",
    "bootstrap_distribution",
    "bootstrap_interval",
    "bootstrap_intervals",
    "brier_score",
    "brier_skill_score",
    "climatology_forecast",
    "confusion_matrix",
    "contingency_table",
    "evaluate",
    "flux_to_named_class",
    "format_interval",
    "format_mean_sd",
    "format_number",
    "fraction_of_ceiling",
    "gandin_murphy_gerrity_score",
    "gerrity_scoring_matrix",
    "get_path",
    "hash_test_set",
    "multiclass_scores",
    "percentile_interval",
    "persistence_class_forecast",
    "persistence_forecast",
    "persistence_log_flux",
    "probabilistic_scores",
    "regression_scores",
    "reliability_curve",
    "roc_auc",
    "roc_curve",
    "scores_from_table",
    "sdo_benchmark_groups",
    "sdo_benchmark_score",
    "tss_curve",
]
