"""FID, cluster metrics and conditional consistency on hand-worked cases."""

import numpy as np
import pytest

from flarekit.metrics.generative import (
    cluster_metrics,
    conditional_consistency,
    fid,
    fit_clusters,
    frechet_distance,
)


def test_frechet_distance_of_two_one_dimensional_samples():
    # a: mean 1, variance 2; b: mean 3, variance 8 (ddof 1):
    # (1 - 3)^2 + 2 + 8 - 2 sqrt(2 * 8) = 4 + 10 - 8 = 6.
    assert frechet_distance([[0.0], [2.0]], [[1.0], [5.0]]) == pytest.approx(6.0)


def test_frechet_distance_is_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + [2.0, 0.0, 0.0]) == pytest.approx(4.0, rel=1e-6)


def test_fid_needs_a_named_extractor_and_reports_the_floor():
    rng = np.random.default_rng(0)
    real, generated, floor = (rng.normal(size=(50, 2)) for _ in range(3))
    result = fid(real, generated, "test-extractor", floor_features=floor)
    assert result["extractor"] == "test-extractor" and result["fid_floor"] is not None
    with pytest.raises(ValueError, match="extractor"):
        fid(real, generated, "")


def test_cluster_metrics_hand_case():
    # Real: two tight clusters of 10 points at x = 0 and x = 10, each at
    # distance 1 from its centre. Generated: 4 points, all in the first
    # cluster, at distance 2. Fractions real (0.5, 0.5), generated (1, 0):
    # error = mean(0.5^2 / 0.25, 0.5^2 / 0.25) = 1; distance = 2 / 1 = 2
    # (the empty cluster is skipped); the generated distances do not vary.
    real = np.array([[0.0, 1.0], [0.0, -1.0]] * 5 + [[10.0, 1.0], [10.0, -1.0]] * 5)
    generated = np.array([[0.0, 2.0], [0.0, -2.0], [2.0, 0.0], [-2.0, 0.0]])
    result = cluster_metrics(real, generated, n_clusters=2)
    assert result["cluster_error"] == pytest.approx(1.0)
    assert result["cluster_distance"] == pytest.approx(2.0)
    assert result["empty_generated_clusters"] == 1
    assert (
        cluster_metrics(real, real, kmeans=fit_clusters(real, 2))["cluster_error"]
        == 0.0
    )


def test_conditional_consistency_counts_unpredicted_classes_as_zero_precision():
    # Conditions quiet, quiet, M, M; the classifier says quiet, quiet, quiet, M.
    result = conditional_consistency([0, 0, 1, 1], [0, 0, 0, 1], ["quiet", "M"])
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["per_class"]["quiet"]["precision"] == pytest.approx(2 / 3)
    assert result["per_class"]["M"]["recall"] == pytest.approx(0.5)
    assert result["macro_recall"] == pytest.approx(0.75)
    never = conditional_consistency([0, 1], [0, 0], ["quiet", "M"])
    assert never["macro_precision"] == pytest.approx(0.25)  # (0.5 + 0) / 2
