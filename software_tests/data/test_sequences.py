"""Oversampling of sequences: physically valid copies only, never the test block."""

import numpy as np
import pytest
import tensorflow as tf

from flarekit.data import sequences, tasks
from flarekit.data.splits import EvaluationSetError

RNG = np.random.default_rng(0)


def _clips_dataset(labels):
    clips = RNG.normal(size=(len(labels), 6, 4, 4, 2)).astype("float32")
    targets = np.asarray(labels, "float32")[:, None]
    return tf.data.Dataset.from_tensor_slices((clips, targets)), clips


@pytest.mark.parametrize("variant", ["test", "train_validation_test", "train_and_test"])
def test_any_variant_naming_the_test_block_raises(variant):
    with pytest.raises(EvaluationSetError, match="test block"):
        sequences.oversampled_parts(variant)


def test_variants_and_unknown_names():
    assert sequences.oversampled_parts("none") == ()
    assert sequences.oversampled_parts("train") == ("train",)
    assert sequences.oversampled_parts("train_and_validation") == (
        "train",
        "validation",
    )
    with pytest.raises(ValueError, match="'everything'"):
        sequences.oversampled_parts("everything")


def test_oversampling_the_test_block_raises_whatever_the_caller():
    dataset, _ = _clips_dataset([0, 1])
    for part in ("test", "test[:50%]", "TEST"):
        with pytest.raises(EvaluationSetError):
            sequences.oversample_positives(dataset, copies=3, part=part)


@pytest.mark.parametrize("name", ["flip", "vertical_flip", "rotate", "rot90"])
def test_flips_and_rotations_are_refused(name):
    with pytest.raises(ValueError, match="Hale"):
        sequences.check_transforms(("noise", name))
    dataset, _ = _clips_dataset([1])
    with pytest.raises(ValueError, match="Hale"):
        sequences.oversample_positives(dataset, 2, part="train", transforms=(name,))


def test_time_shift_keeps_the_last_frames_and_holds_the_first():
    clip = tf.constant(RNG.normal(size=(6, 3, 3, 1)), tf.float32)
    shifts = set()
    for seed in range(12):
        shifted = sequences.augment_clip(
            clip, tf.constant([seed, 1]), ("time_shift",), 3
        ).numpy()
        same = [bool(np.array_equal(shifted[i], clip[i].numpy())) for i in range(6)]
        shift = same.index(True)  # frames before the shift hold frame `shift`
        assert all(same[shift:]) and shift <= 3
        for i in range(shift):
            np.testing.assert_array_equal(shifted[i], clip[shift].numpy())
        shifts.add(shift)
    assert shifts == {0, 1, 2, 3}


def test_noise_is_scaled_per_channel_and_keeps_nan():
    clip = np.zeros((4, 8, 8, 2), "float32")
    clip[..., 0] = RNG.normal(0, 100.0, size=(4, 8, 8))  # Gauss-like spread
    clip[..., 1] = RNG.normal(1.0, 0.01, size=(4, 8, 8))
    clip[0, 0, 0, 0] = np.nan
    noisy = sequences.augment_clip(
        clip, tf.constant([3, 4]), ("noise",), noise_level=0.1
    ).numpy()
    difference = noisy - clip
    assert np.isnan(noisy[0, 0, 0, 0]) and np.isfinite(noisy[1:]).all()
    ratio = np.nanstd(difference[..., 0]) / np.nanstd(difference[..., 1])
    assert 5000 < ratio < 20000  # 0.1 x 100 vs 0.1 x 0.01


def test_oversampling_adds_transformed_copies_of_positives_only():
    dataset, clips = _clips_dataset([0, 1, 0, 1, 0])
    result = list(
        sequences.oversample_positives(dataset, copies=3, part="train", seed=1)
    )
    targets = np.array([float(y[0]) for _, y in result])
    assert len(result) == 5 + 2 * 3 and targets.sum() == 2 + 2 * 3
    copies = np.stack([x.numpy() for x, _ in result[5:]])
    # Copies keep the label frame's content up to noise, and are not identical.
    positives = clips[[1, 3]]
    for copy in copies:
        distance = np.abs(copy[-1] - positives[:, -1]).mean(axis=(1, 2, 3))
        assert distance.min() < 0.1  # the label frame of one positive, plus noise
    assert not any(np.array_equal(copies[i], positives[i % 2]) for i in range(6))


def test_part_dataset_selects_by_key_and_refuses_test_oversampling(tfds_dir):
    from flarekit.data import pipeline

    builder = pipeline.get_builder("synthetic_sun/sequence_smoke", tfds_dir)
    columns = pipeline.read_columns(
        builder, sequences.POOLED_SPLITS, ["timestamp", "region"]
    )
    keys = sequences.sample_keys(columns["timestamp"], columns["region"])
    chosen = keys[::7]
    task = tasks.sequence("M1.0")
    data = sequences.part_dataset(
        builder,
        task,
        chosen,
        "train",
        batch_size=None,
        keep_features=("timestamp", "region"),
    )
    seen = sorted(
        f"{int(m['timestamp'])}:{m['region'].numpy().decode()}" for _, _, m in data
    )
    assert seen == sorted(chosen.tolist())
    with pytest.raises(EvaluationSetError):
        sequences.part_dataset(builder, task, chosen, "test", oversample_copies=2)
