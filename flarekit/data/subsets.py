"""Training-set subsets: label fractions, and the training-only rule for pretraining.

Label-efficiency experiments train on 1 %, 10 %, ... of the labelled training
examples. The subset is drawn at random over the whole training period with a
seed (a contiguous slice such as "train[:1%]" would cover only its first
days, one phase of the solar cycle), and only ever from a training split:
validation and test sets are always scored whole (SCIENCE.md trap 2).

Self-supervised pretraining may use unlabelled images of the training period
only (SCIENCE.md trap 3): `ensure_training_split` refuses anything else.

Example:
    >>> indices = label_subset_indices(9000, 0.01, seed=0)   # 90 examples
    >>> train = subset_dataset(builder, "train", indices, task, batch_size=32)
"""

from __future__ import annotations

import numpy as np

from flarekit.data.splits import EvaluationSetError, ensure_not_evaluation_split


def ensure_training_split(split: str, operation: str) -> None:
    """Refuse `operation` on anything but the training split (or a slice of it).

    Raises:
        EvaluationSetError: for "validation", "test" or any split not named
            "train" / "train[...]", naming the operation and the split.
    """
    base = str(split).split("[")[0].strip().lower()
    if base != "train":
        raise EvaluationSetError(
            f"Refusing {operation} on split {split!r}: it may only use the training "
            "period ('train' or a slice such as 'train[:50%]'), never validation or "
            "test images (SCIENCE.md trap 3)."
        )


def label_subset_indices(num_examples: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random subset of `fraction` of the examples.

    At least one example is kept; `fraction=1` keeps all of them in order.

    Args:
        num_examples: examples in the training split.
        fraction: share to keep, in (0, 1].
        seed: seed of the draw; the same seed gives the same subset.

    Returns:
        int64 array of `max(1, round(fraction * num_examples))` indices.

    Raises:
        ValueError: a fraction outside (0, 1] or no examples.

    Example:
        >>> label_subset_indices(10, 0.3, seed=0).tolist()  # doctest: +SKIP
        [2, 6, 7]
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"Label fraction must be in (0, 1], got {fraction!r}.")
    if num_examples < 1:
        raise ValueError(f"Cannot subset a split with {num_examples} examples.")
    count = max(1, int(round(fraction * num_examples)))
    if count >= num_examples:
        return np.arange(num_examples, dtype=np.int64)
    chosen = np.random.default_rng(seed).choice(num_examples, size=count, replace=False)
    return np.sort(chosen).astype(np.int64)


def subset_dataset(
    builder,
    split: str,
    indices,
    task,
    *,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    cache: bool = True,
    repeat: bool = False,
):
    """Batches of `(inputs, targets)` of the examples at `indices` of a training split.

    Indices count examples in the split's stored order (`shuffle_files=False`,
    the order `pipeline.read_columns` also uses), so labels read with
    `read_columns` line up with the subset.

    Args:
        builder: a prepared TFDS builder.
        split: a training split.
        indices: example indices to keep (`label_subset_indices`).
        task: a `flarekit.data.tasks.Task`.
        batch_size, shuffle, seed, cache, repeat: as in `pipeline.make_dataset`.

    Returns:
        A prefetched `tf.data.Dataset`.

    Raises:
        EvaluationSetError: a validation or test split.
        ValueError: an index outside the split.
    """
    import tensorflow as tf

    ensure_not_evaluation_split(split, "label subsetting")
    num_examples = builder.info.splits[split].num_examples
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= num_examples):
        raise ValueError(
            f"Subset indices must be in [0, {num_examples}) for split {split!r}, got "
            f"[{indices.min()}, {indices.max()}]."
        )
    keep = np.zeros(num_examples, dtype=bool)
    keep[indices] = True
    keep = tf.constant(keep)
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    dataset = dataset.enumerate().filter(lambda index, _: tf.gather(keep, index))
    # A filter hides the size; stating it lets Keras show progress and not warn.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(indices)))
    dataset = dataset.map(
        lambda _, features: task(features), num_parallel_calls=tf.data.AUTOTUNE
    )
    if cache:
        dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(
            min(len(indices), 10_000), seed=seed, reshuffle_each_iteration=True
        )
    if repeat:
        dataset = dataset.repeat()
    options = tf.data.Options()
    options.deterministic = True
    return dataset.batch(batch_size).with_options(options).prefetch(tf.data.AUTOTUNE)
