"""Building the synthetic Sun: parallel rendering and global random state.

Issue 12 asks for two properties of a build. Rendering in worker processes
must give exactly the examples of a serial build, in the same order, for any
number of workers and any shard size (each image seeds its own Generator).
And a build must leave every global random state that training later uses
untouched: numpy's global RNG, Python's `random`, TensorFlow's global seed
and op-seed counter, and Keras's global SeedGenerator.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from flarekit.data import synthetic

# A short simulation near cycle maximum with tiny images: a few hundred
# samples of each kind, simulated in about a second.
TINY = synthetic.SyntheticSunConfig(
    seed=11,
    duration_days=60.0,
    warmup_days=20.0,
    cycle_phase_at_start=0.4,
    split_gap_days=3.0,
    full_disk_size=32,
    full_disk_stride_steps=15,
    patch_size=16,
    active_region_stride_steps=30,
    sequence_patch_size=8,
    sequence_stride_steps=90,
)


def _assert_same_examples(expected, found):
    assert len(found) == len(expected) > 0
    for reference, example in zip(expected, found):
        assert example.keys() == reference.keys()
        for name, value in reference.items():
            assert np.array_equal(
                np.asarray(example[name]),
                np.asarray(value),
                equal_nan=np.asarray(value).dtype.kind == "f",
            ), name


@pytest.mark.parametrize("kind", ["active_region", "sequence"])
def test_examples_do_not_depend_on_the_number_of_workers(kind):
    sun = synthetic.simulate(TINY)
    serial = list(sun.examples(kind, "all"))
    # Shards of 7 spread the samples unevenly over the two workers.
    parallel = list(sun.examples(kind, "all", workers=2, shard_size=7))
    _assert_same_examples(serial, parallel)


def test_spawned_workers_render_the_same_examples(monkeypatch):
    # Platforms without a safe fork (macOS) spawn workers, which receive the
    # slimmed render state instead of inheriting the whole simulation.
    monkeypatch.setattr(synthetic, "RENDER_START_METHOD", "spawn")
    sun = synthetic.simulate(TINY)
    serial = list(sun.examples("active_region", "validation"))
    parallel = list(
        sun.examples("active_region", "validation", workers=2, shard_size=5)
    )
    _assert_same_examples(serial, parallel)


def test_examples_reject_a_bad_number_of_workers():
    sun = synthetic.simulate(TINY)
    with pytest.raises(ValueError, match="workers must be a positive integer, got 0"):
        next(sun.examples("active_region", "train", workers=0))
    with pytest.raises(ValueError, match="shard_size must be a positive integer"):
        next(sun.examples("active_region", "train", workers=2, shard_size=0))


def _global_draws():
    import keras
    import tensorflow as tf

    return {
        "numpy": np.random.random(4),
        "random": np.array([random.random() for _ in range(4)]),
        "tensorflow": tf.random.uniform([4]).numpy(),
        "keras": keras.ops.convert_to_numpy(keras.random.uniform((4,))),
    }


def _assert_global_random_state_untouched(build):
    """Seed every global generator, run `build`, and check none moved."""
    import keras

    keras.utils.set_random_seed(0)
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    build()
    after_numpy_state = np.random.get_state()
    assert after_numpy_state[0] == numpy_state[0]
    np.testing.assert_array_equal(after_numpy_state[1], numpy_state[1])
    assert after_numpy_state[2:] == numpy_state[2:]
    assert random.getstate() == python_state
    # The next draws of every generator are those of a fresh seed: the build
    # neither drew from TensorFlow's or Keras's global streams nor re-seeded
    # them.
    after = _global_draws()
    keras.utils.set_random_seed(0)
    expected = _global_draws()
    for name, values in expected.items():
        np.testing.assert_array_equal(after[name], values, err_msg=name)


def test_generator_leaves_global_random_state_alone():
    # A fresh simulation (not the cached one) and every kind of sample: all
    # draws must come from the generator's own seeded numpy Generators.
    def build():
        sun = synthetic.SyntheticSun(TINY)
        for kind in synthetic.SAMPLE_KINDS:
            for _ in itertools.islice(sun.examples(kind, "all"), 20):
                pass

    _assert_global_random_state_untouched(build)


def test_tfds_build_leaves_global_random_state_alone(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    from flarekit.data import pipeline

    # Render in this process, so that a global draw anywhere in the
    # generator would show here rather than in a worker.
    monkeypatch.setenv("FLAREKIT_BUILD_WORKERS", "1")
    pipeline.register_builder("synthetic_sun/active_region_smoke")
    builder = tfds.builder("synthetic_sun/active_region_smoke", data_dir=str(tmp_path))
    _assert_global_random_state_untouched(builder.download_and_prepare)
    assert builder.info.splits["train"].num_examples > 0
