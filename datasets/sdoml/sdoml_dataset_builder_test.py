"""Builds SDOML v1 and v2 from dummy_data/ and checks alignment, labels and split."""

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from flarekit.data import goes
from sdoml import sdoml_dataset_builder


def _all(builder):
    return {split: list(tfds.as_numpy(builder.as_dataset(split=split)))
            for split in builder.info.splits}


@pytest.fixture(scope="module", params=["v1_smoke", "v2_smoke"])
def built(request, tmp_path_factory):
    builder = sdoml_dataset_builder.Builder(
        config=request.param, data_dir=str(tmp_path_factory.mktemp(request.param)))
    builder.download_and_prepare()
    return builder, _all(builder)


def test_channels_aligned_and_incomplete_times_dropped(built):
    builder, examples = built
    metadata = builder.info.metadata
    assert metadata["channels"] == ["aia_171", "aia_193", "hmi_bz"]
    # 12 monthly observations; May lacks its HMI image and is dropped.
    assert metadata["dropped_unaligned"]["missing_hmi_bz"] == 1
    total = sum(len(split) for split in examples.values())
    dropped_by_gaps = sum(metadata["split"]["dropped"].values())
    assert total + dropped_by_gaps == 11
    for split in examples.values():
        for example in split:
            assert example["image"].shape == (16, 16, 3)
            assert example["region"] == b"disk"
            # HMI Bz is signed; AIA is not.
            assert example["image"][..., 2].min() < 0 <= example["image"][..., 0].min()


def _by_day(examples):
    # v2 stamps T_OBS 7 s after the minute; index by UTC day.
    return {str(np.datetime64(int(ex["timestamp"]), "s").astype("datetime64[D]")): (split, ex)
            for split, rows in examples.items() for ex in rows}


def test_labels_from_the_flare_list(built):
    builder, examples = built
    days = _by_day(examples)
    split, february = days["2011-02-01"]  # M2.2 peaks 10:12
    assert split == "train" and february["peak_flux"] == np.float32(2.2e-5)
    assert february["goes_class"] == goes.GOES_CLASSES.index("M")
    # (t, t+24h] holds the C4.1 (20:12) and not the X1.5 (01:12 the next day).
    assert days["2011-03-01"][1]["peak_flux"] == np.float32(4.1e-6)
    # The C1.2 of 2011-06-01 has no region: a full-disk label still counts it.
    assert days["2011-06-01"][1]["peak_flux"] == np.float32(1.2e-6)
    assert days["2011-04-01"][1]["peak_flux"] == np.float32(goes.QUIET_FLUX)
    assert builder.info.metadata["flux_scale"] == "swpc"
    assert builder.info.metadata["labels"]["window"] == "peak"


def test_previous_window_for_persistence(built):
    _, examples = built
    days = _by_day(examples)
    # 2011-12-01 00:00: the C2.0 peaks 06:12 after t; nothing in the day before.
    assert days["2011-12-01"][1]["previous_peak_flux"] == np.float32(goes.QUIET_FLUX)
    assert days["2011-12-01"][1]["peak_flux"] == np.float32(2.0e-6)
    # 2011-03-02 is not sampled; 2011-03-01's previous day is quiet too.
    assert days["2011-03-01"][1]["previous_peak_flux"] == np.float32(goes.QUIET_FLUX)


def test_chronological_split_with_gap(built):
    builder, examples = built
    days = _by_day(examples)
    parts = {day: split for day, (split, _) in days.items()}
    # 334 days less two 10-day gaps = 314: train to day 219.8 (Aug 8),
    # validation from Aug 18 to Oct 5, test from Oct 15.
    assert parts == {"2011-01-01": "train", "2011-02-01": "train", "2011-03-01": "train",
                     "2011-04-01": "train", "2011-06-01": "train", "2011-07-01": "train",
                     "2011-08-01": "train", "2011-09-01": "validation",
                     "2011-10-01": "validation", "2011-11-01": "test",
                     "2011-12-01": "test"}
    assert builder.info.metadata["split"]["dropped"]["gap"] == 0
