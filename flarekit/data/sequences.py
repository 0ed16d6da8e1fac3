"""Sequences for k-fold experiments: fold parts as tf.data, and safe oversampling.

Grim & Gradvohl's MViT protocol on SHARP magnetogram sequences compares
oversampling the rare positives in the training folds only, in training and
validation folds, and (to show the inflation) in the test set too, with
copies made by flips and 90-degree rotations. flarekit keeps the first two
variants and makes the third impossible:

- `oversampled_parts(variant)` accepts "none", "train" and
  "train_and_validation"; anything that names the test block raises
  `EvaluationSetError` (SCIENCE.md trap 2);
- `oversample_positives(..., part="test")` raises the same error, whatever
  the caller;
- copies are made by physically valid transforms only (SCIENCE.md trap 7):
  a flip or rotation of a magnetogram breaks Hale's and Joy's laws, so
  "flip" and "rotate" are refused by name. The valid ones:

  - "time_shift": the sequence starts s frames later (s uniform in
    [0, max_time_shift]) and its first kept frame is held over the s
    missing ones, as a pipeline fills missing frames. The last frame, its
    time and so the label are unchanged.
  - "noise": independent Gaussian noise on every pixel with a standard
    deviation of `noise_level` times the channel's spread in that sample, a
    second realisation of the instrument noise. NaN (off the limb) stays NaN.

Fold parts are selected from the pooled TFDS splits by sample key
(timestamp, region), as `flarekit.data.splits.hybrid_kfold_split` assigns
them, so every fold reads the same records.

Example:
    >>> parts = oversampled_parts("train")
    >>> train = part_dataset(builder, task, keys_of_train, part="train",
    ...                      oversample_copies=5 if "train" in parts else 0,
    ...                      transforms=("time_shift", "noise"), shuffle=True)
"""

from __future__ import annotations

import numpy as np

from flarekit.data.splits import EvaluationSetError

OVERSAMPLING_VARIANTS = ("none", "train", "train_and_validation")
PHYSICAL_TRANSFORMS = ("time_shift", "noise")
# Transforms that break the physics of solar images (Hale's and Joy's laws
# are written in hemisphere, polarity and east-west order): refused by name.
FORBIDDEN_TRANSFORMS = (
    "flip",
    "horizontal_flip",
    "vertical_flip",
    "hflip",
    "vflip",
    "rotate",
    "rotation",
    "rot90",
    "transpose",
)
POOLED_SPLITS = "train+validation+test"


def _is_test_part(name: str) -> bool:
    return str(name).split("[")[0].strip().lower().startswith("test")


def check_not_test_block(part: str, operation: str = "oversampling") -> None:
    """Refuse to resample or augment the test block.

    Unlike `splits.ensure_not_evaluation_split`, validation folds pass: the
    "train_and_validation" variant oversamples them on purpose, and its
    report says so. The test block is never touched.

    Raises:
        EvaluationSetError: `part` names the test block ("test", "test[:50%]").
    """
    if _is_test_part(part):
        raise EvaluationSetError(
            f"Refusing to apply {operation} to the {part!r} block: the test block is "
            "scored as observed, never oversampled or augmented (SCIENCE.md trap 2). "
            f"Oversampling variants are {OVERSAMPLING_VARIANTS}."
        )


def oversampled_parts(variant: str) -> tuple:
    """The fold parts an oversampling variant resamples.

    Args:
        variant: "none", "train" or "train_and_validation".

    Returns:
        (), ("train",) or ("train", "validation").

    Raises:
        EvaluationSetError: a variant that names the test block (e.g.
            "train_validation_test", "test").
        ValueError: any other unknown variant.

    Example:
        >>> oversampled_parts("train_and_validation")
        ('train', 'validation')
    """
    if "test" in str(variant).lower():
        check_not_test_block("test", f"oversampling variant {variant!r}")
    parts = {
        "none": (),
        "train": ("train",),
        "train_and_validation": ("train", "validation"),
    }
    if variant not in parts:
        raise ValueError(
            f"Config key 'oversampling' is {variant!r}; expected one of "
            f"{OVERSAMPLING_VARIANTS}."
        )
    return parts[variant]


def check_transforms(transforms) -> tuple:
    """Validate transform names: physically valid ones only.

    Raises:
        ValueError: a flip or rotation (breaks Hale's and Joy's laws,
            SCIENCE.md trap 7) or an unknown name.
    """
    transforms = tuple(transforms)
    for name in transforms:
        if name in FORBIDDEN_TRANSFORMS:
            raise ValueError(
                f"Transform {name!r} is refused: flipping or rotating a magnetogram "
                "breaks Hale's polarity law and Joy's tilt law (SCIENCE.md trap 7). "
                f"Physically valid transforms: {PHYSICAL_TRANSFORMS}."
            )
        if name not in PHYSICAL_TRANSFORMS:
            raise ValueError(
                f"Unknown transform {name!r}; expected some of {PHYSICAL_TRANSFORMS}."
            )
    return transforms


def augment_clip(
    frames,
    seed,
    transforms=PHYSICAL_TRANSFORMS,
    max_time_shift: int = 3,
    noise_level: float = 0.02,
):
    """One physically valid random copy of a sequence [T, H, W, C] (or image [H, W, C]).

    Args:
        frames: float tensor, oldest frame first.
        seed: int32/int64 tensor of shape [2], for stateless random ops.
        transforms: names from `PHYSICAL_TRANSFORMS`.
        max_time_shift: largest start shift in frames ("time_shift").
        noise_level: noise sd as a fraction of each channel's spread ("noise").

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        ValueError: a forbidden or unknown transform, or "time_shift" on an image.
    """
    import tensorflow as tf

    transforms = check_transforms(transforms)
    frames = tf.convert_to_tensor(frames, tf.float32)
    seed = tf.cast(seed, tf.int64)
    if "time_shift" in transforms:
        if frames.shape.rank != 4:
            raise ValueError(
                f"time_shift needs a sequence [T, H, W, C], got shape {frames.shape}."
            )
        steps = frames.shape[0]
        if not 0 <= max_time_shift < steps:
            raise ValueError(
                f"max_time_shift must be in [0, {steps - 1}], got {max_time_shift}."
            )
        shift = tf.random.stateless_uniform(
            [], seed, minval=0, maxval=max_time_shift + 1, dtype=tf.int32
        )
        frames = tf.gather(frames, tf.maximum(tf.range(steps), shift), axis=0)
    if "noise" in transforms:
        if noise_level < 0:
            raise ValueError(f"noise_level must be >= 0, got {noise_level}.")
        axes = list(range(frames.shape.rank - 1))
        finite = tf.math.is_finite(frames)
        weight = tf.cast(finite, tf.float32)
        safe = tf.where(finite, frames, 0.0)
        count = tf.maximum(tf.reduce_sum(weight, axis=axes), 1.0)
        mean = tf.reduce_sum(safe, axis=axes) / count
        spread = tf.sqrt(tf.reduce_sum(weight * (safe - mean) ** 2, axis=axes) / count)
        noise = tf.random.stateless_normal(tf.shape(frames), seed + 1)
        frames = frames + noise * noise_level * spread
    return frames


def oversample_positives(
    dataset,
    copies: int,
    part: str,
    transforms=PHYSICAL_TRANSFORMS,
    seed: int = 0,
    max_time_shift: int = 3,
    noise_level: float = 0.02,
):
    """Add `copies` transformed copies of every positive example to `dataset`.

    Args:
        dataset: unbatched (inputs, target, *extra) of a binary task.
        copies: extra copies per positive (0 returns `dataset` unchanged).
        part: the fold part being resampled; the test block is refused.
        transforms: physically valid transforms for the copies.
        seed: seed of the copies' random transforms; copies differ between
            epochs but the sequence of epochs is reproducible.
        max_time_shift, noise_level: see `augment_clip`.

    Returns:
        The originals followed by the copies (shuffle afterwards).

    Raises:
        EvaluationSetError: `part` is the test block.
        ValueError: negative copies, or a forbidden transform.

    Example:
        >>> oversample_positives(test_block, 5, part="test")
        Traceback (most recent call last):
        EvaluationSetError: Refusing to apply oversampling to the 'test' block ...
    """
    import tensorflow as tf

    check_not_test_block(part)
    transforms = check_transforms(transforms)
    if int(copies) < 0:
        raise ValueError(f"copies must be >= 0, got {copies}.")
    if int(copies) == 0:
        return dataset
    positives = dataset.filter(lambda x, y, *rest: tf.reduce_any(y > 0.5)).repeat(
        int(copies)
    )
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def transform(element, pair):
        inputs, target, *rest = element
        copy = augment_clip(inputs, pair, transforms, max_time_shift, noise_level)
        return (copy, target, *rest)

    copied = tf.data.Dataset.zip(positives, seeds).map(
        transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return dataset.concatenate(copied)


def sample_keys(timestamps, regions) -> np.ndarray:
    """The key "<timestamp>:<region>" of each sample, as `part_dataset` matches it."""
    timestamps = np.asarray(timestamps).astype(np.int64)
    regions = np.asarray(regions).astype(str)
    return np.array([f"{t}:{r}" for t, r in zip(timestamps.tolist(), regions.tolist())])


def pooled_dataset(builder, splits: str = POOLED_SPLITS, cache: bool = True):
    """The raw feature dicts of the pooled splits, read once and kept in memory.

    Every fold part is a filter of this dataset (`part_dataset(source=...)`),
    so k folds x (train, validation, test) passes read the TFRecords once: a
    2,324-sequence pool of 16 x 32 x 32 x 4 frames is about 600 MB.
    """
    import tensorflow_datasets as tfds

    read_config = tfds.ReadConfig(try_autocache=False)
    dataset = builder.as_dataset(
        split=splits, shuffle_files=False, read_config=read_config
    )
    return dataset.cache() if cache else dataset


def part_dataset(
    builder,
    task,
    keys,
    part: str,
    *,
    batch_size: int | None = 32,
    shuffle: bool = False,
    seed: int = 0,
    oversample_copies: int = 0,
    transforms=PHYSICAL_TRANSFORMS,
    max_time_shift: int = 3,
    noise_level: float = 0.02,
    keep_features=(),
    splits: str = POOLED_SPLITS,
    cache: bool = True,
    shuffle_buffer: int = 1024,
    num_examples: int | None = None,
    source=None,
):
    """The examples of one fold part, selected by key from the pooled splits.

    Args:
        builder: a prepared TFDS builder with `timestamp` and `region` features.
        task: a `flarekit.data.tasks.Task` (binary for oversampling).
        keys: sample keys of the part (`sample_keys`).
        part: "train", "validation" or "test": names the part in errors.
        batch_size: examples per batch; None for unbatched.
        shuffle: shuffle each epoch (seeded).
        seed: seed of shuffling and of the copies' transforms.
        oversample_copies: extra transformed copies per positive (refused
            for the test block).
        transforms, max_time_shift, noise_level: see `augment_clip`.
        keep_features: features passed through as a third element, for
            evaluation bookkeeping.
        splits: the TFDS splits pooled.
        cache: keep the part's examples in memory after the first pass.
        shuffle_buffer: examples in the shuffle buffer (a 16 x 32 x 32 x 4
            sequence is 256 kB).
        source: the pooled raw features to select from (`pooled_dataset`);
            None reads `splits` from the builder.
        num_examples: examples per epoch, copies included, when the caller
            knows it: Keras then shows progress and does not warn that the
            first epoch "ran out of data".

    Returns:
        A prefetched `tf.data.Dataset` of (inputs, targets[, kept]).

    Raises:
        EvaluationSetError: oversampling the test block.
        ValueError: no keys.
    """
    import tensorflow as tf

    if oversample_copies:
        check_not_test_block(part)
        if task.kind != "binary":
            raise ValueError("Oversampling needs a binary task (positives to copy).")
    keys = np.asarray(keys).astype(str)
    if keys.size == 0:
        raise ValueError(f"The {part!r} part has no samples.")
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys), tf.ones(len(keys), tf.int32)
        ),
        default_value=0,
    )
    keep = tuple(keep_features)

    def selected(features):
        key = tf.strings.join(
            [tf.strings.as_string(features["timestamp"]), features["region"]], ":"
        )
        return table.lookup(key) > 0

    def to_task(features):
        inputs, targets = task(features)
        if keep:
            return inputs, targets, {name: features[name] for name in keep}
        return inputs, targets

    dataset = pooled_dataset(builder, splits, cache=False) if source is None else source
    dataset = dataset.filter(selected).map(
        to_task, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    if cache:
        dataset = dataset.cache()
    dataset = (
        oversample_positives(
            dataset,
            oversample_copies,
            part,
            transforms,
            seed,
            max_time_shift,
            noise_level,
        )
        if oversample_copies
        else dataset
    )
    if num_examples is not None:
        dataset = dataset.apply(
            tf.data.experimental.assert_cardinality(int(num_examples))
        )
    if shuffle:
        dataset = dataset.shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )
    if batch_size:
        dataset = dataset.batch(batch_size)
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
