"""Builds SHARP sequences from dummy_data/ and checks sequences, labels and the hybrid split."""

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from flarekit.data import goes
from flarekit.data.splits import DAY
from sharp_sequences import sharp_sequences_dataset_builder


def _build(config, folder):
    builder = sharp_sequences_dataset_builder.Builder(config=config, data_dir=str(folder))
    builder.download_and_prepare()
    examples = {split: list(tfds.as_numpy(builder.as_dataset(split=split)))
                for split in ("train", "validation", "test")}
    return builder, examples


@pytest.fixture(scope="module")
def m24(tmp_path_factory):
    return _build("m24_smoke", tmp_path_factory.mktemp("m24"))


def test_sequences_are_complete_and_ordered(m24):
    builder, examples = m24
    dropped = builder.info.metadata["dropped_sequences"]
    # HARP 3563 lacks its 2nd frame: the sequences ending at frames 15 and 16
    # need it, the one ending at 17 does not.
    assert dropped == {"label_without_frame": 1, "incomplete_sequence": 2}
    counts = {name: len(rows) for name, rows in examples.items()}
    assert counts == {"train": 4, "validation": 5, "test": 6}
    for rows in examples.values():
        for example in rows:
            assert example["frames"].shape == (16, 16, 16, 1)
            assert example["frame_present"].all()
            assert example["region"].decode() == f"HARP{example['harp']}"


def test_timestamp_is_utc_of_the_last_frame(m24):
    _, examples = m24
    by_name = {(int(ex["harp"]), int(ex["timestamp"])): ex for rows in examples.values()
               for ex in rows}
    # HARP 1638's last frame 2012-05-11 03:12:00 TAI = 03:11:26 UTC: TAI-UTC
    # was 34 s until the leap second of 2012-06-30.
    expected = int(np.datetime64("2012-05-11T03:11:26", "s").astype(np.int64))
    assert (1638, expected) in by_name


def test_labels_and_peak_flux(m24, tmp_path):
    _, examples = m24
    for rows in examples.values():
        for example in rows:
            expected = 1e-5 if example["label"] else goes.QUIET_FLUX
            assert example["peak_flux"] == np.float32(expected)
    labels_24 = sorted(int(ex["label"]) for rows in examples.values() for ex in rows)
    _, examples_48 = _build("m48_smoke", tmp_path)
    labels_48 = sorted(int(ex["label"]) for rows in examples_48.values() for ex in rows)
    assert sum(labels_48) > sum(labels_24)  # a longer horizon catches more flares


def test_hybrid_split(m24):
    builder, examples = m24
    regions = {name: {ex["region"] for ex in rows} for name, rows in examples.items()}
    assert not regions["train"] & regions["validation"]
    assert not (regions["train"] | regions["validation"]) & regions["test"]
    assert regions["test"] == {b"HARP4920", b"HARP5298"}
    times = {name: [int(ex["timestamp"]) for ex in rows] for name, rows in examples.items()}
    development = times["train"] + times["validation"]
    assert min(times["test"]) - max(development) >= 27 * DAY
    train, validation = np.array(times["train"]), np.array(times["validation"])
    assert np.min(np.abs(train[:, None] - validation[None, :])) >= 27 * DAY
    assert {int(ex["fold"]) for ex in examples["validation"]} == {0}
    assert {int(ex["fold"]) for ex in examples["test"]} == {-1}
    metadata = builder.info.metadata["split"]
    assert metadata["method"] == "hybrid_kfold_time" and metadata["n_folds"] == 2
