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


def _passes_per_second(dataset, count_fn, passes: int) -> tuple:
    """`_images_per_second` over `passes` iterations of `dataset` (each a new
    iterator, so an uncached pipeline reads its files again each time)."""
    images = seconds = 0.0
    for _ in range(passes):
        _, n, s = _images_per_second(dataset, count_fn)
        images, seconds = images + n, seconds + s
    return images / seconds, int(images), seconds


def pipeline_throughput(name, split: str = "train", task=None, batch_size: int = 32,
                        data_dir: str | None = None, repeats: int = 5,
                        passes: int = 4) -> dict:
    """Images/s of `make_dataset` against a raw read of the same TFRecord files.

    The raw read is `tf.data.TFRecordDataset` over the split's files with no
    parsing: the ceiling any pipeline over those files can reach. The pipeline
    is measured for a first epoch (read, batch, one `parse_example` per batch,
    task map; no cache) in stored order and shuffled (as training reads it),
    and for a cached epoch (what every later training epoch costs with
    `cache=True`). After a warm-up of each, raw and first-epoch runs alternate
    `repeats` times; the ratios are medians of each round's ratios against
    that round's raw read. Each run reads the split `passes` times, so that a run
    lasts tenths of a second and not the few hundredths where the start of
    an iterator's threads weighs (ratios of single passes scattered by
    +-0.05).

    Args:
        name: dataset name or a TFDS builder.

    Returns:
        dict with images/s of each, the image count, and the ratios.
    """
    import os
    import statistics

    import tensorflow as tf

    from flarekit.data import pipeline, tasks

    builder = name if hasattr(name, "as_dataset") else pipeline.get_builder(name, data_dir)
    task = task or tasks.binary("M1.0")
    files = [str(path) for path in builder.data_path.glob(f"*-{split}.tfrecord-*")]
    if not files:
        raise ValueError(f"No TFRecord files of split {split!r} in {builder.data_path}.")

    def count(batch):
        return int(batch[1].shape[0]) if isinstance(batch, tuple) else int(batch.shape[0])

    def raw():
        records = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
        return records.batch(batch_size)

    def first(shuffle=False):
        return pipeline.make_dataset(builder, split, task, batch_size=batch_size,
                                     cache=False, shuffle=shuffle)

    # Warm-up: the first iterator of each kind pays for tracing and thread pools.
    for make in (raw, first, lambda: first(shuffle=True)):
        _images_per_second(make(), count)
    raw_rates, first_rates, shuffled_rates = [], [], []
    for _ in range(repeats):
        raw_rate, raw_images, _ = _passes_per_second(raw(), count, passes)
        raw_rates.append(raw_rate)
        first_rate, images, _ = _passes_per_second(first(), count, passes)
        first_rates.append(first_rate)
        shuffled_rates.append(_passes_per_second(first(shuffle=True), count, passes)[0])
    # Each round's ratios against the raw read of that round, then the median:
    # the raw read's speed drifts between rounds on a shared machine.
    first_ratios = [f / r for f, r in zip(first_rates, raw_rates)]
    shuffled_ratios = [f / r for f, r in zip(shuffled_rates, raw_rates)]
    cached = pipeline.make_dataset(builder, split, task, batch_size=batch_size, cache=True)
    _images_per_second(cached, count)  # fills the cache
    cached_rate = statistics.median(
        _passes_per_second(cached, count, passes)[0] for _ in range(repeats)
    )
    raw_rate, first_rate = statistics.median(raw_rates), statistics.median(first_rates)
    shuffled_rate = statistics.median(shuffled_rates)
    megabytes = sum(os.path.getsize(f) for f in files) / 1e6
    return {
        "dataset": builder.info.full_name,
        "split": split,
        "images": images // passes,
        "passes_per_run": passes,
        "tfrecord_megabytes": megabytes,
        "raw_tfrecord_images_per_s": raw_rate,
        "pipeline_first_epoch_images_per_s": first_rate,
        "pipeline_cached_epoch_images_per_s": cached_rate,
        "pipeline_shuffled_first_epoch_images_per_s": shuffled_rate,
        "first_epoch_over_raw": statistics.median(first_ratios),
        "shuffled_first_epoch_over_raw": statistics.median(shuffled_ratios),
        "first_epoch_over_raw_rounds": first_ratios,
        "shuffled_first_epoch_over_raw_rounds": shuffled_ratios,
        "cached_epoch_over_raw": cached_rate / raw_rate,
        "raw_images_checked": raw_images // passes,
    }


def model_training_throughput(model, input_shape, batch_size: int = 32, steps: int = 10,
                              loss: str = "binary_crossentropy", seed: int = 0) -> dict:
    """Samples/s of `model.fit` train steps alone, on random inputs in memory.

    No input pipeline, no validation pass, no checkpoint: the cost of the
    network's forward and backward pass. One warm-up epoch traces the graph
    first. Compare models measured back to back in one process.

    Args:
        model: an uncompiled Keras model with one input and one output.
        input_shape: shape of one sample, e.g. (16, 32, 32, 4).
        batch_size: samples per step.
        steps: timed steps.
        loss: "binary_crossentropy" (targets 0/1) or
            "sparse_categorical_crossentropy" (targets class indices).
        seed: seed of the random inputs.

    Returns:
        dict with samples_per_s, parameters, batch_size, steps, seconds.
    """
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(batch_size * steps, *input_shape)).astype("float32")
    classes = int(model.output_shape[-1]) if loss.startswith("sparse") else 2
    targets = rng.integers(0, classes, size=(batch_size * steps, 1))
    if not loss.startswith("sparse"):
        targets = targets.astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    model.fit(inputs[: 2 * batch_size], targets[: 2 * batch_size], batch_size=batch_size,
              epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(inputs, targets, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - started
    return {
        "samples_per_s": batch_size * steps / seconds,
        "parameters": int(model.count_params()),
        "batch_size": batch_size,
        "steps": steps,
        "seconds": seconds,
    }


# ---- raw files: JPEG and FITS ---------------------------------------------------


def _smooth_disk_images(count: int, size: int, seed: int = 0):
    """`count` float32 [size, size] images: a limb-darkened disk with smooth
    structure, so JPEG and FITS hold data of solar-image-like entropy."""
    import numpy as np

    rng = np.random.default_rng(seed)
    axis = (np.arange(size) - (size - 1) / 2) / (0.45 * size)
    x, y = np.meshgrid(axis, axis)
    mu = np.sqrt(np.clip(1 - x * x - y * y, 0, 1))
    for _ in range(count):
        coarse = rng.standard_normal((size // 16, size // 16)).astype(np.float32)
        detail = np.kron(coarse, np.ones((16, 16), np.float32))
        yield (mu * (1000 + 150 * detail) + rng.normal(0, 5, (size, size))).astype(np.float32)


def write_image_files(folder, kind: str, count: int = 256, size: int = 256) -> list:
    """Write `count` images as 8-bit JPEG ("jpeg") or float32 FITS ("fits") files.

    Returns:
        The file paths, as str.
    """
    from pathlib import Path

    import numpy as np

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(_smooth_disk_images(count, size)):
        if kind == "jpeg":
            from PIL import Image

            path = folder / f"image_{index:05d}.jpg"
            scaled = np.clip(image / image.max() * 255, 0, 255).astype(np.uint8)
            Image.fromarray(scaled).save(path, quality=90)
        elif kind == "fits":
            from astropy.io import fits

            path = folder / f"image_{index:05d}.fits"
            fits.PrimaryHDU(image).writeto(path, overwrite=True)
        else:
            raise ValueError(f"kind must be 'jpeg' or 'fits', got {kind!r}.")
        paths.append(str(path))
    return paths


def _read_fits_array(path):
    from astropy.io import fits

    with fits.open(path.decode() if isinstance(path, bytes) else path, memmap=False) as hdul:
        return hdul[0].data.astype("float32")


def file_pipeline_throughput(kind: str, paths, batch_size: int = 32, repeats: int = 5,
                             reads: int = 2048) -> dict:
    """Images/s of a decoding tf.data pipeline against raw reads of the same files.

    Raw read: `tf.io.read_file` of every file, batched (the bytes, no decoding):
    the ceiling of any pipeline over these files. Pipeline: read, decode
    (`tf.io.decode_jpeg`; FITS: `flarekit.data.fits_decode.fits_image_dataset`,
    pixels per file, headers per batch), cast to float32, batch, prefetch,
    AUTOTUNE parallelism. For FITS, the astropy route (astropy in
    `tf.numpy_function`, the decoder's fallback for compressed files) is
    measured in the same rounds. Each run reads the files over and over up to
    `reads` images (runs of a few tenths of a second, not a few hundredths);
    raw and pipeline runs alternate `repeats` times, and the medians count
    (files are in the page cache for both).

    Returns:
        dict with images/s of each and their ratios.
    """
    if kind not in ("jpeg", "fits"):
        raise ValueError(f"kind must be 'jpeg' or 'fits', got {kind!r}.")
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    passes = max(1, reads // len(paths))
    names = tf.data.Dataset.from_tensor_slices(list(paths)).repeat(passes)

    def raw():
        return names.map(tf.io.read_file, num_parallel_calls=autotune).batch(batch_size)

    def with_astropy():
        def decode(path):
            image = tf.numpy_function(_read_fits_array, [path], tf.float32)
            return tf.ensure_shape(image, (None, None))

        return (names.map(decode, num_parallel_calls=autotune)
                .batch(batch_size).prefetch(autotune))

    def decoded():
        if kind == "jpeg":
            def decode(path):
                image = tf.io.decode_jpeg(tf.io.read_file(path), channels=1)
                return tf.cast(image, tf.float32)

            return (names.map(decode, num_parallel_calls=autotune)
                    .batch(batch_size).prefetch(autotune))
        from flarekit.data import fits_decode

        return fits_decode.fits_image_dataset(names, batch_size)

    def count(batch):
        return int(batch.shape[0])

    import statistics

    # Warm-up: the first iterator of each kind pays for tracing and thread pools.
    for make in (raw, decoded):
        _images_per_second(make(), count)
    raw_rates, pipeline_rates, astropy_rates, ratios = [], [], [], []
    for _ in range(repeats):
        raw_rates.append(_images_per_second(raw(), count)[0])
        pipeline_rates.append(_images_per_second(decoded(), count)[0])
        # Each round's ratio of two runs made back to back: the raw read's
        # speed swings by 2x from round to round on a shared machine, and a
        # ratio of medians taken from different rounds carries that swing.
        ratios.append(pipeline_rates[-1] / raw_rates[-1])
        if kind == "fits":
            astropy_rates.append(_images_per_second(with_astropy(), count)[0])
    raw_rate, pipeline_rate = statistics.median(raw_rates), statistics.median(pipeline_rates)
    result = {
        "format": kind,
        "files": len(paths),
        "rounds": repeats,
        "raw_images_per_s": raw_rate,
        "pipeline_images_per_s": pipeline_rate,
        "pipeline_over_raw": statistics.median(ratios),
        "pipeline_over_raw_rounds": ratios,
    }
    if astropy_rates:
        result["astropy_images_per_s"] = statistics.median(astropy_rates)
        result["astropy_over_raw"] = statistics.median(
            a / r for a, r in zip(astropy_rates, raw_rates))
    return result


# ---- training throughput -------------------------------------------------------

# The networks of flarekit at CPU-sized settings (what the starters train).
TRAINING_MODELS = ("cnn", "vit", "video", "unet")


def _training_setup(name: str, jit_compile: bool):
    """(model, batch data, images per batch) for one benchmark network."""
    import keras
    import numpy as np

    from flarekit import models
    from flarekit.data import tasks

    rng = np.random.default_rng(0)
    head = models.build_head(tasks.binary("M1.0"))
    if name == "cnn":
        model = models.build_cnn((64, 64, 4), filters=(32, 64, 128), dense_units=64,
                                 head=head)
        batch = (rng.normal(size=(32, 64, 64, 4)).astype("float32"),
                 rng.integers(0, 2, (32, 1)).astype("float32"))
    elif name == "vit":
        model = models.build_vit((64, 64, 4), patch_size=8, hidden_dim=64, num_layers=4,
                                 num_heads=4, mlp_dim=128, head=head)
        batch = (rng.normal(size=(32, 64, 64, 4)).astype("float32"),
                 rng.integers(0, 2, (32, 1)).astype("float32"))
    elif name == "video":
        model = models.build_video_transformer(
            (16, 32, 32, 4), "factorised", tubelet_size=(2, 8, 8), hidden_dim=64,
            num_layers=4, num_heads=4, mlp_dim=128, head=head)
        batch = (rng.normal(size=(8, 16, 32, 32, 4)).astype("float32"),
                 rng.integers(0, 2, (8, 1)).astype("float32"))
    elif name == "unet":
        from flarekit.models.unet import build_unet
        from flarekit.training.diffusion import DiffusionModel

        network = build_unet((32, 32, 2), widths=(32, 64, 128), condition="goes_class")
        model = DiffusionModel(network)
        batch = ({"images": rng.normal(size=(16, 32, 32, 2)).astype("float32"),
                  "condition": rng.integers(0, 6, (16,)).astype("int32")},)
    else:
        raise ValueError(f"Unknown benchmark model {name!r}; known: {TRAINING_MODELS}.")
    images = len(batch[0]["images"]) if name == "unet" else len(batch[0])
    if name != "unet":
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                      jit_compile=jit_compile)
    else:
        model.compile(optimizer=keras.optimizers.Adam(2e-4), jit_compile=jit_compile)
    return model, batch, images


def training_throughput(name: str, precisions=("float32", "mixed_bfloat16"),
                        jit_options=(False, True), rounds: int = 5,
                        round_seconds: float = 1.0) -> list:
    """Training images/s of one network in every precision and XLA setting.

    `train_on_batch` on one in-memory batch. All variants are built and warmed
    up first (two steps: tracing and XLA compilation, timed apart); then they
    are timed in `rounds` interleaved rounds of about `round_seconds` each,
    and the median step time counts, so that a change of load on a shared
    machine hits every variant alike.

    Args:
        name: one of `TRAINING_MODELS`.
        precisions: Keras global policies ("float32", "mixed_bfloat16").
        jit_options: `jit_compile` settings.

    Returns:
        One dict per variant: images_per_s, compile_s, steps timed.
    """
    import statistics

    import keras

    keras.backend.clear_session()
    variants = {}
    try:
        for precision in precisions:
            keras.mixed_precision.set_global_policy(precision)
            for jit in jit_options:
                model, batch, images = _training_setup(name, bool(jit))
                started = time.perf_counter()
                for _ in range(2):
                    model.train_on_batch(*batch)
                compile_s = time.perf_counter() - started
                variants[(precision, bool(jit))] = {
                    "model": model, "batch": batch, "images": images,
                    "compile_s": compile_s, "step_s": [],
                }
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for _ in range(rounds):
        for variant in variants.values():
            model, batch = variant["model"], variant["batch"]
            steps, started = 0, time.perf_counter()
            while steps < 1 or time.perf_counter() - started < round_seconds:
                model.train_on_batch(*batch)
                steps += 1
            variant["step_s"].append((time.perf_counter() - started) / steps)
    rows = []
    for (precision, jit), variant in variants.items():
        step_s = statistics.median(variant["step_s"])
        rows.append({"model": name, "precision": precision, "jit_compile": jit,
                     "images_per_s": variant["images"] / step_s,
                     "step_s_rounds": variant["step_s"],
                     "compile_s": variant["compile_s"],
                     "parameters": int(variant["model"].count_params())})
    return rows


# ---- sampler wall time -----------------------------------------------------------


def sampler_timing(samplers=("ddim", "dpmpp", "ddpm"), steps=(5, 10, 20, 40),
                   images: int = 8, rounds: int = 3,
                   ratio_settings=(("ddpm", 1000), ("dpmpp", 20)),
                   ratio_images: int = 4, ratio_shape=(16, 16, 2)) -> list:
    """Wall time per generated image against sampling steps, per sampler, and the
    wall-time ratio of two settings (DDPM 1000 against DPM-Solver++ 20).

    One `DiffusionModel` around a small UNet (32x32x2, widths 32/64/128),
    untrained (the cost of a step does not depend on the weights); the
    compiled sampling loop is warmed up once per sampler, then the step counts
    are timed in `rounds` interleaved rounds and the median counts.

    The ratio uses a smaller UNet (`ratio_shape`, widths 16/32) and
    `ratio_images` images, the same network and batch for both settings,
    timed back to back in each round: with no per-call or per-step sampler
    overhead it equals the ratio of network evaluations (50 for 1000 / 20).

    Returns:
        One dict per (sampler, steps): kind "steps", seconds_per_image,
        compile_s; then one per ratio setting: kind "ratio", seconds_per_call
        (median wall), seconds_rounds, cpu_seconds_per_call (median process
        CPU time), images, shape, evaluations.
    """
    import statistics

    import keras
    import numpy as np

    from flarekit.models.unet import build_unet
    from flarekit.training.diffusion import DiffusionModel

    model = DiffusionModel(build_unet((32, 32, 2), widths=(32, 64, 128)),
                           preprocessing=[keras.layers.Identity()])
    condition = np.arange(images) % 6
    rows = []
    for sampler in samplers:
        # The loop compiles once per sampler (timesteps are a tensor argument).
        _, warm_up = model.timed_generate(condition[:1], sampler=sampler, num_steps=1,
                                          physical=False)
        walls = {count: [] for count in steps}
        for _ in range(rounds):  # interleaved, median: robust to a shared CPU
            for count in steps:
                started = time.perf_counter()
                model.generate(condition, sampler=sampler, num_steps=count, physical=False)
                walls[count].append(time.perf_counter() - started)
        for count in steps:
            rows.append({"kind": "steps", "sampler": sampler, "steps": count,
                         "seconds_per_image": statistics.median(walls[count]) / images,
                         "compile_s": warm_up["compile_s"]})
    if ratio_settings:
        small = DiffusionModel(build_unet(tuple(ratio_shape), widths=(16, 32)),
                               preprocessing=[keras.layers.Identity()])
        condition = np.arange(ratio_images) % 6
        for sampler, _ in ratio_settings:
            small.generate(condition, sampler=sampler, num_steps=2, physical=False)
        walls = {setting: [] for setting in ratio_settings}
        # Process CPU time beside wall time: on a shared machine it counts this
        # process's work only, so its ratio is the steadier of the two.
        cpus = {setting: [] for setting in ratio_settings}
        for _ in range(rounds):
            for sampler, count in ratio_settings:
                started, started_cpu = time.perf_counter(), time.process_time()
                small.generate(condition, sampler=sampler, num_steps=count,
                               physical=False)
                walls[(sampler, count)].append(time.perf_counter() - started)
                cpus[(sampler, count)].append(time.process_time() - started_cpu)
        for (sampler, count), seconds in walls.items():
            rows.append({"kind": "ratio", "sampler": sampler, "steps": count,
                         "seconds_per_call": statistics.median(seconds),
                         "seconds_rounds": seconds,
                         "cpu_seconds_per_call": statistics.median(
                             cpus[(sampler, count)]),
                         "images": ratio_images,
                         "shape": list(ratio_shape), "evaluations": count})
    return rows


# ---- peak memory as the dataset grows -------------------------------------------

MEMORY_EXAMPLE_SHAPE = (64, 64, 4)


def write_memory_dataset(data_dir, examples: int):
    """A TFDS dataset `flarekit_memory_benchmark` of `examples` random 64x64x4
    float32 images (64 KiB each, incompressible) with peak fluxes; the builder
    (an existing one in `data_dir` is reused)."""
    from pathlib import Path

    import numpy as np
    import tensorflow as tf
    import tensorflow_datasets as tfds

    images = tf.data.Dataset.range(examples).map(
        lambda i: {
            "image": tf.random.stateless_normal(MEMORY_EXAMPLE_SHAPE, tf.stack([i, 0])),
            "peak_flux": tf.constant(1e-6, tf.float32),
        }
    )
    found = sorted(Path(data_dir).glob("flarekit_memory_benchmark/*.*.*"))
    if found:
        return tfds.builder_from_directory(str(found[0]))
    return tfds.dataset_builders.store_as_tfds_dataset(
        name="flarekit_memory_benchmark",
        version="1.0.0",
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=MEMORY_EXAMPLE_SHAPE, dtype=np.float32),
            "peak_flux": tfds.features.Scalar(dtype=np.float32),
        }),
        split_datasets={"train": images},
        data_dir=str(data_dir),
    )


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), MiB. Not `ru_maxrss`, which
    Linux carries over from the parent through fork and exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("No VmHWM in /proc/self/status (peak memory needs Linux).")


def memory_worker(data_dir: str, split: str, cache: bool, epochs: int = 2,
                  shuffle_buffer: int = 256) -> dict:
    """Train-like pass over `split` through `make_dataset`; peak RSS (run in a
    fresh subprocess per size: the high-water mark only grows)."""
    import tensorflow_datasets as tfds

    from flarekit.data import pipeline, tasks

    builder = tfds.builder_from_directory(
        str(next(iter(sorted(__import__("pathlib").Path(data_dir).glob(
            "flarekit_memory_benchmark/*.*.*")))))
    )
    task = tasks.binary("M1.0")
    examples = builder.info.splits[split].num_examples
    dataset = pipeline.make_dataset(builder, split, task, batch_size=32, shuffle=True,
                                    cache=cache, epochs=(0, epochs),
                                    shuffle_buffer=shuffle_buffer)
    baseline = _peak_rss_mib()
    seen = 0
    for _, targets in dataset:
        seen += int(targets.shape[0])
    peak = _peak_rss_mib()
    return {"split": split, "examples": examples, "seen": seen, "cache": cache,
            "baseline_mib": baseline, "peak_mib": peak,
            "dataset_mib": examples * 4 * 64 * 64 * 4 / 2**20}


def peak_memory(data_dir, base_examples: int = 256, factors=(1, 4, 16)) -> list:
    """Peak RSS of a subprocess per dataset size (1x, 4x, 16x) and cache mode.

    Streaming (cache=False, a bounded shuffle buffer of 256 examples) should
    stay flat; cache=True holds the split in memory and grows with it.
    """
    write_memory_dataset(data_dir, base_examples * max(factors))
    rows = []
    for cache in (False, True):
        for factor in factors:
            split = f"train[:{base_examples * factor}]"
            # Every size reads the same number of examples (more epochs of a
            # smaller split): the TF runtime's own memory grows a little with
            # the examples processed, which is not the data being held.
            epochs = 2 * max(factors) // factor
            result = in_fresh_process("memory_worker", str(data_dir), split, cache,
                                      epochs=epochs)
            rows.append({"factor": factor, "epochs": epochs, **result})
    return rows


def in_fresh_process(function: str, *args, timeout: float = 900, **kwargs):
    """`function(*args, **kwargs)` of this module, run in a new Python process;
    its JSON result. For measurements that the state of a long benchmark
    process would skew (peak memory only grows; thread pools and the
    allocator's state after earlier benchmarks slowed the FITS pipeline, not
    its raw read, by up to 40 %), as a user's process that runs one pipeline
    would not see them.

    Raises:
        RuntimeError: the process failed (with the end of its stderr).
    """
    import json
    import subprocess
    import sys

    code = (f"import json; from flarekit.studies.benchmarks import {function}; "
            f"print('RESULT', json.dumps({function}(*{args!r}, **{kwargs!r})))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True,
                               text=True, timeout=timeout, check=False)
    lines = [x for x in completed.stdout.splitlines() if x.startswith("RESULT ")]
    if completed.returncode or not lines:
        errors = completed.stderr.strip().splitlines() or ["(no stderr)"]
        raise RuntimeError(f"{function} failed in its process: {errors[-1]}\n"
                           f"{completed.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


# ---- make bench -------------------------------------------------------------------


def _machine() -> dict:
    import os
    import platform

    import keras
    import tensorflow as tf

    from flarekit.experiments import precision

    flags = precision.cpu_flags()
    named = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return {"cpus": os.cpu_count(), "load_average": os.getloadavg(),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "cpu_flags": named,
            "auto_precision": precision.choose_policy("auto", tpus=0, gpus=[])}


def runner_overhead(steps: int = 200, batch_size: int = 32, rounds: int = 3,
                    workdir=None) -> dict:
    """The runner's training step rate against a plain `model.fit`.

    Same network (the starter CNN on its binned 32x32x4 input, float32), same
    in-memory batches,
    same validation batches, `steps` steps an epoch. Plain: `model.fit(...,
    verbose=0)`. Runner: `Experiment.fit`, i.e. the runner's callbacks (atomic
    checkpoints of every epoch, history, state, TensorBoard) and fit
    arguments. Each is warmed up once (tracing), then the two alternate for
    `rounds` rounds; the medians count.

    Returns:
        {"steps", "batch_size", "plain_steps_per_s", "runner_steps_per_s",
        "runner_over_plain"}.
    """
    import tempfile
    from pathlib import Path

    import keras
    import numpy as np
    import tensorflow as tf

    from flarekit import models
    from flarekit.experiments import find_experiment, load_config, runner

    starter = find_experiment("xray_flux_forecast/starting_point")
    config = load_config(starter, overrides={"epochs": 1, "verbose": 0,
                                             "mixed_precision": "float32"})
    keras.mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(0)
    # The starter bins its 64x64 patches 2x2 before the convolutions.
    size = 64 // config.bin_factor
    images = rng.normal(size=(batch_size * 8, size, size, 4)).astype("float32")
    labels = (rng.random(batch_size * 8) < 0.2).astype("float32")
    batches = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    train = batches.repeat().take(steps).cache()
    validation = batches.take(2).cache()

    def network():
        keras.utils.set_random_seed(0)
        model = models.build_cnn(input_shape=(size, size, 4), filters=config.filters,
                                 dense_units=config.dense_units, dropout=config.dropout,
                                 head=keras.layers.Dense(1, activation="sigmoid",
                                                         name="forecast"),
                                 name="runner_overhead_cnn")
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                      metrics=[keras.metrics.AUC(name="auc")])
        return model

    scratch = Path(workdir or tempfile.mkdtemp(prefix="flarekit_runner_bench_"))

    def plain(model):
        started = time.perf_counter()
        model.fit(train, validation_data=validation, epochs=1, verbose=0)
        return time.perf_counter() - started

    def through_runner(model, index):
        run_dir = scratch / f"run_{index}"
        (run_dir / "checkpoints").mkdir(parents=True)
        experiment = runner.Experiment(config, None, run_dir, name="bench")
        experiment.strategy = tf.distribute.get_strategy()
        experiment.train, experiment.validation = train, validation
        experiment.class_weight = lambda: None
        experiment.train_examples = lambda: steps * batch_size
        return experiment.fit(model, {})

    plain_model, runner_model = network(), network()
    plain(plain_model)  # tracing
    through_runner(runner_model, "warm")
    timings = {"plain": [], "runner": []}
    for index in range(rounds):
        timings["plain"].append(plain(plain_model))
        timings["runner"].append(through_runner(runner_model, index))
    plain_rate = steps / float(np.median(timings["plain"]))
    runner_rate = steps / float(np.median(timings["runner"]))
    return {"steps": steps, "batch_size": batch_size, "rounds": rounds,
            "plain_steps_per_s": plain_rate, "runner_steps_per_s": runner_rate,
            "runner_over_plain": runner_rate / plain_rate}


def run_all(output="BENCHMARKS.md", workdir=None, quick: bool = False) -> dict:
    """Every benchmark of `make bench`, then BENCHMARKS.md.

    Args:
        output: the Markdown file written (atomically); None writes none.
        workdir: scratch folder for the generated files (a temporary one if None).
        quick: tiny sizes and times, to check the machinery (not for reporting).

    Returns:
        All results, as written.
    """
    import tempfile
    from pathlib import Path

    from flarekit.io import write_json_atomic, write_text_atomic

    started = time.perf_counter()
    scratch = Path(workdir or tempfile.mkdtemp(prefix="flarekit_bench_"))
    results = {"machine_before": _machine()}
    files = 32 if quick else 512
    # Each format in a process of its own, as a user's pipeline runs.
    results["files"] = [
        in_fresh_process("file_pipeline_throughput", kind,
                         [str(path) for path in write_image_files(scratch / kind, kind, files)],
                         repeats=3 if quick else 7)
        for kind in ("jpeg", "fits")
    ]
    print("bench: files", results["files"], flush=True)
    # One TFDS dataset of incompressible 64 KiB images serves the TFRecord
    # throughput and the memory measurement (16x its first `base` examples).
    base = 16 if quick else 256
    memory_builder = write_memory_dataset(scratch / "memory", base * 16)
    results["tfrecord"] = pipeline_throughput(memory_builder, repeats=3 if quick else 7)
    print("bench: tfrecord", results["tfrecord"], flush=True)
    models = ("cnn",) if quick else TRAINING_MODELS
    results["training"] = []
    for name in models:
        rows = training_throughput(name, rounds=2 if quick else 5,
                                   round_seconds=0.2 if quick else 1.0)
        results["training"] += rows
        print("bench: training", rows, flush=True)
    results["sampling"] = sampler_timing(steps=(2, 4) if quick else (5, 10, 20, 40),
                                         images=2 if quick else 8,
                                         rounds=1 if quick else 3)
    print("bench: sampling", results["sampling"], flush=True)
    results["runner"] = runner_overhead(steps=20 if quick else 200,
                                        rounds=1 if quick else 3,
                                        workdir=scratch / "runner")
    print("bench: runner", results["runner"], flush=True)
    results["memory"] = peak_memory(scratch / "memory", base_examples=base)
    print("bench: memory", results["memory"], flush=True)
    results["machine_after"] = _machine()
    results["total_s"] = time.perf_counter() - started
    if output:
        write_text_atomic(output, benchmarks_markdown(results))
        write_json_atomic(Path(output).with_suffix(".json"), results)
    return results


def _table(header, rows) -> list:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def benchmarks_markdown(results: dict) -> str:
    """BENCHMARKS.md from `run_all`'s results: ratios first, absolute figures beside."""
    before, after = results["machine_before"], results["machine_after"]
    load = f"{before['load_average'][0]:.1f} at the start, {after['load_average'][0]:.1f} at the end"
    lines = [
        "# Benchmarks",
        "",
        (
            "Written by `make bench` (`tools/benchmarks/run_all.py` over "
            f"`flarekit.studies.benchmarks`) in {results['total_s'] / 60:.1f} minutes on a "
            f"{before['cpus']}-core CPU, no GPU; Python {before['python']}, TensorFlow "
            f"{before['tensorflow']}, Keras {before['keras']}; CPU flags "
            f"{', '.join(before.get('cpu_flags', [])) or 'unknown'} (\"auto\" precision "
            f"here: {before.get('auto_precision', ['?'])[0]})."
        ),
        "",
        f"The CPU was shared with other work while this ran (1-minute load average {load}),",
        "so absolute images/s are low and noisy. Every figure that matters is a **ratio of two",
        "measurements made back to back in one process**, which the shared load affects",
        "about equally; absolute numbers are given beside them for scale only.",
        "",
        "## Input pipeline against raw reads of the same files",
        "",
        "Raw read: the files' bytes only (`tf.io.read_file`, or `TFRecordDataset` without",
        "parsing): the ceiling of any pipeline over them. Pipeline: read, decode, batch, prefetch",
        "with AUTOTUNE (JPEG: `tf.io.decode_jpeg`; FITS: `flarekit.data.fits_decode`, each",
        "file's pixels decoded by graph ops as the first file is laid out, then each batch's",
        "headers parsed and checked; and beside it astropy in `tf.numpy_function`, the",
        "decoder's fallback for compressed files; TFRecord: `flarekit.data.pipeline.make_dataset`",
        "with the binary task map over a TFDS dataset of 64 KiB float32 images: serialized",
        "records batched, one `tf.io.parse_example` per batch, a first epoch without cache in",
        "stored order and shuffled, and a cached epoch).",
        "Each JPEG/FITS run reads the 512 files 4 times (2,048 images). JPEG and FITS are",
        "each measured in a fresh process of their own (as a user's pipeline runs: in the",
        "long benchmark process the FITS pipeline, not its raw read, ran up to 40 % slower),",
        "in 7 rounds of a raw run then a pipeline run after one warm-up of each; the ratio is",
        "the median of the rounds' ratios (range beside it), the images/s the medians.",
        "TFRecord runs (each 4 passes over the split) likewise: after a warm-up, 7 rounds of a",
        "raw read, a first epoch and a shuffled first epoch; the median of the rounds' ratios",
        "counts; the cached epoch is the median of 7 runs. Files are in the page cache.",
        "",
        "Ceilings. A TFRecord pipeline that parses a batch in one op reaches the raw read; a",
        "cached epoch skips reading and parsing, so it passes it. A FITS decode cannot reach",
        "the raw read: the raw read copies every byte twice (file into memory, into its",
        "batch); the decoder three times (into memory, byte-swapped from big-endian into",
        "numbers per file, with the header left out by an aligned slice that shares the",
        "buffer, then into the batch), so its ceiling is about 2/3 of the raw read. The same",
        "per-file decode with no header parsing or checks measured 0.59 (a one-off harness on",
        "2026-12-05, load about 1, median of 7 rounds,",
        "0.26-1.29) beside 0.46 for the checked one; the header ops (once per batch), the",
        "layout check and the truncation check cost the difference. The decoder before",
        "(whole batches of files byte-swapped, then the headers sliced off: four copies)",
        "measured 0.23 in the same rounds. astropy spends ~95 % of a small",
        "file's time parsing its header in Python under the GIL, so parallel calls do not",
        "help it.",
        "",
    ]
    rows = []
    for f in results["files"]:
        name = f["format"].upper() + f" ({f['files']} files, 256x256)"
        rounds = f.get("pipeline_over_raw_rounds") or [f["pipeline_over_raw"]]
        spread = f"{min(rounds):.3f}-{max(rounds):.3f}"
        goal = ">= 0.35" if f["format"] == "fits" else "-"
        rows.append([name + (", TensorFlow ops" if "astropy_over_raw" in f else ""),
                     f"{f['pipeline_over_raw']:.3f}", spread, goal,
                     f"{f['pipeline_images_per_s']:,.0f}", f"{f['raw_images_per_s']:,.0f}"])
        if "astropy_over_raw" in f:
            rows.append([name + ", astropy (fallback)", f"{f['astropy_over_raw']:.3f}", "",
                         "-", f"{f['astropy_images_per_s']:,.0f}",
                         f"{f['raw_images_per_s']:,.0f}"])
    record = results["tfrecord"]
    name = f"TFRecord, first epoch ({record['images']} examples of {record['dataset']})"
    raw_rate = f"{record['raw_tfrecord_images_per_s']:,.0f}"
    def spread(key):
        rounds = record.get(f"{key}_rounds")
        return f"{min(rounds):.3f}-{max(rounds):.3f}" if rounds else ""

    rows.append([name, f"{record['first_epoch_over_raw']:.3f}", spread("first_epoch_over_raw"),
                 ">= 0.9", f"{record['pipeline_first_epoch_images_per_s']:,.0f}", raw_rate])
    if "shuffled_first_epoch_over_raw" in record:
        rows.append(["TFRecord, first epoch shuffled",
                     f"{record['shuffled_first_epoch_over_raw']:.3f}",
                     spread("shuffled_first_epoch_over_raw"), ">= 0.9",
                     f"{record['pipeline_shuffled_first_epoch_images_per_s']:,.0f}",
                     raw_rate])
    rows.append(["TFRecord, cached epoch", f"{record['cached_epoch_over_raw']:.3f}", "",
                 ">= 2", f"{record['pipeline_cached_epoch_images_per_s']:,.0f}", raw_rate])
    lines += _table(["files", "pipeline / raw", "rounds' range", "goal", "pipeline img/s",
                     "raw img/s"], rows)

    lines += [
        "## Training images/s: precision and XLA",
        "",
        "`train_on_batch` on one in-memory batch (no input pipeline). The four variants of",
        "a network are built and warmed up (two steps: tracing and XLA compilation, the",
        "warm-up column), then timed in 5 interleaved rounds of about 1 s; the median step",
        "counts. Ratio: against float32 without XLA, same network, same process.",
        "CNN: `build_cnn` 64x64x4, filters 32/64/128, batch 32; ViT: `build_vit` 64x64x4,",
        "patch 8, 4 layers of width 64, batch 32; video: `build_video_transformer`",
        "factorised, 16x32x32x4 clips, tubelets 2x8x8, 4 layers, batch 8; UNet: `build_unet`",
        "32x32x2, widths 32/64/128, in `DiffusionModel`, batch 16.",
        "mixed_bfloat16 rows hold for the CPU flags named above only: a CPU without",
        "avx512_bf16 or amx_bf16 emulates bfloat16 (10-16x slower than float32 on a",
        "2-core AVX2 EPYC), which is why `mixed_precision = \"auto\"` picks float32 there.",
        "",
    ]
    rows = []
    for row in results["training"]:
        reference = next(r for r in results["training"] if r["model"] == row["model"]
                         and r["precision"] == "float32" and not r["jit_compile"])
        rows.append([row["model"], f"{row['parameters']:,}", row["precision"],
                     "on" if row["jit_compile"] else "off",
                     f"{row['images_per_s'] / reference['images_per_s']:.2f}",
                     f"{row['images_per_s']:,.1f}", f"{row['compile_s']:.1f}"])
    lines += _table(["network", "parameters", "precision", "jit_compile",
                     "speed / float32 no-XLA", "images/s", "warm-up s"], rows)

    lines += [
        "## Sampler wall time per image against steps",
        "",
        "`DiffusionModel.generate` of 8 images (compiled sampling loop, warmed up once per",
        "sampler; step counts timed in 3 interleaved rounds, median), 32x32x2 UNet (widths",
        "32/64/128), untrained: the cost of a step does not depend on the weights.",
        "Ratio: time per image against the same sampler's fewest steps; a sampler whose cost",
        "is all network evaluations scales as steps / fewest steps.",
        "",
    ]
    step_rows = [r for r in results["sampling"] if r.get("kind", "steps") == "steps"]
    rows = []
    for row in step_rows:
        first = next(r for r in step_rows if r["sampler"] == row["sampler"])
        rows.append([row["sampler"], row["steps"],
                     f"{row['seconds_per_image'] / first['seconds_per_image']:.2f}",
                     f"{row['steps'] / first['steps']:.0f}",
                     f"{row['seconds_per_image'] * 1000:.1f}",
                     f"{row['seconds_per_image'] * 1000 / row['steps']:.2f}"])
    lines += _table(["sampler", "steps", "time / fewest steps", "steps / fewest steps",
                     "ms per image", "ms per image per step"], rows)
    ratio_rows = [r for r in results["sampling"] if r.get("kind") == "ratio"]
    if len(ratio_rows) == 2:
        long, short = ratio_rows
        ratio_text = (
            f"Whole-call ratio {long['sampler']} {long['steps']} against "
            f"{short['sampler']} {short['steps']} on one network and batch "
            f"({long['images']} images, {'x'.join(map(str, long['shape']))} UNet, "
            "widths 16/32; back to back in each round, median): "
            f"**{long['seconds_per_call'] / short['seconds_per_call']:.1f}x** wall time "
            f"for {long['evaluations'] / short['evaluations']:.0f}x the network "
            f"evaluations ({long['seconds_per_call']:.2f} s against "
            f"{short['seconds_per_call']:.3f} s); process CPU time ratio "
            f"{long['cpu_seconds_per_call'] / short['cpu_seconds_per_call']:.1f}x. "
            "Goal: >= 50x. Below the evaluation ratio means "
            "fixed per-call cost or per-step sampler work; the loop draws its noise "
            "statelessly and the compiled function is called without a trace lookup."
        )
        lines += [ratio_text, ""]

    runner_result = results.get("runner")
    if runner_result:
        lines += [
            "## The runner against a plain `model.fit`",
            "",
            "The starter CNN (32x32x4 after its 2x2 binning, float32, batch "
            f"{runner_result['batch_size']}) on the same in-memory batches and validation "
            f"batches, {runner_result['steps']} steps an epoch, warmed up once, then "
            f"{runner_result['rounds']} interleaved rounds (median). Runner: "
            "`Experiment.fit` with its callbacks (atomic checkpoint, history and state "
            "every epoch; TensorBoard once an epoch). Goal: >= 0.95.",
            "",
        ]
        lines += _table(
            ["runner / plain", "runner steps/s", "plain steps/s", "goal"],
            [[f"{runner_result['runner_over_plain']:.3f}",
              f"{runner_result['runner_steps_per_s']:.2f}",
              f"{runner_result['plain_steps_per_s']:.2f}", ">= 0.95"]],
        )

    lines += [
        "## Peak memory as the dataset grows",
        "",
        "A subprocess per size runs shuffled training epochs over the first 1x, 4x and 16x",
        "examples of a TFDS dataset of 64 KiB float32 images through `make_dataset` and",
        "reports its peak RSS (VmHWM). Every size reads the same number of examples (32, 8",
        "and 2 epochs), so that only the data held differs. Streaming (`cache=False`, a",
        "256-example shuffle block) must stay flat; `cache=True` keeps the split in memory,",
        "so it grows with the data: use it only for splits that fit.",
        "",
    ]
    rows = []
    for row in results["memory"]:
        reference = next(r for r in results["memory"]
                         if r["cache"] == row["cache"] and r["factor"] == 1)
        rows.append(["cache" if row["cache"] else "streaming", f"{row['factor']}x",
                     row["examples"], f"{row['dataset_mib']:.0f}",
                     f"{row['peak_mib']:.0f}", f"{row['peak_mib'] / reference['peak_mib']:.2f}",
                     f"{row['peak_mib'] - reference['peak_mib']:+.0f}"])
    lines += _table(["mode", "size", "examples", "split MiB", "peak RSS MiB",
                     "peak / 1x", "MiB over 1x"], rows)
    return "\n".join(lines)
