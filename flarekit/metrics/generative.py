"""Scores of generated images (SCIENCE.md, "Generative metrics").

All three families compare generated images with held-out real images
through a feature extractor, never with the images the generator trained on
(trap 8), and each is reported next to the value two real samples of the
same size reach (the real-vs-real floor), because both FID and cluster
metrics are biased at small sample sizes.

- FID: the Frechet distance between Gaussians fitted to real and generated
  features. It depends on the extractor, so every value carries the
  extractor's name; solar FIDs from different extractors are not comparable.
- Cluster metrics (Hackstein et al. 2023): k-means on real embeddings; the
  cluster error compares the occupation of each cluster by generated and real
  samples (ideal 0); the cluster distance and cluster std compare how far
  generated samples lie from their centres, and how that spread varies,
  with the same for real samples (ideal 1).
- Conditional consistency: a classifier trained on real images predicts the
  class of generated images of each condition; macro precision, recall and
  F1 against the condition, beside the same classifier on real images.

Pure numpy / scipy / scikit-learn.

References:
    Heusel, M. et al. 2017, NeurIPS (FID).
    Hackstein, S. et al. 2023, A&C 42, 100685, "Evaluation metrics for galaxy
    image generators" (cluster metrics).
    Ramunno, F. P. & Csillaghy, A. et al. 2024 (the solar use of both).
"""

from __future__ import annotations

import numpy as np


def _features(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(
            f"{name} must be [n_samples >= 2, n_features] features, got shape "
            f"{array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} holds {int(np.sum(~np.isfinite(array)))} non-finite values."
        )
    return array


def frechet_distance(real_features, generated_features) -> float:
    """Frechet distance between Gaussians fitted to two feature sets.

    ||mu_r - mu_g||^2 + Tr(C_r + C_g - 2 (C_r C_g)^(1/2)).

    Raises:
        ValueError: shapes that disagree or non-finite features.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = rng.normal(size=(500, 2)); b = rng.normal(size=(500, 2)) + [3, 0]
        >>> round(frechet_distance(a, b))   # ~ 3**2
        9
    """
    from scipy import linalg

    real = _features(real_features, "real_features")
    generated = _features(generated_features, "generated_features")
    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"Feature sizes differ: real {real.shape[1]}, "
            f"generated {generated.shape[1]}."
        )
    mean_difference = real.mean(axis=0) - generated.mean(axis=0)
    cov_real = np.atleast_2d(np.cov(real, rowvar=False))
    cov_generated = np.atleast_2d(np.cov(generated, rowvar=False))
    root = linalg.sqrtm(cov_real @ cov_generated)
    if not np.all(np.isfinite(root)):
        # Singular products (fewer samples than features): regularise, as
        # the reference FID implementation does.
        offset = np.eye(cov_real.shape[0]) * 1e-6
        root = linalg.sqrtm((cov_real + offset) @ (cov_generated + offset))
    root = np.real(root)
    value = mean_difference @ mean_difference + np.trace(
        cov_real + cov_generated - 2 * root
    )
    return float(max(value, 0.0))


def fid(real_features, generated_features, extractor: str, floor_features=None) -> dict:
    """FID with the extractor's name and, optionally, the real-vs-real floor.

    Args:
        real_features: features of held-out real images (the reference).
        generated_features: features of generated images.
        extractor: the feature extractor's name, e.g.
            "flarekit-cnn-goes4@<weights hash>"; required.
        floor_features: features of other real images (same size as the
            generated set, disjoint from the reference); their FID to the
            reference is the floor a perfect generator would reach.

    Returns:
        {"fid", "fid_floor" (or None), "extractor", "n_real", "n_generated"}.

    Raises:
        ValueError: an empty extractor name.
    """
    if not extractor or not str(extractor).strip():
        raise ValueError(
            "FID needs the feature extractor's name (extractor=...), got empty."
        )
    result = {
        "fid": frechet_distance(real_features, generated_features),
        "fid_floor": None,
        "extractor": str(extractor),
        "n_real": int(np.shape(real_features)[0]),
        "n_generated": int(np.shape(generated_features)[0]),
    }
    if floor_features is not None:
        result["fid_floor"] = frechet_distance(real_features, floor_features)
    return result


def fit_clusters(real_features, n_clusters: int = 8, seed: int = 0):
    """k-means on real features (the reference of the cluster metrics).

    Returns:
        A fitted `sklearn.cluster.KMeans`.

    Raises:
        ValueError: fewer real samples than clusters.
    """
    from sklearn.cluster import KMeans

    real = _features(real_features, "real_features")
    if real.shape[0] < n_clusters:
        raise ValueError(
            f"Cluster metrics need at least n_clusters={n_clusters} real samples, "
            f"got {real.shape[0]}."
        )
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(real)


def _cluster_distances(kmeans, features):
    labels = kmeans.predict(features)
    distances = np.linalg.norm(features - kmeans.cluster_centers_[labels], axis=1)
    return labels, distances


def cluster_metrics(
    real_features, generated_features, n_clusters: int = 8, seed: int = 0, kmeans=None
) -> dict:
    """Cluster error, distance and std of Hackstein et al. (2023).

    k-means is fitted on the real features (or `kmeans` is used); every
    sample is assigned to its nearest centre.

    - cluster_error = mean over clusters of (f_gen - f_real)^2 / f_real^2,
      f = the fraction of a set's samples in the cluster (ideal 0);
    - cluster_distance = mean over clusters of RMS(distance of generated
      samples to the centre) / RMS(the same for real) (ideal 1);
    - cluster_std = mean over clusters of std(generated distances) /
      std(real distances) (ideal 1).
    Clusters that the generated set leaves empty count in the error and are
    skipped (and counted) in the two ratios.

    Returns:
        {"cluster_error", "cluster_distance", "cluster_std", "n_clusters",
         "empty_generated_clusters", "fraction_real", "fraction_generated"}.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> real = rng.normal(size=(400, 3))
        >>> cluster_metrics(real, real, n_clusters=4)["cluster_error"]
        0.0
    """
    real = _features(real_features, "real_features")
    generated = _features(generated_features, "generated_features")
    kmeans = kmeans if kmeans is not None else fit_clusters(real, n_clusters, seed)
    n_clusters = kmeans.n_clusters
    real_labels, real_distances = _cluster_distances(kmeans, real)
    generated_labels, generated_distances = _cluster_distances(kmeans, generated)
    fraction_real = np.bincount(real_labels, minlength=n_clusters) / real.shape[0]
    fraction_generated = (
        np.bincount(generated_labels, minlength=n_clusters) / generated.shape[0]
    )
    occupied = fraction_real > 0
    error = np.mean(
        (fraction_generated[occupied] - fraction_real[occupied]) ** 2
        / fraction_real[occupied] ** 2
    )
    distance_ratios, std_ratios = [], []
    for cluster in range(n_clusters):
        real_here = real_distances[real_labels == cluster]
        generated_here = generated_distances[generated_labels == cluster]
        if generated_here.size == 0 or real_here.size == 0:
            continue
        real_rms = np.sqrt(np.mean(real_here**2))
        if real_rms > 0:
            distance_ratios.append(np.sqrt(np.mean(generated_here**2)) / real_rms)
        if real_here.size > 1 and generated_here.size > 1 and np.std(real_here) > 0:
            std_ratios.append(np.std(generated_here) / np.std(real_here))
    return {
        "cluster_error": float(error),
        "cluster_distance": float(np.mean(distance_ratios))
        if distance_ratios
        else float("nan"),
        "cluster_std": float(np.mean(std_ratios)) if std_ratios else float("nan"),
        "n_clusters": int(n_clusters),
        "empty_generated_clusters": int(np.sum(occupied & (fraction_generated == 0))),
        "fraction_real": fraction_real.tolist(),
        "fraction_generated": fraction_generated.tolist(),
    }


def conditional_consistency(conditions, predicted, class_names) -> dict:
    """How well a real-trained classifier recovers the conditioning class.

    Args:
        conditions: the class index each image was generated for (or, for
            real images, its true class), in `class_names` order.
        predicted: the classifier's probabilities [n, K] or class indices [n].
        class_names: the K classes.

    Returns:
        {"macro_precision", "macro_recall", "macro_f1", "accuracy",
         "per_class": {name: {"precision", "recall", "f1", "support"}},
         "confusion_matrix", "n"}; macro means over classes with support > 0,
        an undefined precision (class never predicted) counting as 0.

    Example:
        >>> conditional_consistency([0, 1, 1], [0, 1, 0], ["quiet", "M"])["accuracy"]
        0.6666666666666666
    """
    from flarekit.metrics.multiclass import multiclass_scores

    scores = multiclass_scores(np.asarray(conditions), predicted, class_names)
    per_class = {
        name: {
            "precision": values["precision"],
            "recall": values["pod"],
            "f1": values["f1"],
            "support": values["support"],
        }
        for name, values in scores["per_class"].items()
    }
    present = [values for values in per_class.values() if values["support"] > 0]

    def macro(key):
        # A class that is never predicted has undefined precision; count it
        # as 0 (scikit-learn's zero_division=0), or a classifier that ignores
        # a rare class would look more precise.
        numbers = [0.0 if not np.isfinite(v[key]) else v[key] for v in present]
        return float(np.mean(numbers)) if numbers else float("nan")

    return {
        "macro_precision": macro("precision"),
        "macro_recall": macro("recall"),
        "macro_f1": macro("f1"),
        "accuracy": scores["accuracy"],
        "per_class": per_class,
        "confusion_matrix": scores["confusion_matrix"],
        "n": scores["n"],
    }
