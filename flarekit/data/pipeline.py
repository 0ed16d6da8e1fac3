"""From a TFDS dataset to batches a Keras model trains on.

`make_dataset` is the one entry point: TFDS records -> task map ->
cache -> shuffle -> (oversample) -> batch -> (augment) -> prefetch. Every
stage is a TensorFlow op, so the hot path runs no Python and parallelises
with AUTOTUNE. Normalisation and log scaling are not here: they are layers of
the model (`flarekit.layers`), so they are saved with it and run on the
accelerator.

Dataset builders live in the repository's `datasets/<name>/` folders. Each
folder is imported as a package under its own name (never as a top-level
package called `datasets`, which is Hugging Face's library) so that
`tfds.builder("synthetic_sun/active_region")` finds it.

Example:
    >>> from flarekit.data import pipeline, tasks
    >>> train = pipeline.make_dataset(
    ...     "synthetic_sun/active_region", "train", tasks.binary("M1.0"),
    ...     batch_size=32, shuffle=True)
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from flarekit.data.splits import ensure_not_evaluation_split

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def datasets_folder() -> Path:
    """Folder holding the dataset builders (`FLAREKIT_DATASETS_DIR` overrides)."""
    return Path(os.environ.get("FLAREKIT_DATASETS_DIR", REPOSITORY_ROOT / "datasets"))


def default_data_dir() -> str:
    """Where prepared TFDS datasets are stored (`FLAREKIT_DATA_DIR` overrides)."""
    return os.environ.get(
        "FLAREKIT_DATA_DIR", str(Path.home() / "tensorflow_datasets")
    )


def register_builder(name: str) -> None:
    """Import the builder of dataset `name` ("synthetic_sun/active_region").

    Raises:
        ValueError: no folder `datasets/<name>/` holds a builder.
    """
    package = name.split("/")[0].split(":")[0]
    folder = datasets_folder()
    if not (folder / package).is_dir():
        known = sorted(p.name for p in folder.glob("*") if (p / "__init__.py").exists())
        raise ValueError(
            f"Unknown dataset {name!r}: no builder folder {folder / package}. "
            f"Known datasets: {known}."
        )
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    importlib.import_module(f"{package}.{package}_dataset_builder")


def get_builder(name: str, data_dir: str | None = None, prepare: bool = True):
    """The TFDS builder of `name`, prepared (generated) when it is not yet.

    Args:
        name: "<dataset>/<config>", e.g. "synthetic_sun/active_region".
        data_dir: TFDS data folder; `default_data_dir()` when empty.
        prepare: generate the dataset if it is missing.

    Returns:
        A `tfds.core.DatasetBuilder`.
    """
    import tensorflow_datasets as tfds

    register_builder(name)
    builder = tfds.builder(name, data_dir=data_dir or default_data_dir())
    if prepare and not builder.is_prepared():
        print(f"flarekit: preparing dataset {name} in {builder.data_dir} (first use)")
        builder.download_and_prepare()
    return builder


def build_with_beam(name: str, beam_options: str, data_dir: str | None = None,
                    manual_dir: str | None = None):
    """Prepare dataset `name` as an Apache Beam pipeline (docs/scale.md).

    Args:
        name: "<dataset>/<config>", e.g. "sdoml/v2".
        beam_options: comma-separated Beam pipeline options, as `tfds build
            --beam_pipeline_options` takes them, e.g.
            "runner=DirectRunner,direct_num_workers=2".
        data_dir: TFDS data folder (a bucket path on a cluster).
        manual_dir: where the builder finds manually downloaded archives.

    Returns:
        The prepared builder.

    Raises:
        ImportError: apache-beam is not installed (the `beam` extra).
    """
    try:
        import apache_beam as beam
    except ImportError as error:
        raise ImportError(
            'A Beam build needs apache-beam: pip install -e ".[beam]".'
        ) from error
    import tensorflow_datasets as tfds

    register_builder(name)
    builder = tfds.builder(name, data_dir=data_dir or default_data_dir())
    flags = [f"--{option.strip()}" for option in beam_options.split(",") if option.strip()]
    config = tfds.download.DownloadConfig(
        beam_options=beam.options.pipeline_options.PipelineOptions(flags=flags),
        manual_dir=manual_dir,
    )
    builder.download_and_prepare(download_config=config)
    return builder


def channel_names(builder) -> tuple:
    """The channel names a dataset records in its metadata ((), if none)."""
    metadata = builder.info.metadata or {}
    return tuple(metadata.get("channels", ()))


def make_dataset(
    name,
    split: str,
    task=None,
    *,
    batch_size: int | None = 32,
    shuffle: bool = False,
    seed: int = 0,
    cache: bool = True,
    repeat: bool = False,
    data_dir: str | None = None,
    oversample: float | None = None,
    augment=None,
    keep_features=(),
    drop_remainder: bool = False,
    shuffle_buffer: int = 10_000,
    epochs: tuple | None = None,
):
    """A `tf.data.Dataset` of `(inputs, targets)` batches for one split.

    Args:
        name: dataset name ("synthetic_sun/active_region") or a builder.
        split: TFDS split ("train", "validation", "test", "train[:10%]").
        task: a `flarekit.data.tasks.Task`; None yields raw feature dicts.
        batch_size: examples per batch; None for unbatched examples.
        shuffle: shuffle files and examples (seeded) each epoch.
        seed: seed of all shuffling.
        cache: keep the mapped examples in memory after the first pass.
        repeat: repeat forever.
        data_dir: TFDS data folder.
        oversample: for binary tasks, the share of positives in each batch
            (e.g. 0.5). Refused on evaluation splits.
        augment: a callable (e.g. a Keras layer) applied to input batches.
            Refused on evaluation splits.
        keep_features: feature names passed through as a third element
            `(inputs, targets, {name: value})`, for evaluation bookkeeping.
        drop_remainder: drop the last partial batch.
        shuffle_buffer: examples in the shuffle buffer (with `epochs`: in each
            block that is permuted as a whole; the whole split when it fits).
        epochs: (first, stop): the batches of epochs first .. stop - 1, one
            epoch after another, with each epoch's order a function of
            (seed, epoch) alone, so a run resumed at epoch k sees the order
            an uninterrupted run sees at epoch k (`reshuffle_each_iteration`
            restarts its seed sequence in a new process). Train with
            `steps_per_epoch = epoch_steps(...)`. With `oversample`, an epoch
            is as many examples as the split holds, drawn at that share.
            None: one epoch, reshuffled on each iteration.

    Returns:
        The dataset, prefetched.

    Raises:
        EvaluationSetError: oversampling or augmentation of an evaluation split.
        ValueError: an unknown dataset or split.
    """
    import tensorflow as tf

    if oversample is not None:
        ensure_not_evaluation_split(split, "oversampling")
        if task is None or task.kind != "binary":
            raise ValueError("oversample= needs a binary task (positives to resample).")
        if not 0 < oversample < 1:
            raise ValueError(f"oversample must be a share in (0, 1), got {oversample}.")
    if augment is not None:
        ensure_not_evaluation_split(split, "augmentation")

    builder = name if hasattr(name, "as_dataset") else get_builder(name, data_dir)
    base_split = split.split("[")[0]
    if base_split not in builder.info.splits:
        raise ValueError(
            f"Dataset {builder.info.full_name} has no split {split!r}; its splits are "
            f"{sorted(builder.info.splits)}."
        )
    import tensorflow_datasets as tfds

    # Per-epoch datasets read the files in one seeded order every time; the
    # examples are shuffled per epoch below.
    read_config = tfds.ReadConfig(
        shuffle_seed=seed,
        try_autocache=False,
        shuffle_reshuffle_each_iteration=epochs is None,
    )
    dataset = builder.as_dataset(split=split, shuffle_files=shuffle, read_config=read_config)
    autotune = tf.data.AUTOTUNE
    if task is not None:
        keep = tuple(keep_features)

        def to_task(features):
            inputs, targets = task(features)
            if keep:
                return inputs, targets, {key: features[key] for key in keep}
            return inputs, targets

        dataset = dataset.map(to_task, num_parallel_calls=autotune, deterministic=True)
    if cache:
        dataset = dataset.cache()
    if epochs is not None:
        if repeat:
            raise ValueError("epochs= already gives every epoch's batches; drop repeat=True.")
        dataset = _epochs_of(dataset, epochs, shuffle, seed, shuffle_buffer, oversample,
                             builder.info.splits[split].num_examples, batch_size,
                             drop_remainder)
        return _finish(dataset, augment)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if oversample is not None:
        positives = dataset.filter(lambda x, y, *rest: tf.reduce_any(y > 0.5)).repeat()
        negatives = dataset.filter(lambda x, y, *rest: tf.reduce_all(y <= 0.5))
        dataset = tf.data.Dataset.sample_from_datasets(
            [negatives, positives],
            weights=[1.0 - oversample, oversample],
            seed=seed,
            stop_on_empty_dataset=True,
        )
    if repeat:
        dataset = dataset.repeat()
    if batch_size:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return _finish(dataset, augment)


def _finish(dataset, augment):
    """Augment input batches (training only), fix the order, prefetch."""
    import tensorflow as tf

    if augment is not None:

        def augment_inputs(x, y, *rest):
            return (augment(x, training=True), y, *rest)

        dataset = dataset.map(augment_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def shard_by_data(dataset):
    """`dataset` with tf.distribute's DATA auto-sharding across workers.

    Every worker reads all the files and keeps its share of each global batch,
    so the batches are those of one device (FILE sharding would give each
    worker other examples, and fails on a split with fewer files than workers).
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)


def epoch_seed(seed: int, epoch, stream: int = 0):
    """The stateless seed [2] of one epoch: a function of (seed, epoch, stream) only.

    Stateless random ops, not `Dataset.shuffle(seed=tensor)`: the latter turns
    on the global seed, and fails when that is 0.
    """
    import tensorflow as tf

    return tf.stack([
        tf.constant(int(seed), tf.int64),
        tf.cast(epoch, tf.int64) * 16 + stream,
    ])


def epoch_steps(num_examples: int, batch_size: int, drop_remainder: bool = False) -> int:
    """Batches in one epoch of `make_dataset(..., epochs=...)`."""
    if drop_remainder:
        return max(1, num_examples // batch_size)
    return max(1, -(-num_examples // batch_size))


def _shuffle_blocks(data, block_size: int, seed):
    """Shuffle blocks of `block_size` consecutive examples, each by a stateless
    permutation (the whole dataset when it fits in one block)."""
    import tensorflow as tf

    def permute(index, block):
        count = tf.shape(tf.nest.flatten(block)[0])[0]
        block_seed = seed + tf.stack([tf.constant(0, tf.int64), 1_000_000 * index])
        order = tf.random.experimental.stateless_shuffle(tf.range(count), block_seed)
        return tf.nest.map_structure(lambda values: tf.gather(values, order), block)

    return data.batch(block_size).enumerate().map(permute).unbatch()


def _epochs_of(examples, epochs, shuffle, seed, shuffle_buffer, oversample, num_examples,
               batch_size, drop_remainder):
    """Batches of epochs first .. stop - 1, each ordered by `epoch_seed(seed, epoch)`."""
    import tensorflow as tf

    first, stop = (int(value) for value in epochs)
    if not 0 <= first <= stop:
        raise ValueError(f"epochs must be (first, stop) with 0 <= first <= stop, got {epochs}.")

    def one_epoch(epoch):
        data = examples
        if oversample is not None:
            positives = data.filter(lambda x, y, *rest: tf.reduce_any(y > 0.5))
            negatives = data.filter(lambda x, y, *rest: tf.reduce_all(y <= 0.5))
            choice_seed = epoch_seed(seed, epoch, 2)
            choices = tf.data.Dataset.range(num_examples).map(
                lambda i: tf.cast(
                    tf.random.stateless_uniform(
                        [], choice_seed + tf.stack([tf.constant(0, tf.int64), 1000 * i])
                    ) < oversample,
                    tf.int64,
                )
            )
            data = tf.data.Dataset.choose_from_datasets(
                [
                    _shuffle_blocks(negatives, shuffle_buffer, epoch_seed(seed, epoch, 0)).repeat(),
                    _shuffle_blocks(positives, shuffle_buffer, epoch_seed(seed, epoch, 1)).repeat(),
                ],
                choices,
                stop_on_empty_dataset=True,
            )
        elif shuffle:
            data = _shuffle_blocks(data, shuffle_buffer, epoch_seed(seed, epoch))
        if batch_size:
            data = data.batch(batch_size, drop_remainder=drop_remainder)
        return data

    return tf.data.Dataset.range(first, stop).flat_map(one_epoch)


def read_columns(name, split: str, keys, data_dir: str | None = None):
    """Scalar features of one split as a pandas DataFrame, without the images.

    Args:
        name: dataset name or builder.
        split: the split.
        keys: scalar feature names, e.g. ("timestamp", "region", "peak_flux").

    Returns:
        DataFrame with one column per key; bytes decoded to str.
    """
    import pandas as pd
    import tensorflow as tf

    builder = name if hasattr(name, "as_dataset") else get_builder(name, data_dir)
    missing = [key for key in keys if key not in builder.info.features]
    if missing:
        raise ValueError(
            f"Dataset {builder.info.full_name} has no feature(s) {missing}; it has "
            f"{sorted(builder.info.features)}."
        )
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    dataset = dataset.map(lambda features: {key: features[key] for key in keys})
    columns = {key: [] for key in keys}
    for batch in dataset.batch(4096).prefetch(tf.data.AUTOTUNE).as_numpy_iterator():
        for key in keys:
            columns[key].append(batch[key])
    import numpy as np

    frame = pd.DataFrame(
        {key: np.concatenate(values) if values else [] for key, values in columns.items()}
    )
    for key in keys:
        if frame[key].dtype == object:
            frame[key] = frame[key].map(
                lambda v: v.decode() if isinstance(v, bytes) else v
            )
    return frame
