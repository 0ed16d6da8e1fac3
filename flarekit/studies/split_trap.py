"""The split trap: how much a random split inflates a flare forecaster's TSS.

Every example of a built synthetic-Sun dataset (train, validation and test
together: the pool) is re-split three ways, each with the sizes of the
dataset's own splits:

- "random": examples drawn at random (the trap). Patches of one region a few
  hours apart are near copies, so the test set holds regions the network has
  memorised.
- "month_interleaved": the time line cut into blocks (30 days by default) and
  the blocks dealt to train / validation / test in proportion (SolarNet's
  month-interleaved configs). Only the regions alive across a block edge
  leak.
- "chronological": the dataset's splits as built (flarekit): train, then
  validation, then test, with a gap and no region in two parts.

The same forecaster (the starter network `xray_flux_forecast/starting_point`,
its config, float32) trains on each with the same epochs, batch and learning
rate; the weights of the epoch with the lowest validation loss are kept, and
the decision threshold is the one that maximises TSS on validation. On the
test set of each protocol the study reports TSS, ROC AUC, the Bayes ceiling
(the dataset's true probability thresholded optimally,
`flarekit.metrics.bayes_ceiling`), TSS minus ceiling, and how many test
regions also appear in training. A test TSS above what the split-free truth
allows, or far closer to it than the chronological split gets, is leakage.

Writes `<output>/split_trap.md` (settings, sizes, mean +- sd table, cost),
`split_trap.csv` (one row per protocol and seed), `split_trap.json` and
`figures/split_trap.png`.

Run:
    python -m flarekit.studies.split_trap --seeds 0 1 2 --epochs 8 \
        --output docs/results/split_trap

Example:
    >>> folder = run_split_trap(seeds=(0,), smoke=True, output_dir="runs/trap")
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path

import numpy as np

from flarekit import io

PROTOCOLS = {
    "random": "random by patch (the trap)",
    "month_interleaved": "month-interleaved blocks (SolarNet-style)",
    "chronological": "chronological, region-disjoint (flarekit)",
}
PARTS = ("train", "validation", "test")
TRAIN, VALIDATION, TEST = range(3)
EXPERIMENT = "xray_flux_forecast/starting_point"
# Scores aggregated per protocol, mean +- sd over seeds.
SCORE_KEYS = (
    "tss",
    "roc_auc",
    "ceiling_tss",
    "tss_minus_ceiling",
    "fraction_of_ceiling",
    "shared_test_regions",
    "shared_test_examples",
)
SECONDS_PER_DAY = 86_400.0


@dataclasses.dataclass
class ExamplePool:
    """Every example of a built dataset, in memory, with its built split.

    Attributes:
        dataset: full TFDS name, e.g. "synthetic_sun/active_region/1.1.0".
        images: float32 [n, height, width, channels], the task's channels.
        labels: 0/1 [n], the task's label (flare >= threshold in the window).
        true_probability: [n], the true probability of that label.
        timestamps: int64 [n], Unix seconds of the observation.
        regions: str [n], region ids.
        built_split: int [n], the part (TRAIN, VALIDATION, TEST) the
            dataset's own chronological split put the example in.
        horizon_hours: forecast window of the labels (dataset metadata).
    """

    dataset: str
    images: np.ndarray
    labels: np.ndarray
    true_probability: np.ndarray
    timestamps: np.ndarray
    regions: np.ndarray
    built_split: np.ndarray
    horizon_hours: float

    def __len__(self) -> int:
        return int(self.labels.size)

    @property
    def sizes(self) -> tuple:
        """(train, validation, test) sizes of the built split."""
        return tuple(int(np.sum(self.built_split == part)) for part in range(3))


def load_pool(dataset, task, data_dir: str | None = None) -> ExamplePool:
    """Read train, validation and test of `dataset` into one `ExamplePool`.

    Args:
        dataset: TFDS name ("synthetic_sun/active_region") or a builder.
        task: a binary `flarekit.data.tasks` task (label, channels kept).
        data_dir: TFDS data folder (prepared there on first use).

    Returns:
        The pool, in the stored order of train, then validation, then test.

    Raises:
        ValueError: the dataset stores no true probability for the task's
            threshold (the Bayes ceiling needs it).
    """
    from flarekit.data import pipeline

    builder = (
        dataset
        if hasattr(dataset, "as_dataset")
        else pipeline.get_builder(dataset, data_dir)
    )
    metadata = builder.info.metadata or {}
    thresholds = metadata.get("probability_thresholds", ())
    keys = ("image", "peak_flux", "probability", "timestamp", "region")
    columns = {key: [] for key in (*keys, "built_split")}
    for part, split in enumerate(PARTS):
        data = builder.as_dataset(split=split, shuffle_files=False)
        data = data.map(lambda features: {key: features[key] for key in keys})
        for batch in data.batch(512).as_numpy_iterator():
            image = batch["image"]
            if task.channel_indices:
                image = image[..., list(task.channel_indices)]
            columns["image"].append(image.astype(np.float32))
            for key in keys[1:]:
                columns[key].append(batch[key])
            columns["built_split"].append(np.full(len(batch["timestamp"]), part))
    joined = {key: np.concatenate(values) for key, values in columns.items()}
    true_probability = task.true_probability(joined["probability"], thresholds)
    if np.isscalar(true_probability):
        raise ValueError(
            f"Dataset {builder.info.full_name} stores true probabilities for "
            f"{list(thresholds)} only; task threshold {task.threshold} has none, "
            "so the Bayes ceiling cannot be computed."
        )
    return ExamplePool(
        dataset=builder.info.full_name,
        images=joined["image"],
        labels=task.labels_from_flux(joined["peak_flux"]),
        true_probability=np.asarray(true_probability, dtype=np.float64),
        timestamps=joined["timestamp"].astype(np.int64),
        regions=np.array([r.decode() for r in joined["region"]]),
        built_split=joined["built_split"].astype(np.int64),
        horizon_hours=float(metadata.get("horizon_hours", float("nan"))),
    )


# ---- the three protocols ------------------------------------------------------


def random_assignment(n: int, sizes, seed: int) -> np.ndarray:
    """Each of `n` examples dealt to a part at random, `sizes` per part.

    Args:
        n: number of examples; must equal sum(sizes).
        sizes: (train, validation, test) counts.
        seed: seed of the permutation.

    Returns:
        int array [n] of part indices (TRAIN, VALIDATION, TEST).

    Example:
        >>> np.bincount(random_assignment(10, (6, 2, 2), seed=0)).tolist()
        [6, 2, 2]
    """
    _check_sizes(n, sizes)
    order = np.random.default_rng(seed).permutation(n)
    assignment = np.empty(n, dtype=np.int64)
    assignment[order] = np.repeat(np.arange(3), sizes)
    return assignment


def month_interleaved_assignment(
    timestamps, sizes, seed: int, block_days: float = 30.0
) -> np.ndarray:
    """Time blocks dealt to train / validation / test in proportion to `sizes`.

    The time line is cut into blocks of `block_days` from the first
    observation; blocks are taken in time order, and each goes to the part
    furthest behind its share of what has been dealt so far (the seed sets
    each part's starting credit, up to one block, so seeds deal different
    months). Where a block would overfill a part, the part takes the block's
    earliest examples up to its size and the rest goes on to the next part, so
    the sizes match exactly and every part stays a union of time intervals.

    Args:
        timestamps: Unix seconds [n].
        sizes: (train, validation, test) counts; sum(sizes) == n.
        seed: seed of the starting credits.
        block_days: block length in days (30: SolarNet's months).

    Returns:
        int array [n] of part indices.

    Raises:
        ValueError: sizes that do not add up to n, or block_days <= 0.

    Example:
        >>> days = np.arange(120) * 86_400
        >>> parts = month_interleaved_assignment(days, (80, 20, 20), seed=0)
        >>> np.bincount(parts).tolist()
        [80, 20, 20]
    """
    timestamps = np.asarray(timestamps, dtype=np.int64)
    _check_sizes(timestamps.size, sizes)
    if not block_days > 0:
        raise ValueError(f"block_days must be > 0, got {block_days}.")
    targets = np.asarray(sizes, dtype=np.float64)
    shares = targets / targets.sum()
    order = np.argsort(timestamps, kind="stable")
    blocks = (timestamps[order] - timestamps[order[0]]) // (
        block_days * SECONDS_PER_DAY
    )
    edges = np.flatnonzero(np.diff(blocks)) + 1
    members_of_blocks = np.split(order, edges)
    mean_block = timestamps.size / len(members_of_blocks)
    credit = np.random.default_rng(seed).uniform(0, mean_block, size=3)
    assigned = np.zeros(3)
    assignment = np.empty(timestamps.size, dtype=np.int64)
    dealt = 0
    for members in members_of_blocks:
        start = 0
        while start < members.size:
            room = targets - assigned
            behind = shares * (dealt + members.size) - assigned + credit
            behind[room <= 0] = -np.inf
            part = int(np.argmax(behind))
            take = int(min(room[part], members.size - start))
            assignment[members[start : start + take]] = part
            assigned[part] += take
            start += take
        dealt += members.size
    return assignment


def assign(protocol: str, pool: ExamplePool, seed: int, block_days: float = 30.0):
    """The part (TRAIN, VALIDATION, TEST) of every pool example under `protocol`.

    Args:
        protocol: a key of PROTOCOLS.
        pool: the examples.
        seed: seed of the random and month-interleaved deals (the
            chronological split does not depend on it).
        block_days: block length of "month_interleaved".

    Returns:
        int array [len(pool)].

    Raises:
        ValueError: an unknown protocol.
    """
    if protocol == "random":
        return random_assignment(len(pool), pool.sizes, seed)
    if protocol == "month_interleaved":
        return month_interleaved_assignment(
            pool.timestamps, pool.sizes, seed, block_days
        )
    if protocol == "chronological":
        return pool.built_split.copy()
    raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}.")


def shared_regions(regions, assignment) -> dict:
    """How much of the test set belongs to regions the training set also holds.

    Args:
        regions: region id of each example [n].
        assignment: part of each example [n].

    Returns:
        dict `shared_test_regions` (test regions also in training),
        `test_regions`, `shared_test_examples` (share of test examples from
        such regions).

    Example:
        >>> shared_regions(["a", "a", "b", "c"], [0, 2, 2, 1])
        {'shared_test_regions': 1, 'test_regions': 2, 'shared_test_examples': 0.5}
    """
    regions = np.asarray(regions)
    assignment = np.asarray(assignment)
    train_regions = set(regions[assignment == TRAIN].tolist())
    test = regions[assignment == TEST]
    leaked = np.array([region in train_regions for region in test.tolist()], dtype=bool)
    return {
        "shared_test_regions": len(set(test[leaked].tolist())),
        "test_regions": len(set(test.tolist())),
        "shared_test_examples": float(leaked.mean()) if leaked.size else float("nan"),
    }


def _check_sizes(n: int, sizes) -> None:
    if len(sizes) != 3 or min(sizes) < 0 or sum(sizes) != n:
        raise ValueError(
            f"sizes must be three counts (train, validation, test) adding up to "
            f"the {n} examples; got {tuple(sizes)}."
        )


# ---- training and scoring -----------------------------------------------------


def _best_weights_callback():
    """A callback that keeps the weights of the lowest-val_loss epoch in memory
    and puts them back when training ends (flarekit's best.keras, without
    files)."""
    import keras

    class BestWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best_loss, self.best_epoch, self.weights = np.inf, None, None

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("val_loss", np.nan)
            if loss < self.best_loss:
                self.best_loss, self.best_epoch = float(loss), epoch + 1
                self.weights = self.model.get_weights()

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return BestWeights()


def train_forecaster(
    config, build_network, pool: ExamplePool, assignment, seed: int, verbose=0
):
    """Train the starter network on the pool's training part; predict the rest.

    Same protocol as `flarekit.experiments.Experiment`: seeded weights, channel
    normalisation fitted on a strided subset of the training inputs
    (`config.normalization_samples`, the runner's `adapt_normalization`), Adam
    at `config.learning_rate` with the config's weight averaging, binary
    cross-entropy (the binary task's loss), `config.epochs` epochs of
    `config.batch_size` in a seeded shuffled order, and the weights of the
    epoch with the lowest validation loss.

    Args:
        config: the starter's config (float32 policy already set).
        build_network: the starter's `build_network(config)`.
        pool: the examples.
        assignment: part of each example (from `assign`).
        seed: seed of the weights and of the batch order.
        verbose: Keras fit verbosity (2: one line per epoch).

    Returns:
        dict `validation_probability`, `test_probability`, `best_epoch`,
        `train_s`.
    """
    import keras

    from flarekit.experiments import set_seed
    from flarekit.experiments.runner import (
        adapt_normalization,
        average_weights_each_epoch,
        ema_options,
    )

    set_seed(seed, config.deterministic)
    parts = [np.flatnonzero(assignment == part) for part in range(3)]
    x_train, y_train = pool.images[parts[TRAIN]], pool.labels[parts[TRAIN]]
    x_validation = pool.images[parts[VALIDATION]]
    y_validation = pool.labels[parts[VALIDATION]]
    model = build_network(config)
    stride = max(1, x_train.shape[0] // config.normalization_samples)
    subset = x_train[::stride]
    adapt_normalization(model, [subset[i : i + 256] for i in range(0, subset.shape[0], 256)])
    # The runner's optimizer: Adam, with the starter's weight averaging if set.
    averaging = ema_options(config)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, **averaging),
        loss="binary_crossentropy",
    )
    best = _best_weights_callback()
    started = time.perf_counter()
    model.fit(
        x_train,
        y_train[:, None].astype(np.float32),
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(x_validation, y_validation[:, None].astype(np.float32)),
        shuffle=True,
        callbacks=[*([average_weights_each_epoch()] if averaging else []), best],
        verbose=verbose,
    )
    train_s = time.perf_counter() - started

    def predict(indices):
        return model.predict(pool.images[indices], batch_size=256, verbose=0)[:, 0]

    return {
        "validation_probability": predict(parts[VALIDATION]),
        "test_probability": predict(parts[TEST]),
        "best_epoch": best.best_epoch,
        "train_s": train_s,
    }


def score_protocol(
    pool: ExamplePool, assignment, validation_probability, test_probability
) -> dict:
    """Test scores of one trained forecaster, against the test set's ceiling.

    The threshold maximises TSS on validation and is applied to test. Where a
    part has a single class the scores it needs are NaN (the aggregation
    counts them as missing).

    Returns:
        dict threshold, tss, roc_auc, ceiling_tss, ceiling_expected_tss,
        tss_minus_ceiling, fraction_of_ceiling, base rates.
    """
    from flarekit.metrics import (
        bayes_ceiling,
        best_tss_threshold,
        binary_scores,
        fraction_of_ceiling,
        roc_auc,
    )

    validation = assignment == VALIDATION
    test = assignment == TEST
    y_validation, y_test = pool.labels[validation], pool.labels[test]
    nan = float("nan")
    threshold = (
        best_tss_threshold(y_validation, validation_probability)
        if 0 < y_validation.sum() < y_validation.size
        else nan
    )
    both_test_classes = 0 < y_test.sum() < y_test.size
    tss = (
        binary_scores(y_test, test_probability, threshold)["tss"]
        if both_test_classes and np.isfinite(threshold)
        else nan
    )
    ceiling = (
        bayes_ceiling(pool.true_probability[test], y_test)
        if both_test_classes
        else {"tss": nan, "expected_tss": nan}
    )
    return {
        "threshold": threshold,
        "tss": tss,
        "roc_auc": roc_auc(y_test, test_probability),
        "ceiling_tss": ceiling["tss"],
        "ceiling_expected_tss": ceiling["expected_tss"],
        "tss_minus_ceiling": tss - ceiling["tss"],
        "fraction_of_ceiling": fraction_of_ceiling(tss, ceiling["tss"]),
        **{
            f"{name}_base_rate": float(pool.labels[assignment == part].mean())
            for part, name in enumerate(PARTS)
        },
    }


# ---- the study ----------------------------------------------------------------


def load_starter(experiment: str = EXPERIMENT, smoke: bool = False, **overrides):
    """The starter's config (float32 unless overridden) and `build_network`."""
    from flarekit import experiments as fx

    folder = fx.find_experiment(experiment)
    overrides = {"mixed_precision": "float32", **overrides}
    config = fx.load_config(folder, smoke=smoke, overrides=overrides)
    if config.task != "binary":
        raise ValueError(
            f"Experiment {experiment} has task {config.task!r}; the split trap "
            "study needs a binary forecaster."
        )
    return config, fx._import_network(folder / "network.py").build_network


def machine_settings() -> dict:
    """CPU, its bfloat16 flags and the load average, for the cost statement."""
    from flarekit.experiments.precision import NATIVE_BF16_CPU_FLAGS, cpu_flags

    flags = cpu_flags()
    model_name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model_name or platform.processor(),
        "cores": os.cpu_count(),
        "bf16_flags": sorted(flags & set(NATIVE_BF16_CPU_FLAGS)),
        "avx512": any(flag.startswith("avx512") for flag in flags),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def run_split_trap(
    seeds=(0, 1, 2),
    protocols=tuple(PROTOCOLS),
    experiment: str = EXPERIMENT,
    output_dir=None,
    smoke: bool = False,
    block_days: float | None = None,
    verbose=0,
    **overrides,
) -> Path:
    """Train the starter forecaster under each protocol and seed; write the report.

    Args:
        seeds: seeds (deal of the random and month-interleaved splits, weights,
            batch order).
        protocols: keys of PROTOCOLS.
        experiment: the starter (name under network_models/ or a folder).
        output_dir: report folder (default runs/split_trap).
        smoke: the starter's smoke settings (smoke dataset, tiny network).
        block_days: block length of "month_interleaved" (default 30; 7 on
            the 75-day smoke dataset so that it has blocks to deal).
        verbose: Keras fit verbosity per run.
        **overrides: further config overrides (epochs, batch_size,
            learning_rate, bin_factor, dataset, ...).

    Returns:
        The output folder.

    Raises:
        ValueError: an unknown protocol, or no seeds.
    """
    import keras
    from tqdm.auto import tqdm

    from flarekit.data import tasks

    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown or not protocols or not seeds:
        raise ValueError(
            f"Need seeds and protocols from {list(PROTOCOLS)}; got seeds "
            f"{list(seeds)}, protocols {list(protocols)}."
        )
    block_days = block_days or (7.0 if smoke else 30.0)
    output = Path(output_dir or "runs/split_trap").resolve()
    (output / "figures").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    machine_before = machine_settings()
    config, build_network = load_starter(experiment, smoke=smoke, **overrides)
    keras.mixed_precision.set_global_policy(config.mixed_precision)
    task = tasks.from_config(config, config.channels)
    pool = load_pool(config.dataset, task, config.data_dir or None)
    load_s = time.perf_counter() - started
    rows = []
    grid = [(protocol, seed) for seed in seeds for protocol in protocols]
    for protocol, seed in tqdm(grid, desc="split trap", unit="run"):
        assignment = assign(protocol, pool, seed, block_days)
        trained = train_forecaster(
            config, build_network, pool, assignment, seed, verbose
        )
        rows.append(
            {
                "protocol": protocol,
                "seed": int(seed),
                **{
                    f"{name}_size": int(np.sum(assignment == part))
                    for part, name in enumerate(PARTS)
                },
                **score_protocol(
                    pool,
                    assignment,
                    trained["validation_probability"],
                    trained["test_probability"],
                ),
                **shared_regions(pool.regions, assignment),
                "best_epoch": trained["best_epoch"],
                "train_s": trained["train_s"],
            }
        )
    settings = {
        "experiment": experiment,
        "dataset": pool.dataset,
        "pool_size": len(pool),
        "built_sizes": dict(zip(PARTS, pool.sizes)),
        "channels": list(config.channels),
        "threshold": config.threshold,
        "horizon_hours": pool.horizon_hours,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "bin_factor": config.get("bin_factor"),
        "image_size": config.image_size,
        "filters": list(config.filters),
        "precision": config.mixed_precision,
        "block_days": block_days,
        "seeds": [int(s) for s in seeds],
        "smoke": bool(smoke),
        "load_s": load_s,
        "wall_s": time.perf_counter() - started,
        "machine_at_start": machine_before,
        "machine_at_end": machine_settings(),
        "versions": {"keras": keras.__version__, "python": platform.python_version()},
    }
    write_split_trap_report(rows, settings, output)
    return output


def summarise(rows) -> list[dict]:
    """Mean +- sd over seeds of each score, per protocol (in PROTOCOLS order)."""
    from flarekit.metrics import aggregate_runs

    summary = []
    for protocol in PROTOCOLS:
        members = [row for row in rows if row["protocol"] == protocol]
        if not members:
            continue
        stats = aggregate_runs(members, SCORE_KEYS)
        summary.append(
            {
                "protocol": protocol,
                "seeds": [m["seed"] for m in members],
                "sizes": [members[0][f"{name}_size"] for name in PARTS],
                "test_base_rate": float(
                    np.mean([m["test_base_rate"] for m in members])
                ),
                "test_regions": float(np.mean([m["test_regions"] for m in members])),
                **stats,
            }
        )
    return summary


def inflation(summary) -> dict:
    """Each protocol's mean TSS and TSS-minus-ceiling minus the chronological
    one's (the inflation of the score the split alone brings); {} without a
    chronological protocol."""
    by_protocol = {entry["protocol"]: entry for entry in summary}
    reference = by_protocol.get("chronological")
    if reference is None:
        return {}
    return {
        protocol: {
            key: entry[key]["mean"] - reference[key]["mean"]
            for key in ("tss", "tss_minus_ceiling", "roc_auc")
        }
        for protocol, entry in by_protocol.items()
        if protocol != "chronological"
    }


def plot_split_trap(rows, summary):
    """Left: test TSS per protocol (seeds as dots, mean +- sd) with each test
    set's Bayes ceiling; right: the share of test examples whose region is
    also in training."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.0, 3.8))
    FigureCanvasAgg(figure)
    tss_axes, leak_axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    labels = [entry["protocol"].replace("_", "\n") for entry in summary]
    for x, entry in enumerate(summary):
        values = [r["tss"] for r in rows if r["protocol"] == entry["protocol"]]
        tss_axes.scatter([x] * len(values), values, s=14, alpha=0.6, color="C0")
        sd = entry["tss"]["sd"]
        tss_axes.errorbar(
            x + 0.12,
            entry["tss"]["mean"],
            yerr=0 if np.isnan(sd) else sd,
            marker="o",
            color="C0",
            capsize=4,
        )
        tss_axes.hlines(
            entry["ceiling_tss"]["mean"],
            x - 0.3,
            x + 0.3,
            color="black",
            lw=1.2,
            label="Bayes ceiling (its test set)" if x == 0 else None,
        )
        leak_axes.bar(x, 100 * entry["shared_test_examples"]["mean"], color="C3")
    for axes in (tss_axes, leak_axes):
        axes.set_xticks(range(len(summary)), labels)
    tss_axes.set_ylabel("test TSS (threshold chosen on validation)")
    tss_axes.axhline(0, color="grey", lw=0.8, ls="--")
    tss_axes.legend(fontsize=8, loc="lower left")
    tss_axes.set_title("Same forecaster, three splits")
    leak_axes.set_ylabel("test examples whose region is in training (%)")
    leak_axes.set_title("Leakage")
    figure.tight_layout()
    return figure


def _settings_lines(settings) -> list[str]:
    """The setting of the study, as the bullet list heading its report."""
    sizes = settings["built_sizes"]
    return [
        (
            f"- dataset `{settings['dataset']}`, pool of {settings['pool_size']} "
            f"examples (train {sizes['train']} + validation {sizes['validation']} + "
            f"test {sizes['test']} of the built chronological split), re-split with "
            "these sizes by every protocol"
        ),
        (
            f"- task: a flare >= {settings['threshold']} within "
            f"{settings['horizon_hours']:g} h; channels "
            f"{', '.join(settings['channels'])}"
        ),
        (
            f"- forecaster: `{settings['experiment']}` ({settings['image_size']} px, "
            f"bin_factor {settings['bin_factor']}, filters {settings['filters']}), "
            f"{settings['epochs']} epochs, batch {settings['batch_size']}, Adam lr "
            f"{settings['learning_rate']}, {settings['precision']}; weights of the "
            "lowest-validation-loss epoch; threshold maximising TSS on validation"
        ),
        f"- month-interleaved blocks: {settings['block_days']:g} days",
        (
            f"- seeds {settings['seeds']} (deal of the random and month-interleaved "
            "splits, weights, batch order); mean ± sd (sample sd) over seeds"
        ),
        (
            "- Bayes ceiling: the true probability thresholded at its best TSS, on "
            "each protocol's own test set"
        ),
    ]


def _summary_row(entry) -> str:
    """One protocol's row of the mean +- sd table."""
    from flarekit.metrics import format_mean_sd, format_number

    def stat(key, scale=1.0, digits=3):
        values = entry[key]
        return format_mean_sd(scale * values["mean"], scale * values["sd"], digits)

    cells = [
        PROTOCOLS[entry["protocol"]],
        " / ".join(map(str, entry["sizes"])),
        format_number(entry["test_base_rate"]),
        *(stat(key) for key in SCORE_KEYS[:5]),
        f"{stat('shared_test_regions', digits=1)} of {entry['test_regions']:.0f}",
        f"{stat('shared_test_examples', scale=100, digits=1)} %",
    ]
    return "| " + " | ".join(cells) + " |"


def _run_row(row) -> str:
    """One run's row of the per-run table."""
    from flarekit.metrics import format_number

    cells = [
        row["protocol"],
        str(row["seed"]),
        *(format_number(row[key]) for key in ("tss", "roc_auc", "ceiling_tss")),
        format_number(row["threshold"]),
        str(row["best_epoch"]),
        f"{row['shared_test_regions']} of {row['test_regions']}",
        f"{row['train_s']:.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def _cost_line(rows, settings) -> str:
    """Wall time, machine and load: what the numbers cost, and where."""
    machine = settings["machine_at_start"]
    training_min = sum(row["train_s"] for row in rows) / 60
    return (
        f"Cost: {len(rows)} trainings, {settings['wall_s'] / 60:.1f} min wall time "
        f"in all ({settings['load_s']:.0f} s reading the pool, {training_min:.1f} "
        f"min training) on {machine['cpu']} ({machine['cores']} cores, bfloat16 "
        f"flags {machine['bf16_flags'] or 'none'}, AVX-512 "
        f"{'yes' if machine['avx512'] else 'no'}); load average (1, 5, 15 min) at "
        f"start {machine['load_average']}, at end "
        f"{settings['machine_at_end']['load_average']}; Keras "
        f"{settings['versions']['keras']}."
    )


def write_split_trap_report(rows, settings, output) -> Path:
    """split_trap.md / .csv / .json and the figure, atomically.

    Args:
        rows: one dict per (protocol, seed) run.
        settings: the study's setting, sizes and cost (see `run_split_trap`).
        output: the report folder.

    Returns:
        Path of split_trap.md.
    """
    import pandas as pd

    output = Path(output)
    summary = summarise(rows)
    gains = inflation(summary)
    io.write_csv_atomic(output / "split_trap.csv", pd.DataFrame(rows))
    io.write_json_atomic(
        output / "split_trap.json",
        {"settings": settings, "summary": summary, "inflation": gains, "runs": rows},
    )
    figure = plot_split_trap(rows, summary)
    io.save_figure(figure, output / "figures" / "split_trap.png")
    lines = [
        "# The split trap: one forecaster, three ways of splitting the same examples",
        "",
        *_settings_lines(settings),
        "",
        (
            "| protocol | train / val / test | test base rate | TSS | ROC AUC "
            "| ceiling TSS | TSS − ceiling | TSS / ceiling "
            "| test regions in training | test examples from them |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
        *(_summary_row(entry) for entry in summary),
    ]
    if gains:
        lines += ["", "Inflation over the chronological split (differences of means):", ""]
        lines += [
            f"- {PROTOCOLS[protocol]}: TSS {gain['tss']:+.3f}, TSS − ceiling "
            f"{gain['tss_minus_ceiling']:+.3f}, ROC AUC {gain['roc_auc']:+.3f}"
            for protocol, gain in gains.items()
        ]
    missing = sum(entry["tss"]["n_missing"] for entry in summary)
    if missing:
        lines += [
            "",
            (
                f"Undefined TSS in {missing} run(s) (a validation or test part with a "
                "single class); left out of the means."
            ),
        ]
    lines += [
        "",
        "Per run:",
        "",
        (
            "| protocol | seed | TSS | ROC AUC | ceiling TSS | threshold | best epoch "
            "| test regions in training | train s |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
        *(_run_row(row) for row in rows),
        "",
        "![split trap](figures/split_trap.png)",
        "",
        _cost_line(rows, settings),
    ]
    return io.write_text_atomic(output / "split_trap.md", "\n".join(lines) + "\n")


def rebuild_report(output) -> Path:
    """Re-write the report of a finished study from its split_trap.json.

    Args:
        output: the folder `run_split_trap` wrote.

    Returns:
        Path of split_trap.md.
    """
    import json

    saved = json.loads((Path(output) / "split_trap.json").read_text())
    nan = float("nan")
    rows = [
        {key: nan if value is None else value for key, value in row.items()}
        for row in saved["runs"]
    ]
    return write_split_trap_report(rows, saved["settings"], output)


def main(argv=None) -> Path:
    """Command line: `python -m flarekit.studies.split_trap --help`."""
    parser = argparse.ArgumentParser(
        description="Train one forecaster on random, month-interleaved and "
        "chronological splits of the same examples; report the TSS inflation."
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--protocols", nargs="+", default=list(PROTOCOLS), choices=list(PROTOCOLS)
    )
    parser.add_argument("--experiment", default=EXPERIMENT)
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: the starter's"
    )
    parser.add_argument(
        "--block-days",
        type=float,
        default=None,
        help="month-interleaved block length (default 30; smoke 7)",
    )
    parser.add_argument("--output", default="runs/split_trap")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the starter's smoke settings (smoke dataset)",
    )
    args = parser.parse_args(argv)
    overrides = {} if args.epochs is None else {"epochs": args.epochs}
    output = run_split_trap(
        seeds=args.seeds, protocols=args.protocols, experiment=args.experiment,
        output_dir=args.output, smoke=args.smoke, block_days=args.block_days,
        verbose=0 if args.smoke else 2, **overrides)
    print(f"report: {output / 'split_trap.md'}")
    return output


if __name__ == "__main__":
    main()
