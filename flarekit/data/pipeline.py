"""From a TFDS dataset to batches a Keras model trains on.

`make_dataset` is the one entry point: the split's serialized TFRecords ->
shuffle -> batch -> one `tf.io.parse_example` per batch -> the task mapped
over the batch -> (augment) -> prefetch. Parsing a batch in one op reads at
the speed of the files; parsing example by example reached about 0.45 of it
(BENCHMARKS.md). A cache, oversampling or unbatched output need single
examples: those parse in batches and unbatch before the stages that follow.
Every stage is a TensorFlow op, so the hot path runs no Python and
parallelises with AUTOTUNE. Normalisation and log scaling are not here: they are layers of
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


def channel_declarations(name, channels=(), data_dir: str | None = None) -> dict:
    """What a dataset's metadata declares about each channel, for the layers.

    Each builder's metadata holds "channel_declarations": channel name ->
    {"unit", "kind" ("signed" | "positive"), "floor"}; `flarekit.layers`
    log-scales each channel by its declaration, never by its name. The
    dataset is not prepared for this: builders declare their channels in
    `_info`, so a network can be built before the data exists.

    Args:
        name: dataset name ("synthetic_sun/active_region") or a builder.
        channels: channel names wanted, in input order; () for every channel
            the dataset writes.
        data_dir: TFDS data folder.

    Returns:
        dict channel name -> declaration, in the order of `channels`.

    Raises:
        ValueError: the dataset's metadata declares no channels (a dataset
            prepared before channels were declared), or not one of `channels`;
            the message names the dataset and the channel.

    Example:
        >>> channel_declarations("sdoml/v1", ("aia_171", "hmi_bz"))["hmi_bz"]
        {'unit': 'G', 'kind': 'signed', 'floor': 10.0}
    """
    if hasattr(name, "info"):
        builder = name
    else:
        import tensorflow_datasets as tfds

        register_builder(name)
        builder = tfds.builder(name, data_dir=data_dir or default_data_dir())
    metadata = builder.info.metadata or {}
    declared = metadata.get("channel_declarations")
    dataset = builder.info.full_name
    if not declared:
        raise ValueError(
            f"Dataset {dataset} ({builder.data_dir}): its metadata has no "
            "'channel_declarations' (unit, kind and floor of each channel); it "
            "was prepared by an older builder: delete that folder to rebuild it."
        )
    wanted = tuple(channels) or tuple(metadata.get("channels", ())) or tuple(declared)
    missing = [channel for channel in wanted if channel not in declared]
    if missing:
        raise ValueError(
            f"Dataset {dataset}: channel(s) {missing} are not in its metadata "
            f"'channel_declarations', which declares {list(declared)}; check the "
            "config key 'channels'."
        )
    return {channel: dict(declared[channel]) for channel in wanted}


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
    shuffle_buffer: int | None = None,
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
        shuffle_buffer: examples in the shuffle buffer. None: with `epochs`,
            blocks of 10,000 examples each permuted as a whole (the whole split
            when it fits: training order independent of the file layout);
            without, a streaming buffer behind the seeded file order and the
            16-file interleave, of 1/16 of the split (64 to 1,024 examples):
            the buffer holds back the first batch until it is full, and the
            parse cannot overlap that read (a buffer as large as the split
            read every record first: 0.67x a raw read in `make bench`).
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
    if epochs is not None and repeat:
        raise ValueError("epochs= already gives every epoch's batches; drop repeat=True.")

    builder = name if hasattr(name, "as_dataset") else get_builder(name, data_dir)
    base_split = split.split("[")[0]
    if base_split not in builder.info.splits:
        raise ValueError(
            f"Dataset {builder.info.full_name} has no split {split!r}; its splits are "
            f"{sorted(builder.info.splits)}."
        )
    autotune = tf.data.AUTOTUNE
    keep = tuple(keep_features)

    def to_task(features):
        # Runs on one example or on a batch: `Task.__call__` is written for both.
        if task is None:
            return features
        inputs, targets = task(features)
        if keep:
            return inputs, targets, {key: features[key] for key in keep}
        return inputs, targets

    if shuffle_buffer is None:
        shuffle_buffer = (EPOCH_SHUFFLE_BLOCK if epochs is not None
                          else stream_shuffle_buffer(builder.info.splits[split].num_examples))
    elif int(shuffle_buffer) < 1:
        raise ValueError(f"shuffle_buffer must be >= 1, got {shuffle_buffer}.")
    stages = {
        "shuffle": shuffle, "seed": seed, "shuffle_buffer": int(shuffle_buffer),
        "oversample": oversample, "epochs": epochs, "repeat": repeat,
        "batch_size": batch_size, "drop_remainder": drop_remainder,
        "num_examples": builder.info.splits[split].num_examples,
    }
    # One pass of a known number of examples: a known number of batches.
    n_batches = None
    if batch_size and not repeat and epochs is None and oversample is None:
        n_batches = batch_count(stages["num_examples"], batch_size, drop_remainder)
    # Per-epoch datasets read the files in one seeded order every time; the
    # examples are shuffled per epoch below.
    reshuffle_files = epochs is None
    parse = batch_parser(builder)
    if parse is None:
        # A feature the batched parser does not handle (an image codec, a
        # ragged or nested feature): TFDS parses one example at a time.
        examples = _tfds_examples(builder, split, shuffle, seed, reshuffle_files)
        examples = examples.map(to_task, num_parallel_calls=autotune, deterministic=True)
        if cache:
            examples = examples.cache()
        return _finish(_order_and_batch(examples, **stages), augment, n_batches)

    records = serialized_records(builder, split, shuffle_files=shuffle, seed=seed,
                                 reshuffle_each_iteration=reshuffle_files)

    def parse_and_map(serialized):
        return to_task(parse(serialized))

    single_examples = (oversample is not None or not batch_size
                       or (cache and (shuffle or repeat or epochs is not None)))
    if not single_examples:
        # Stored order (or shuffled serialized records), whole batches: one
        # `parse_example` and one task map per batch; a cache replays batches.
        batches = _order_and_batch(records, **stages)
        batches = batches.map(parse_and_map, num_parallel_calls=autotune,
                              deterministic=True)
        return _finish(batches.cache() if cache else batches, augment, n_batches)
    # A cache that every epoch reshuffles, oversampling by target, or unbatched
    # output work on single examples: parse in batches, then unbatch. Shuffling
    # the same stored-order stream with the same seeds gives the order the
    # serialized-record route above gives.
    examples = records.batch(_PARSE_BATCH).map(parse_and_map, num_parallel_calls=autotune,
                                               deterministic=True)
    if cache:
        examples = examples.cache()
    return _finish(_order_and_batch(examples.unbatch(), **stages), augment, n_batches)


# Default shuffling (see make_dataset's `shuffle_buffer`).
EPOCH_SHUFFLE_BLOCK = 10_000


def stream_shuffle_buffer(num_examples: int) -> int:
    """The default streaming shuffle buffer of a split: 1/16 of it, 64 to 1,024."""
    return int(min(1_024, max(64, num_examples // 16)))

# Serialized examples parsed by one `parse_example` call where later stages
# want single examples: large enough that the per-call cost vanishes.
_PARSE_BATCH = 128


def _order_and_batch(examples, *, shuffle, seed, shuffle_buffer, oversample, epochs,
                     repeat, batch_size, drop_remainder, num_examples):
    """Shuffle, oversample, repeat and batch `examples` (parsed or serialized)."""
    import tensorflow as tf

    if epochs is not None:
        return _epochs_of(examples, epochs, shuffle, seed, shuffle_buffer, oversample,
                          num_examples, batch_size, drop_remainder)
    if shuffle:
        examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if oversample is not None:
        positives = examples.filter(lambda x, y, *rest: tf.reduce_any(y > 0.5)).repeat()
        negatives = examples.filter(lambda x, y, *rest: tf.reduce_all(y <= 0.5))
        examples = tf.data.Dataset.sample_from_datasets(
            [negatives, positives],
            weights=[1.0 - oversample, oversample],
            seed=seed,
            stop_on_empty_dataset=True,
        )
    if repeat:
        examples = examples.repeat()
    if batch_size:
        examples = examples.batch(batch_size, drop_remainder=drop_remainder)
    return examples


def _tfds_examples(builder, split: str, shuffle: bool, seed: int, reshuffle: bool):
    """The split's decoded examples from TFDS, parsed one example at a time."""
    import tensorflow_datasets as tfds

    read_config = tfds.ReadConfig(
        shuffle_seed=seed,
        try_autocache=False,
        shuffle_reshuffle_each_iteration=reshuffle,
    )
    return builder.as_dataset(split=split, shuffle_files=shuffle, read_config=read_config)


def serialized_records(builder, split: str, *, shuffle_files: bool = False, seed: int = 0,
                       reshuffle_each_iteration: bool = True):
    """The serialized `tf.train.Example` records of a split, unparsed.

    The files and the records in them come in the order `builder.as_dataset`
    reads them (the split's file instructions, interleaved 16 files at a time
    in blocks of 16 records, or one file after another for a dataset with
    shuffling disabled), so that parsing these records gives TFDS's examples
    in TFDS's order, for the same `shuffle_files` and `seed`.

    Args:
        builder: a prepared TFDS builder whose files are TFRecords.
        split: a split, slices included ("train[:10%]").
        shuffle_files: read the files in a seeded random order.
        seed: seed of the file order.
        reshuffle_each_iteration: a new file order on each iteration.

    Returns:
        A `tf.data.Dataset` of scalar `tf.string` records, cardinality known.

    Raises:
        ValueError: the dataset's files are not TFRecords.
    """
    import tensorflow as tf

    file_format = getattr(builder.info, "file_format", None)
    if file_format is not None and file_format.value != "tfrecord":
        raise ValueError(
            f"Dataset {builder.info.full_name} stores its examples as "
            f"{file_format.value} files; serialized_records reads TFRecord files."
        )
    split_info = builder.info.splits[split]
    instructions = list(split_info.file_instructions)
    if len(instructions) == 1:
        # One file: read it directly; an interleave of one adds a hop per record.
        (only,) = instructions
        records = tf.data.TFRecordDataset(str(only.filename)).skip(only.skip).take(only.take)
        return records.apply(tf.data.experimental.assert_cardinality(split_info.num_examples))
    files = tf.data.Dataset.from_tensor_slices((
        [str(instruction.filename) for instruction in instructions],
        tf.constant([instruction.skip for instruction in instructions], tf.int64),
        tf.constant([instruction.take for instruction in instructions], tf.int64),
    ))
    if shuffle_files:
        files = files.shuffle(len(instructions), seed=seed,
                              reshuffle_each_iteration=reshuffle_each_iteration)
    in_order = bool(getattr(builder.info, "disable_shuffling", False))
    records = files.interleave(
        lambda path, skip, take: tf.data.TFRecordDataset(path).skip(skip).take(take),
        cycle_length=1 if in_order else 16,
        block_length=16,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return records.apply(tf.data.experimental.assert_cardinality(split_info.num_examples))


def batch_parser(builder):
    """A function from a batch of serialized examples to the batch's features.

    One `tf.io.parse_example` call parses the whole batch; each feature is then
    decoded batched: cast to its dtype, or, for a `tfds.features.Tensor`
    stored as bytes (`encoding="zlib"` or `"bytes"`), decompressed and read
    back with one `decode_raw` over the batch. The result is what
    `builder.as_dataset` gives example by example, stacked.

    Args:
        builder: a TFDS builder.

    Returns:
        The function, or None when a feature is not a fixed-shape
        `tfds.features.Tensor` (`Scalar`, `ClassLabel` and `Text` are): images
        with a codec, sequences and nested features decode one example at a
        time, through TFDS.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    features = builder.info.features
    if not isinstance(features, tfds.features.FeaturesDict):
        return None
    specs, decodings = {}, {}
    for key, feature in features.items():
        if not isinstance(feature, tfds.features.Tensor):
            return None
        info, serialized = feature.get_tensor_info(), feature.get_serialized_info()
        if not hasattr(serialized, "shape") or None in info.shape or None in serialized.shape:
            return None
        if serialized.dtype == tf.string:
            stored = tf.string
        elif serialized.dtype.is_floating:
            stored = tf.float32
        elif serialized.dtype.is_integer or serialized.dtype == tf.bool:
            stored = tf.int64
        else:
            return None
        encoding = None
        if stored == tf.string and info.dtype != tf.string:
            encoding = str(getattr(feature.to_json_content(), "encoding", "")).lower()
            if encoding not in ("zlib", "bytes") or serialized.shape != ():
                return None
        specs[key] = tf.io.FixedLenFeature(tuple(serialized.shape), stored,
                                           default_value=serialized.default_value)
        decodings[key] = (info, encoding)

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, specs)
        return {key: _decode_batch(parsed[key], *decodings[key]) for key in specs}

    return parse


def _decode_batch(values, info, encoding):
    """One feature of a parsed batch in the dtype and shape `info` gives."""
    import tensorflow as tf

    dtype = tf.as_dtype(info.dtype)
    if encoding is None:
        return values if values.dtype == dtype else tf.cast(values, dtype)
    if encoding == "zlib":
        values = tf.io.decode_compressed(values, compression_type="ZLIB")
    # TFDS writes the array's bytes as numpy holds them (little-endian);
    # uint64 goes through int64, as in `tfds.features.Tensor.decode_example`.
    flat = tf.io.decode_raw(values, tf.int64 if dtype == tf.uint64 else dtype)
    if dtype == tf.uint64:
        flat = tf.bitcast(flat, tf.uint64)
    shape = tf.concat([tf.shape(values), tf.constant(info.shape, tf.int32)], axis=0)
    return tf.reshape(flat, shape)


def _finish(dataset, augment, batches=None):
    """Augment input batches (training only), fix the order, prefetch; with
    `batches`, state the dataset's length.

    The file interleave hides the length from tf.data. Keras then learns it by
    running out of data on the first pass, and Keras 3.15 warns "Your input
    ran out of data; interrupting training" at every run's first validation.
    A stated length also gives the progress bars their totals; a split that
    does not hold the examples its dataset_info counts fails on the first
    pass instead of giving a shorter epoch.
    """
    import tensorflow as tf

    if batches is not None:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
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


def batch_count(num_examples: int, batch_size: int, drop_remainder: bool = False) -> int:
    """Batches in one pass over `num_examples` (0 for none).

    Example:
        >>> batch_count(10, 4), batch_count(10, 4, drop_remainder=True)
        (3, 2)
    """
    if drop_remainder:
        return num_examples // batch_size
    return -(-num_examples // batch_size)


def epoch_steps(num_examples: int, batch_size: int, drop_remainder: bool = False) -> int:
    """Batches in one epoch of `make_dataset(..., epochs=...)` (at least one)."""
    return max(1, batch_count(num_examples, batch_size, drop_remainder))


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
