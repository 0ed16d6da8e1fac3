"""Throughput measurements, as ratios against a reference run in the same process.

Absolute speeds on a shared 2-core CPU are noisy; a ratio of two runs made
back to back in one process is not. `make bench` (tools/benchmarks/) calls
these and writes BENCHMARKS.md.
"""

from __future__ import annotations

import time


def _images_per_second(dataset, count_fn, max_seconds: float | None = None) -> tuple:
    started = time.perf_counter()
    images = 0
    for element in dataset:
        images += count_fn(element)
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            break
    seconds = time.perf_counter() - started
    return images / seconds, images, seconds


def pipeline_throughput(name: str, split: str = "train", task=None, batch_size: int = 32,
                        data_dir: str | None = None) -> dict:
    """Images/s of `make_dataset` against a raw read of the same TFRecord files.

    The raw read is `tf.data.TFRecordDataset` over the split's files with no
    parsing: the ceiling any pipeline over those files can reach. The pipeline
    is measured twice: the first epoch (parse, decode, task map, batch) and a
    cached epoch (what every later training epoch costs).

    Returns:
        dict with images/s of each, the image count, and the ratios.
    """
    import tensorflow as tf

    from flarekit.data import pipeline, tasks

    builder = pipeline.get_builder(name, data_dir)
    task = task or tasks.binary("M1.0")
    files = [str(path) for path in builder.data_path.glob(f"*-{split}.tfrecord-*")]
    if not files:
        raise ValueError(f"No TFRecord files of split {split!r} in {builder.data_path}.")
    raw = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE).batch(batch_size)
    raw_rate, raw_images, _ = _images_per_second(raw, lambda batch: int(batch.shape[0]))
    data = pipeline.make_dataset(builder, split, task, batch_size=batch_size, cache=True)
    first_rate, images, _ = _images_per_second(data, lambda batch: int(batch[1].shape[0]))
    cached_rate, _, _ = _images_per_second(data, lambda batch: int(batch[1].shape[0]))
    megabytes = sum(__import__("os").path.getsize(f) for f in files) / 1e6
    return {
        "dataset": name,
        "split": split,
        "images": images,
        "tfrecord_megabytes": megabytes,
        "raw_tfrecord_images_per_s": raw_rate,
        "pipeline_first_epoch_images_per_s": first_rate,
        "pipeline_cached_epoch_images_per_s": cached_rate,
        "first_epoch_over_raw": first_rate / raw_rate,
        "cached_epoch_over_raw": cached_rate / raw_rate,
        "raw_images_checked": raw_images,
    }
