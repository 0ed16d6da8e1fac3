"""Scoring a trained generator, comparing samplers, and rebalancing a classifier.

Three measurements on top of finished generation runs (SCIENCE.md,
"Generative metrics"), all against the real, untouched test split:

1. `score_images`: FID with a named feature extractor plus the real-vs-real
   floor, the cluster metrics of Hackstein et al. (2023), and conditional
   consistency, for any set of generated images and their conditions.
2. `sampler_table`: the same conditions sampled with DDPM 1000, DDIM 50 and
   20, and DPM-Solver++ 20 and 10 steps (and a CVAE baseline), with network
   evaluations and wall time beside every score.
3. `physical_profile`: per GOES class, the median mean |B| and log10 mean
   94-like intensity of the images, and their rank correlation with the
   class, for real and generated sets: whether the physics that sets the
   flare class in the synthetic Sun follows the condition.
4. `rebalancing_experiment`: a classifier of the flare class ladder (quiet,
   C, M, X) trained on the real training split with and without generated M
   and X images added, scored on the real test split: per-class accuracy and
   TSS, mean +- sd over seeds.

The feature extractor and the consistency classifier are one CNN trained on
real training images (the real-only classifier of the first seed); its name,
`flarekit-cnn-<classes>@<weights digest>`, goes with every FID, because FIDs
from different extractors are not comparable. A second extractor, the
encoder of a SimCLR run pretrained on the same dataset's training split with
the same channels (`find_simclr_encoder`), gives a second FID and floor,
`flarekit-simclr@<weights digest>`: features learnt without labels, so a
generator cannot score well merely by matching what the classifier looks at. The protocol closes trap 8:
the generator saw only the training split; generated images only ever enter
a training set; FID, cluster and consistency references are test images.

The class-matched design: a floor set F is drawn from the test split with
`per_class` images of every GOES class (as available), the reference R is
the rest of the test split, and every generator is asked for exactly F's
conditions. FID(G, R) is then directly comparable with the floor FID(F, R),
and the classifier's consistency on G with its accuracy on the real F.

`tools/generative_study.py` runs all four and writes `study.json` and
`study.md` with the tables.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from flarekit.data import goes

LADDER = ("quiet", "C", "M", "X")
# (sampler, steps) at the table's guidance scale, or (sampler, steps, scale).
SAMPLER_SETTINGS = (
    ("ddpm", 1000),
    ("ddim", 50),
    ("ddim", 20),
    ("dpmpp", 20),
    ("dpmpp", 10),
)
RARE_CLASSES = ("M", "X")


# ---- data ---------------------------------------------------------------------
def load_arrays(
    dataset, split: str, channels, bin_factor: int = 1, data_dir: str | None = None
) -> dict:
    """Images (binned, physical units), GOES class and peak flux of one split.

    Binning is `flarekit.layers.bin_pixels`, the numpy twin of the
    generators' DiskMask + AveragePooling2D, so real and generated images are
    on one grid and in one unit.

    Returns:
        {"images": [n, h, w, c] float32, "goes_class": [n] int, "peak_flux": [n],
        "channel_declarations": the dataset's declaration of each channel}.
    """
    from flarekit.data import pipeline, tasks
    from flarekit.layers.generative import bin_pixels

    builder = (
        dataset
        if hasattr(dataset, "as_dataset")
        else pipeline.get_builder(dataset, data_dir)
    )
    indices = tasks.channel_indices_for(channels, pipeline.channel_names(builder))
    task = tasks.generation("goes_class", indices)
    data = pipeline.make_dataset(
        builder,
        split,
        task=task,
        batch_size=512,
        cache=False,
        keep_features=("peak_flux",),
    )
    images, classes, flux = [], [], []
    for inputs, condition, meta in data:
        images.append(bin_pixels(inputs["images"].numpy(), bin_factor))
        classes.append(condition.numpy())
        flux.append(meta["peak_flux"].numpy())
    return {
        "images": np.concatenate(images),
        "goes_class": np.concatenate(classes).astype(np.int64),
        "peak_flux": np.concatenate(flux).astype(np.float64),
        "channel_declarations": pipeline.channel_declarations(builder, channels),
    }


def ladder_index(goes_class, class_names=LADDER) -> np.ndarray:
    """GOES class indices (quiet, A, B, C, M, X) -> indices of a coarser ladder.

    A class maps to the ladder class whose lower edge its own lower edge
    reaches; with the default ladder quiet, A and B all become "quiet".

    Example:
        >>> ladder_index([0, 1, 2, 3, 4, 5]).tolist()
        [0, 0, 0, 1, 2, 3]
    """
    from flarekit.data import tasks

    edges = np.array(
        [goes.QUIET_FLUX] + [goes.class_to_flux(name) for name in goes.GOES_CLASSES[1:]]
    )
    return tasks.multiclass(class_names).labels_from_flux(edges[np.asarray(goes_class)])


def class_matched_sets(goes_class, per_class: int, seed: int = 0):
    """Indices of a floor set F (up to `per_class` per GOES class, never more
    than half of a class) and of the reference R (all the rest).

    Returns:
        (floor_indices, reference_indices), sorted.
    """
    rng = np.random.default_rng(seed)
    goes_class = np.asarray(goes_class)
    floor = []
    for index in range(len(goes.GOES_CLASSES)):
        members = np.flatnonzero(goes_class == index)
        take = min(per_class, members.size // 2)
        floor.extend(rng.choice(members, take, replace=False).tolist())
    floor = np.sort(np.array(floor, dtype=np.int64))
    reference = np.setdiff1d(np.arange(goes_class.size), floor)
    return floor, reference


def per_class_for_size(goes_class, n_images: int) -> int:
    """The smallest `per_class` whose `class_matched_sets` floor set has at
    least `n_images` images.

    Raises:
        ValueError: the split cannot give that many (F takes at most half of
            each class).

    Example:
        >>> per_class_for_size([0] * 10 + [4] * 5 + [5] * 3, 6)
        3
    """
    halves = np.bincount(np.asarray(goes_class), minlength=len(goes.GOES_CLASSES)) // 2
    for per_class in range(1, int(halves.max(initial=0)) + 1):
        if np.minimum(halves, per_class).sum() >= n_images:
            return per_class
    raise ValueError(
        f"The test split gives at most {int(halves.sum())} class-matched floor "
        f"images (half of each GOES class: {halves.tolist()}); {n_images} were "
        "asked for. Ask for fewer images, or use a dataset with a larger test split."
    )


# ---- classifier: feature extractor, consistency, rebalancing -------------------
def train_classifier(
    images,
    labels,
    channels,
    declarations,
    class_names=LADDER,
    seed: int = 0,
    epochs: int = 3,
    batch_size: int = 64,
    filters=(16, 32, 64),
    dense_units: int = 32,
    learning_rate: float = 1e-3,
    class_weight: str = "none",
    normalization_images=None,
    verbose: int = 0,
):
    """A CNN classifier of the flare-class ladder from physical images.

    Args:
        images, labels: training images (physical units) and ladder indices.
        channels: channel names (for the preprocessing layers).
        declarations: the dataset's declaration of each channel (unit, kind,
            floor), e.g. `load_arrays(...)["channel_declarations"]`.
        class_weight: "none", or "balanced" (each class weighted by
            n / (K n_k), so rare classes count as much as common ones).
        normalization_images: images whose statistics normalise the input
            (the real training images; default `images`).

    Returns:
        A compiled, trained `keras.Model` with a layer "dense" (the features).
    """
    import keras

    from flarekit import layers, models

    keras.utils.set_random_seed(int(seed))
    preprocessing = layers.preprocessing_for(channels, declarations)
    classifier = models.build_cnn(
        images.shape[1:],
        filters=filters,
        dense_units=dense_units,
        dropout=0.3,
        preprocessing=preprocessing,
        head=keras.layers.Dense(
            len(class_names), activation="softmax", dtype="float32", name="flare_class"
        ),
        name="flare_class_cnn",
    )
    source = images if normalization_images is None else normalization_images
    upstream = keras.Model(classifier.inputs, preprocessing[-1].input)
    preprocessing[-1].adapt(
        upstream.predict_on_batch(source[start : start + 512])
        for start in range(0, len(source), 512)
    )
    classifier.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    labels = np.asarray(labels)
    classifier.fit(
        images,
        labels,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        class_weight=balanced_weights(labels, len(class_names), class_weight),
        verbose=verbose,
    )
    return classifier


def balanced_weights(labels, n_classes: int, mode: str = "balanced") -> dict | None:
    """{class: n / (K n_k)} for mode "balanced" (classes absent: weight 0), None
    for "none".

    Raises:
        ValueError: another mode.

    Example:
        >>> balanced_weights([0, 0, 0, 1], 2)
        {0: 0.6666666666666666, 1: 2.0}
    """
    if mode == "none":
        return None
    if mode != "balanced":
        raise ValueError(f"class_weight must be 'none' or 'balanced', got {mode!r}.")
    counts = np.bincount(np.asarray(labels), minlength=n_classes)
    total = counts.sum()
    return {
        k: float(total / (n_classes * count)) if count else 0.0
        for k, count in enumerate(counts)
    }


def extractor_name(classifier, class_names=LADDER) -> str:
    """'flarekit-cnn-quiet.C.M.X@<digest>': the classifier's classes and a
    digest of its weights, so an FID names exactly the network it used."""
    return f"flarekit-cnn-{'.'.join(class_names)}@{weights_digest(classifier)}"


def weights_digest(model) -> str:
    """The first 10 hex digits of a SHA-1 of the model's weights."""
    digest = hashlib.sha1()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:10]


def find_simclr_encoder(dataset: str, channels, runs_dir=None) -> Path | None:
    """`encoder.keras` of the newest finished (non-smoke) SimCLR run pretrained
    on `dataset` with exactly `channels` (in order), or None when there is none.

    Args:
        runs_dir: the folder of SimCLR run folders (default: the
            `ssl/simclr_pretrain` starter's, as `latest_run` finds it).

    Example:
        >>> find_simclr_encoder("synthetic_sun/active_region", ("magnetogram", "euv_94"))
    """
    run = latest_run(
        "ssl/simclr_pretrain",
        where={"dataset": dataset, "channels": tuple(channels)},
        base=runs_dir,
    )
    encoder = None if run is None else run / "encoder.keras"
    return encoder if encoder is not None and encoder.exists() else None


def load_simclr_extractor(path, channels) -> tuple[str, object]:
    """(name, encoder) of a saved SimCLR encoder, checked against `channels`.

    Raises:
        FileNotFoundError: no encoder at `path` (a file, or a run folder).
        ValueError: the encoder takes another number of channels.
    """
    from flarekit.models import load_encoder

    path = Path(path)
    if path.is_dir():
        path = path / "encoder.keras"
    encoder = load_encoder(path)
    expected = encoder.inputs[0].shape[-1]
    if expected != len(channels):
        raise ValueError(
            f"SimCLR encoder {path} takes {expected} channels; the generated images "
            f"have {len(channels)} ({', '.join(channels)}). Pretrain one with "
            f"channels={tuple(channels)}."
        )
    return f"flarekit-simclr@{weights_digest(encoder)}", encoder


def feature_model(classifier):
    """The classifier up to its penultimate dense layer (the FID features)."""
    import keras

    return keras.Model(classifier.inputs, classifier.get_layer("dense").output)


def _predict(model, images, batch_size: int = 512) -> np.ndarray:
    return np.concatenate(
        [
            np.asarray(model.predict_on_batch(images[start : start + batch_size]))
            for start in range(0, len(images), batch_size)
        ]
    )


class Scorer:
    """Scores image sets against the real reference with one named extractor.

    Args:
        classifier: the real-trained ladder classifier.
        reference_images: held-out real images (R).
        floor_images: other held-out real images (F), class-matched with
            the generated sets.
        n_clusters: k of the cluster metrics' k-means.
        class_names: the classifier's classes.
        extra_extractors: {label: (name, model)} further feature extractors
            (images -> [n, d] features), each giving its own FID and floor
            under "extra_fid"[label]; e.g. {"simclr": load_simclr_extractor(...)}.
    """

    def __init__(
        self,
        classifier,
        reference_images,
        floor_images,
        n_clusters: int = 8,
        class_names=LADDER,
        seed: int = 0,
        extra_extractors=None,
    ):
        from flarekit.metrics.generative import fit_clusters

        self.classifier = classifier
        self.features = feature_model(classifier)
        self.class_names = tuple(class_names)
        self.extractor = extractor_name(classifier, class_names)
        self.reference_features = _predict(self.features, reference_images)
        self.floor_features = _predict(self.features, floor_images)
        self.kmeans = fit_clusters(self.reference_features, n_clusters, seed)
        self.extra = {
            label: (
                name,
                model,
                _predict(model, reference_images),
                _predict(model, floor_images),
            )
            for label, (name, model) in dict(extra_extractors or {}).items()
        }

    def score(self, images, goes_conditions) -> dict:
        """FID (+ floor), cluster metrics and consistency of one image set.

        Args:
            images: [n, h, w, c] physical images (generated, or real F).
            goes_conditions: [n] GOES class indices they were generated for.
        """
        from flarekit.metrics.generative import (
            cluster_metrics,
            conditional_consistency,
            fid,
        )

        features = _predict(self.features, images)
        probabilities = _predict(self.classifier, images)
        consistency = conditional_consistency(
            ladder_index(goes_conditions, self.class_names),
            probabilities,
            self.class_names,
        )
        return {
            **fid(
                self.reference_features, features, self.extractor, self.floor_features
            ),
            **{
                k: v
                for k, v in cluster_metrics(
                    self.reference_features, features, kmeans=self.kmeans
                ).items()
                if not k.startswith("fraction")
            },
            "consistency": consistency,
            "extra_fid": {
                label: fid(reference, _predict(model, images), name, floor)
                for label, (name, model, reference, floor) in self.extra.items()
            },
        }


# ---- sampler table ----------------------------------------------------------------
def sampler_table(
    generator,
    goes_conditions,
    scorer: Scorer,
    settings=SAMPLER_SETTINGS,
    guidance_scale: float = 2.0,
    seed: int = 0,
    log=print,
):
    """Sample the same conditions with each (sampler, steps) and score them.

    Returns:
        (rows, images): one dict per setting (sampler, steps, network
        evaluations, wall seconds, seconds per image, every score), and the
        generated images by setting name.
    """
    rows, images_by_setting = [], {}
    for setting in settings:
        sampler, steps = setting[:2]
        scale = float(setting[2]) if len(setting) > 2 else float(guidance_scale)
        name = f"{sampler}{steps}" + (f"_w{scale:g}" if len(setting) > 2 else "")
        log(f"flarekit: sampling {len(goes_conditions)} images with {name} ...")
        images, timing = generator.timed_generate(
            goes_conditions,
            sampler=sampler,
            num_steps=steps,
            guidance_scale=scale,
            seed=seed,
        )
        scores = scorer.score(images, goes_conditions)
        rows.append(
            {
                "setting": name,
                "sampler": sampler,
                "guidance_scale": scale,
                "n_images": len(goes_conditions),
                **timing,
                "s_per_image": timing["wall_s"] / len(goes_conditions),
                **scores,
            }
        )
        images_by_setting[name] = images
        extra = "".join(
            f", FID[{label}] {value['fid']:.2f}"
            for label, value in scores["extra_fid"].items()
        )
        log(
            f"flarekit: {name}: {timing['wall_s']:.1f} s, FID {scores['fid']:.2f}"
            f"{extra}, consistency macro-F1 {scores['consistency']['macro_f1']:.3f}"
        )
    return rows, images_by_setting


# ---- physical profile -------------------------------------------------------------
def image_statistics(images, channels) -> dict:
    """Per-image physical summaries: mean |B| (G) of the magnetogram and the
    log10 mean of each intensity channel, over finite pixels.

    Example:
        >>> image_statistics(np.full((1, 2, 2, 2), 10.0), ("magnetogram", "euv_94"))
        {'mean_abs_b': array([10.]), 'log_euv_94': array([1.])}
    """
    images = np.asarray(images, dtype=np.float64)
    statistics = {}
    for index, name in enumerate(channels):
        values = images[..., index].reshape(len(images), -1)
        if name == "magnetogram":
            statistics["mean_abs_b"] = np.nanmean(np.abs(values), axis=1)
        else:
            statistics[f"log_{name}"] = np.log10(
                np.maximum(np.nanmean(values, axis=1), 1e-12)
            )
    return statistics


def physical_profile(images, goes_conditions, channels) -> dict:
    """How image physics follows the GOES class: per class, the median of each
    `image_statistics` value; over all images, Spearman's rank correlation
    of each with the class index.

    In the synthetic Sun (SYNTHETIC_SUN.md) the flare rate and the largest
    flare grow with the region's flux and complexity, and the hot channel
    brightens after flares, so real images of higher classes have more
    unsigned flux and brighter 94-like corona. A generator that recovers the
    class reproduces these trends, whatever a classifier makes of them.

    Returns:
        {"per_class": {class: {"n", statistic: median}}, "spearman": {statistic: rho}}.
    """
    from scipy.stats import spearmanr

    goes_conditions = np.asarray(goes_conditions)
    statistics = image_statistics(images, channels)
    per_class = {}
    for index, name in enumerate(goes.GOES_CLASSES):
        members = goes_conditions == index
        if members.any():
            per_class[name] = {"n": int(members.sum())} | {
                key: float(np.nanmedian(values[members]))
                for key, values in statistics.items()
            }
    spearman = {}
    for key, values in statistics.items():
        finite = np.isfinite(values)
        varied = np.unique(goes_conditions[finite]).size > 1
        spearman[key] = (
            float(spearmanr(goes_conditions[finite], values[finite])[0])
            if varied
            else float("nan")
        )
    return {"per_class": per_class, "spearman": spearman}


def profile_markdown(profiles: dict) -> str:
    """One row per image set: per-class medians of each statistic, and the
    rank correlation of each with the class."""
    if not profiles:
        return ""
    first = next(iter(profiles.values()))
    keys = list(first["spearman"])
    classes = [
        c
        for c in goes.GOES_CLASSES
        if any(c in p["per_class"] for p in profiles.values())
    ]
    header = (
        "| images | "
        + " | ".join(f"{key} {name}" for key in keys for name in classes)
        + " | "
        + " | ".join(f"Spearman {key}" for key in keys)
        + " |"
    )
    lines = [header, "|" + "---|" * (1 + len(keys) * (len(classes) + 1))]
    for setting, profile in profiles.items():
        cells = [
            _number(profile["per_class"].get(name, {}).get(key, float("nan")), 3)
            for key in keys
            for name in classes
        ] + [_number(profile["spearman"][key], 3) for key in keys]
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- rebalancing ------------------------------------------------------------------
def rebalancing_experiment(
    train: dict,
    test: dict,
    generator,
    channels,
    seeds=(0, 1, 2),
    extra_per_class: int = 256,
    sampler: str = "dpmpp",
    steps: int = 20,
    guidance_scale: float = 2.0,
    classifier_options=None,
    reweighting_baseline: bool = True,
    trained=None,
    log=print,
):
    """Real-only vs real + generated M and X: per-class accuracy and TSS.

    The generator adds `extra_per_class` images of each rare class (M, X) to
    the real training split; normalisation statistics stay those of the real
    training images; the test split is real and untouched (trap 2, trap 8).
    One generated set serves every seed (the seeds vary the classifier's
    initialisation and batch order). Arms:

    - "real_only": the real training split, unweighted;
    - "real_plus_generated": plus the generated M and X images, unweighted;
    - "real_only_balanced" (with `reweighting_baseline`): the real split with
      balanced class weights, the no-generator way to favour rare classes,
      which any generative augmentation has to beat.

    Args:
        train, test: `load_arrays` dicts of the real training and test splits.
        generator: a model with `generate` (DiffusionModel, ConditionalVAE).
        trained: {(arm, seed): already trained classifier} to reuse (the
            study's consistency classifier is ("real_only_balanced", seed 0)).

    Returns:
        dict with `per_seed` (scores per arm), `aggregate` (mean, sd, n per
        key and arm), `generated` (counts, sampler, wall time, and the
        consistency of the generated images under the balanced seed-0
        classifier when it exists), counts per class and `class_names`.
    """
    from flarekit.metrics import aggregate_runs, multiclass_scores
    from flarekit.metrics.generative import conditional_consistency

    options = dict(classifier_options or {})
    options.pop("class_weight", None)
    trained = dict(trained or {})
    train_labels = ladder_index(train["goes_class"])
    test_labels = ladder_index(test["goes_class"])
    conditions = np.repeat(
        [goes.GOES_CLASSES.index(name) for name in RARE_CLASSES], extra_per_class
    )
    started = time.perf_counter()
    generated = generator.generate(
        conditions,
        sampler=sampler,
        num_steps=steps,
        guidance_scale=guidance_scale,
        seed=10_000,
        batch_size=256,
    )
    generation_s = time.perf_counter() - started
    arms = {
        "real_only": (train["images"], train_labels, "none"),
        "real_plus_generated": (
            np.concatenate([train["images"], generated]),
            np.concatenate([train_labels, ladder_index(conditions)]),
            "none",
        ),
    }
    if reweighting_baseline:
        arms["real_only_balanced"] = (train["images"], train_labels, "balanced")

    per_seed = {arm: [] for arm in arms}
    for seed in seeds:
        for arm, (images, labels, weighting) in arms.items():
            log(f"flarekit: rebalancing seed {seed}, {arm} ({len(images)} images) ...")
            classifier = trained.get((arm, seed))
            if classifier is None:
                classifier = train_classifier(
                    images,
                    labels,
                    channels,
                    train["channel_declarations"],
                    seed=seed,
                    class_weight=weighting,
                    normalization_images=train["images"],
                    **options,
                )
                trained[(arm, seed)] = classifier
            scores = multiclass_scores(
                test_labels, _predict(classifier, test["images"]), LADDER
            )
            per_seed[arm].append(
                {
                    "seed": seed,
                    "accuracy": scores["accuracy"],
                    "macro_f1": scores["macro_f1"],
                    "per_class": {
                        name: {
                            "accuracy": values["pod"],
                            "tss": values["tss"],
                            "support": values["support"],
                        }
                        for name, values in scores["per_class"].items()
                    },
                    "confusion_matrix": scores["confusion_matrix"],
                }
            )
    keys = ["accuracy", "macro_f1"] + [
        f"per_class.{name}.{score}" for name in LADDER for score in ("accuracy", "tss")
    ]
    judge = trained.get(("real_only_balanced", seeds[0]))
    return {
        "class_names": list(LADDER),
        "per_seed": per_seed,
        "aggregate": {
            arm: aggregate_runs(rows, keys) for arm, rows in per_seed.items()
        },
        "generated": {
            "per_class": extra_per_class,
            "classes": list(RARE_CLASSES),
            "sampler": sampler,
            "steps": steps,
            "guidance_scale": guidance_scale,
            "wall_s": generation_s,
            "consistency": None
            if judge is None
            else conditional_consistency(
                ladder_index(conditions), _predict(judge, generated), LADDER
            ),
        },
        "train_counts": {
            name: int(np.sum(train_labels == i)) for i, name in enumerate(LADDER)
        },
        "test_counts": {
            name: int(np.sum(test_labels == i)) for i, name in enumerate(LADDER)
        },
    }


# ---- tables -----------------------------------------------------------------------
def _number(value, digits: int = 3) -> str:
    from flarekit.metrics import format_number

    return format_number(value, digits)


def sampler_markdown(rows) -> str:
    """The sampler table as markdown: cost beside every score (an FID and its
    floor per extra extractor too, when the rows have them)."""
    labels = list(rows[0].get("extra_fid") or {}) if rows else []
    header = (
        "| generator | guidance w | steps | network evals / image | wall s | "
        "s / image | FID | FID floor | "
        + "".join(f"FID {label} | FID {label} floor | " for label in labels)
        + "cluster error | cluster distance | "
        "cluster std | consistency macro-F1 | precision | recall |"
    )
    lines = [header, "|" + "---|" * (14 + 2 * len(labels))]
    for row in rows:
        consistency = row["consistency"]
        extra = "".join(
            f"{_number(row['extra_fid'][label]['fid'], 2)} | "
            f"{_number(row['extra_fid'][label]['fid_floor'], 2)} | "
            for label in labels
        )
        lines.append(
            f"| {row['setting']} | {row.get('guidance_scale', '')} | {row['steps']} | "
            f"{row['network_evaluations']} | "
            f"{_number(row['wall_s'], 1)} | {_number(row['s_per_image'], 3)} | "
            f"{_number(row['fid'], 2)} | {_number(row['fid_floor'], 2)} | {extra}"
            f"{_number(row['cluster_error'])} | {_number(row['cluster_distance'])} | "
            f"{_number(row['cluster_std'])} | {_number(consistency['macro_f1'])} | "
            f"{_number(consistency['macro_precision'])} | "
            f"{_number(consistency['macro_recall'])} |"
        )
    return "\n".join(lines)


def rebalancing_markdown(result: dict) -> str:
    """Per-class accuracy and TSS, mean +- sd over seeds, for each arm; then
    the class counts and how the consistency classifier sees the added images."""
    from flarekit.metrics import format_mean_sd

    aggregate = result["aggregate"]
    lines = [
        "| arm | accuracy | macro-F1 | "
        + " | ".join(f"{name} acc | {name} TSS" for name in LADDER)
        + " |",
        "|" + "---|" * (3 + 2 * len(LADDER)),
    ]
    for arm, stats in aggregate.items():
        cells = [
            format_mean_sd(stats[k]["mean"], stats[k]["sd"])
            for k in ["accuracy", "macro_f1"]
            + [
                f"per_class.{name}.{score}"
                for name in LADDER
                for score in ("accuracy", "tss")
            ]
        ]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    generated = result["generated"]
    lines += [
        "",
        (
            f"Training counts {result['train_counts']}; test counts "
            f"{result['test_counts']}. Added: {generated['per_class']} generated "
            f"images of each of {', '.join(generated['classes'])} "
            f"({generated['sampler']} {generated['steps']} steps, guidance "
            f"{generated['guidance_scale']:g}, {generated['wall_s']:.0f} s)."
        ),
    ]
    consistency = generated.get("consistency")
    if consistency:
        recalls = ", ".join(
            f"{name} {_number(consistency['per_class'][name]['recall'])}"
            for name in generated["classes"]
        )
        lines.append(
            f"The balanced real-trained classifier assigns the added images to their "
            f"conditioning class with recall {recalls}."
        )
    return "\n".join(lines)


def write_study(out_dir, results: dict) -> Path:
    """study.json and study.md (tables and settings) in `out_dir`, atomically."""
    from flarekit.io import write_json_atomic, write_text_atomic

    out_dir = Path(out_dir)
    write_json_atomic(out_dir / "study.json", results)
    lines = [f"# Generative study: {results.get('title', '')}", ""]
    for key, value in results.get("settings", {}).items():
        lines.append(f"- {key}: {value}")
    if "sampler_rows" in results:
        lines += ["", "## Sampler table", "", sampler_markdown(results["sampler_rows"])]
    if "speedup" in results:
        lines += ["", results["speedup"]]
    if results.get("physical_profile"):
        lines += [
            "",
            "## Physical profile: per-class medians and rank correlation with the class",
            "",
            profile_markdown(results["physical_profile"]),
        ]
    if "rebalancing" in results:
        lines += [
            "",
            "## Rebalancing (real test split, mean ± sd over seeds)",
            "",
            rebalancing_markdown(results["rebalancing"]),
        ]
    if "timings" in results:
        lines += ["", "## Wall time per phase (s)", ""]
        lines += [f"- {key}: {value:.1f}" for key, value in results["timings"].items()]
    write_text_atomic(out_dir / "study.md", "\n".join(lines) + "\n")
    return out_dir / "study.md"


def speedup_sentence(rows) -> str:
    """'DPM-Solver++ 20 is N x faster than DDPM 1000 at FID a vs b ...'."""
    by_name = {row["setting"]: row for row in rows}
    if "ddpm1000" not in by_name or "dpmpp20" not in by_name:
        return ""
    slow, fast = by_name["ddpm1000"], by_name["dpmpp20"]
    ratio = slow["wall_s"] / fast["wall_s"] if fast["wall_s"] else float("nan")
    return (
        f"At guidance w = {fast['guidance_scale']:g}, DPM-Solver++ at 20 steps "
        f"took {fast['wall_s']:.1f} s against {slow['wall_s']:.1f} s for DDPM at "
        f"1000 steps: a {ratio:.1f}x speed-up, at FID {fast['fid']:.2f} vs "
        f"{slow['fid']:.2f} (real floor {slow['fid_floor']:.2f}) and "
        f"consistency macro-F1 {fast['consistency']['macro_f1']:.3f} vs "
        f"{slow['consistency']['macro_f1']:.3f}."
    )


# ---- the whole study ----------------------------------------------------------------
DIFFUSION_EXPERIMENT = "generation/conditional_diffusion"
CVAE_EXPERIMENT = "generation/cvae"


def train_generators(
    smoke: bool = False, diffusion_overrides=None, cvae_overrides=None, log=print
) -> tuple[Path, Path, dict]:
    """Train the diffusion starter and the CVAE baseline (fresh runs).

    Returns:
        (diffusion run folder, cvae run folder, wall seconds of each).
    """
    from flarekit.experiments import find_experiment, run_experiment

    timings = {}
    runs = []
    for name, overrides in (
        (DIFFUSION_EXPERIMENT, diffusion_overrides),
        (CVAE_EXPERIMENT, cvae_overrides),
    ):
        started = time.perf_counter()
        log(f"flarekit: training {name} ...")
        runs.append(
            run_experiment(
                find_experiment(name), smoke=smoke, fresh=True, **dict(overrides or {})
            )
        )
        timings[f"train_{name.split('/')[-1]}_s"] = time.perf_counter() - started
    # Experiment.run may switch the process to mixed precision; the scoring
    # classifiers that follow are trained in float32.
    import keras

    keras.mixed_precision.set_global_policy("float32")
    return runs[0], runs[1], timings


def study_folder(name: str) -> Path:
    """`<runs root>/generative_study/<name>`: under FLAREKIT_RUNS_DIR when set,
    else the project's runs/ (as every run folder)."""
    from flarekit.experiments import find_experiment, load_config, runs_root

    folder = find_experiment(DIFFUSION_EXPERIMENT)
    return runs_root(load_config(folder), folder) / "generative_study" / name


def latest_run(
    experiment: str, smoke: bool = False, where=None, base=None
) -> Path | None:
    """The newest finished run (one with metrics.json) of an experiment whose
    smoke setting matches, or None.

    Args:
        where: {config key: value} the run's config.json must also have
            (tuples compare as the lists JSON stores).
        base: the folder of the experiment's run folders (default: under
            the runs root, as `run_experiment` writes them).

    Example:
        >>> latest_run("generation/conditional_diffusion")
    """
    import json

    if base is None:
        from flarekit.experiments import (
            experiment_name,
            find_experiment,
            load_config,
            runs_root,
        )

        folder = find_experiment(experiment)
        config = load_config(folder, smoke=smoke)
        base = runs_root(config, folder) / experiment_name(folder)
    base = Path(base)
    if not base.is_dir():
        return None
    wanted = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in {"smoke": smoke, **dict(where or {})}.items()
    }
    for run in sorted(base.iterdir(), reverse=True):
        config_path = run / "config.json"
        if not ((run / "metrics.json").exists() and config_path.exists()):
            continue
        config = json.loads(config_path.read_text())
        if all(
            config.get(key, False if key == "smoke" else None) == value
            for key, value in wanted.items()
        ):
            return run
    return None


def scoring_setup(
    diffusion_run,
    per_class: int | None = 8,
    min_images: int = 0,
    seed: int = 0,
    classifier_options=None,
    classifier=None,
    n_clusters: int = 8,
    data_dir: str | None = None,
    simclr_encoder="auto",
    log=print,
) -> dict:
    """What every study of a diffusion run scores against, made once.

    Loads the real train and test splits on the generator's grid (the run's
    dataset, channels and bin factor), trains the ladder classifier (the FID
    extractor and consistency judge, balanced class weights) unless one is
    given, draws the class-matched floor set F and reference R from the test
    split, finds the second (SimCLR) extractor and builds the `Scorer`.

    Args:
        diffusion_run: a finished diffusion run folder.
        per_class: floor-set images per GOES class; None: the smallest number
            that gives at least `min_images` images (`per_class_for_size`).
        min_images: with `per_class=None`, the least size of F (and so of
            every generated set asked for F's conditions).
        seed: the classifier's seed.
        classifier_options: keyword arguments of `train_classifier`.
        classifier: an already trained classifier to use instead of training
            one (e.g. the one a resumed study saved, so its FIDs stay
            comparable with those scored before); the training split is then
            not loaded ("train" is None).
        simclr_encoder: a SimCLR `encoder.keras` (or its run folder); "auto"
            takes the newest SimCLR run on the same dataset and channels
            (`find_simclr_encoder`); None uses none.

    Returns:
        {"config", "channels", "bin_factor", "train", "test", "classifier",
        "classifier_options", "per_class", "floor", "reference", "scorer",
        "simclr_encoder" (path or None), "extra_extractors", "timings"}.

    Raises:
        ValueError: `per_class=None` and the test split cannot give
            `min_images` images.

    Example:
        >>> setup = scoring_setup("runs/generation/conditional_diffusion/2026...",
        ...                       per_class=None, min_images=256)
    """
    import json

    timings = {}
    clock = time.perf_counter()
    config = json.loads((Path(diffusion_run) / "config.json").read_text())
    channels, bin_factor = tuple(config["channels"]), int(config["bin_factor"])
    # The training split only trains the classifier.
    train = None
    if classifier is None:
        train = load_arrays(config["dataset"], "train", channels, bin_factor, data_dir)
    test = load_arrays(config["dataset"], "test", channels, bin_factor, data_dir)
    timings["load_data_s"] = time.perf_counter() - clock
    log(
        f"flarekit: {'no' if train is None else len(train['images'])} train, "
        f"{len(test['images'])} test images of {test['images'].shape[1:]}"
    )

    clock = time.perf_counter()
    options = dict(classifier_options or {})
    if classifier is None:
        # Balanced class weights: an unweighted classifier of a ladder that is
        # 78 % quiet learns to say "quiet", and then recovers no class at all.
        classifier = train_classifier(
            train["images"],
            ladder_index(train["goes_class"]),
            channels,
            train["channel_declarations"],
            seed=seed,
            class_weight="balanced",
            **options,
        )
    if per_class is None:
        per_class = per_class_for_size(test["goes_class"], min_images)
    floor, reference = class_matched_sets(test["goes_class"], per_class, seed=0)
    if simclr_encoder == "auto":
        simclr_encoder = find_simclr_encoder(config["dataset"], channels)
    extra_extractors = {}
    if simclr_encoder is not None:
        extra_extractors["simclr"] = load_simclr_extractor(simclr_encoder, channels)
        log(f"flarekit: second FID extractor {simclr_encoder}")
    else:
        log(
            "flarekit: no SimCLR encoder on this dataset and these channels; "
            "FID uses the classifier's features only"
        )
    scorer = Scorer(
        classifier,
        test["images"][reference],
        test["images"][floor],
        n_clusters=n_clusters,
        extra_extractors=extra_extractors,
    )
    timings["train_extractor_classifier_s"] = time.perf_counter() - clock
    return {
        "config": config,
        "channels": channels,
        "bin_factor": bin_factor,
        "train": train,
        "test": test,
        "classifier": classifier,
        "classifier_options": options,
        "per_class": int(per_class),
        "floor": floor,
        "reference": reference,
        "scorer": scorer,
        "simclr_encoder": simclr_encoder,
        "extra_extractors": extra_extractors,
        "timings": timings,
    }


def study_scoring_setup(
    out_dir,
    diffusion_run,
    previous: dict | None,
    classifier_file: str,
    per_class: int | None = None,
    simclr_encoder="auto",
    require_second_extractor: bool = False,
    **options,
) -> dict:
    """`scoring_setup` for a resumable study folder.

    A folder with earlier results (`previous`, whose "settings" hold
    "simclr_encoder" and "per_class") reuses its saved classifier, encoder and
    floor-set size, so the FIDs already written stay comparable; a new folder
    trains the classifier and saves it atomically as `classifier_file`.

    Args:
        require_second_extractor: raise, before any data is loaded, when no
            SimCLR encoder is given or found.
        options: further keyword arguments of `scoring_setup`.

    Raises:
        ValueError: no second extractor while one is required.
    """
    import json

    from flarekit.experiments import load_saved_model
    from flarekit.experiments.checkpoints import save_model_atomic

    out_dir = Path(out_dir)
    classifier = None
    if previous is not None:
        classifier = load_saved_model(out_dir / classifier_file)
        if simclr_encoder == "auto":
            simclr_encoder = previous["settings"]["simclr_encoder"]
        if per_class is None:
            per_class = previous["settings"]["per_class"]
    if simclr_encoder == "auto":
        config = json.loads((Path(diffusion_run) / "config.json").read_text())
        simclr_encoder = find_simclr_encoder(config["dataset"], config["channels"])
    if require_second_extractor and simclr_encoder is None:
        config = json.loads((Path(diffusion_run) / "config.json").read_text())
        raise ValueError(
            f"No SimCLR encoder for {config['dataset']} with channels "
            f"{tuple(config['channels'])}: the study asks for FID with both "
            "extractors. Pretrain one (network_models/ssl/simclr_pretrain), pass "
            "its encoder (simclr_encoder=... / --simclr-encoder PATH), or accept "
            "one extractor (require_second_extractor=False / --simclr-encoder none)."
        )
    setup = scoring_setup(
        diffusion_run,
        per_class=per_class,
        classifier=classifier,
        simclr_encoder=simclr_encoder,
        **options,
    )
    if classifier is None:
        save_model_atomic(setup["classifier"], out_dir / classifier_file)
    return setup


def run_study(
    out_dir,
    diffusion_run,
    cvae_run=None,
    per_class: int = 8,
    guidance_scale: float = 2.0,
    rebalancing_guidance: float = 2.0,
    seeds=(0, 1, 2),
    extra_per_class: int = 256,
    settings=SAMPLER_SETTINGS,
    classifier_options=None,
    n_clusters: int = 8,
    data_dir: str | None = None,
    timings=None,
    simclr_encoder="auto",
    log=print,
) -> Path:
    """Score a diffusion run (and a CVAE run) and run the rebalancing experiment.

    Args:
        out_dir: where study.json, study.md and figures/ go.
        diffusion_run, cvae_run: finished run folders (`train_generators`).
        per_class: floor-set (and generated-set) images per GOES class.
        guidance_scale: classifier-free guidance of the table's samplers
            (rows given as (sampler, steps, scale) use their own).
        rebalancing_guidance: guidance of the images added to the classifier.
        seeds: classifier seeds of the rebalancing experiment.
        extra_per_class: generated images added per rare class (M, X).
        settings: (sampler, steps) rows of the sampler table.
        classifier_options: keyword arguments of `train_classifier`.
        timings: wall seconds measured before (e.g. training), to report.
        simclr_encoder: a SimCLR `encoder.keras` (or its run folder) as the
            second FID extractor; "auto" (default) takes the newest SimCLR run
            on the same dataset and channels (`find_simclr_encoder`), None
            uses none.

    Returns:
        The path of study.md.
    """
    from flarekit.experiments.generation import (
        load_generator,
        plot_contact_sheet,
        save_figure,
    )
    from flarekit.io import atomic_write

    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    timings = dict(timings or {})
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    setup = scoring_setup(
        diffusion_run,
        per_class=per_class,
        seed=seeds[0],
        classifier_options=classifier_options,
        n_clusters=n_clusters,
        data_dir=data_dir,
        simclr_encoder=simclr_encoder,
        log=log,
    )
    timings.update(setup["timings"])
    clock = time.perf_counter()
    generator = load_generator(diffusion_run)
    config, channels = setup["config"], setup["channels"]
    bin_factor = setup["bin_factor"]
    train, test, classifier = setup["train"], setup["test"], setup["classifier"]
    floor, reference, scorer = setup["floor"], setup["reference"], setup["scorer"]
    options, simclr_encoder = setup["classifier_options"], setup["simclr_encoder"]
    extra_extractors = setup["extra_extractors"]
    conditions = test["goes_class"][floor]
    real_row = {
        "setting": "real test images (floor)",
        "sampler": "none",
        "steps": 0,
        "network_evaluations": 0,
        "wall_s": float("nan"),
        "s_per_image": float("nan"),
        "n_images": len(floor),
        **scorer.score(test["images"][floor], conditions),
    }
    log(
        f"flarekit: extractor {scorer.extractor}; floor FID {real_row['fid']:.2f}; "
        f"real consistency macro-F1 {real_row['consistency']['macro_f1']:.3f}"
    )
    rows, images = sampler_table(
        generator, conditions, scorer, settings, guidance_scale, seed=0, log=log
    )
    lap("sampler_table_s")
    if cvae_run is not None:
        cvae = load_generator(cvae_run)
        cvae_images, timing = cvae.timed_generate(conditions, seed=0)
        rows.append(
            {
                "setting": "cvae",
                "sampler": "decoder",
                "guidance_scale": 1.0,
                "n_images": len(conditions),
                **timing,
                "s_per_image": timing["wall_s"] / len(conditions),
                **scorer.score(cvae_images, conditions),
            }
        )
        images["cvae"] = cvae_images
    rows.insert(0, real_row)
    names = [goes.GOES_CLASSES[i] for i in conditions]
    save_figure(
        plot_contact_sheet(test["images"][floor], names, channels),
        out_dir / "figures" / "real_floor_set.png",
    )
    atomic_write(
        out_dir / "generated.npz",
        lambda file: np.savez_compressed(
            file, conditions=conditions, real_floor=test["images"][floor], **images
        ),
        mode="wb",
    )
    for setting, generated in images.items():
        save_figure(
            plot_contact_sheet(generated, names, channels),
            out_dir / "figures" / f"generated_{setting}.png",
        )
    profiles = {
        "real test split (all)": physical_profile(
            test["images"], test["goes_class"], channels
        ),
        "real test images (floor)": physical_profile(
            test["images"][floor], conditions, channels
        ),
    } | {
        setting: physical_profile(generated, conditions, channels)
        for setting, generated in images.items()
    }
    lap("cvae_and_figures_s")

    rebalancing = rebalancing_experiment(
        train,
        test,
        generator,
        channels,
        seeds=seeds,
        extra_per_class=extra_per_class,
        guidance_scale=rebalancing_guidance,
        classifier_options=options,
        trained={("real_only_balanced", seeds[0]): classifier},
        log=log,
    )
    lap("rebalancing_s")
    results = {
        "title": f"{config['dataset']}, {'+'.join(channels)}, "
        f"{train['images'].shape[1]}x{train['images'].shape[2]} px",
        "settings": {
            "diffusion_run": str(diffusion_run),
            "cvae_run": str(cvae_run),
            "dataset": config["dataset"],
            "channels": list(channels),
            "generated_size": list(train["images"].shape[1:3]),
            "bin_factor": bin_factor,
            "generator_trained_on": "train split only",
            "feature_extractor": scorer.extractor,
            "second_feature_extractor": (
                f"{extra_extractors['simclr'][0]} ({simclr_encoder})"
                if extra_extractors
                else "none (no SimCLR run on this dataset and channels)"
            ),
            "reference": f"{len(reference)} real test images (R)",
            "floor_and_conditions": f"{len(floor)} real test images (F), up to "
            f"{per_class} per GOES class; generators get F's classes",
            "guidance_scale": guidance_scale,
            "rebalancing_guidance": rebalancing_guidance,
            "classifier_classes": list(LADDER),
            "classifier_options": options,
            "consistency_classifier": "real training split, balanced class weights, "
            f"seed {seeds[0]} (also the FID extractor)",
            "seeds": list(seeds),
        },
        "sampler_rows": rows,
        "speedup": speedup_sentence(rows),
        "physical_profile": profiles,
        "rebalancing": rebalancing,
        "timings": timings,
    }
    return write_study(out_dir, results)
