"""Raw archive layouts (flarekit.data.archives): parsing and the errors users see."""

import datetime

import numpy as np
import pandas as pd
import pytest

from flarekit.data import archives
from flarekit.data.real_files import REPOSITORY_ROOT

DUMMY = REPOSITORY_ROOT / "datasets"


def test_sdo_benchmark_metadata_from_the_dummy_archive():
    root = archives.find_sdo_benchmark_root(DUMMY / "sdo_benchmark" / "dummy_data")
    samples = archives.read_sdo_benchmark_metadata(root / "training")
    assert len(samples) == 8 and samples["region"].iloc[0] == "11429"
    assert samples["sample_dir"].iloc[0].name == "2012_03_06_14_00_00_0"
    frames, available = archives.load_sdo_benchmark_sample(samples.iloc[0], size=8)
    assert frames.shape == (4, 8, 8, 10) and available.all()


def test_sdo_benchmark_bad_rows_name_file_and_row(tmp_path):
    phase = tmp_path / "training"
    phase.mkdir()
    (phase / "meta_data.csv").write_text("id,start,end,peak_flux\n"
                                         "11429_2012_03_06_14_00_00_0,a,2012-03-06 14:00:00,1e-6\n"
                                         "11429-bad,a,2012-03-06 14:00:00,1e-6\n")
    with pytest.raises(ValueError, match=r"meta_data.csv:3: id '11429-bad'"):
        archives.read_sdo_benchmark_metadata(phase)
    (phase / "meta_data.csv").write_text("id,start,end,peak_flux\n"
                                         "11429_2012_03_06_14_00_00_0,a,2012-03-06 14:00:00,0\n")
    with pytest.raises(ValueError, match=r"meta_data.csv:2: peak_flux '0'"):
        archives.read_sdo_benchmark_metadata(phase)


def test_sdoml_channel_names():
    assert archives.sdoml_channel("0094") == "aia_94"
    assert archives.sdoml_channel("1600A") == "aia_1600"
    assert archives.sdoml_channel("Bz") == "hmi_bz"
    with pytest.raises(ValueError, match="'0095'"):
        archives.sdoml_channel("0095")


def test_align_channels_by_hand():
    times = pd.to_datetime(["2011-01-01 00:00", "2011-01-01 01:00", "2011-01-01 02:00"])
    files = pd.DataFrame({
        "time": list(times) + [times[0] + pd.Timedelta(minutes=2), times[2]
                               + pd.Timedelta(minutes=10)],
        "channel": ["aia_171"] * 3 + ["hmi_bz"] * 2,
        "path": ["a0", "a1", "a2", "b0", "b2"], "index": [-1] * 5,
    })
    aligned, dropped = archives.align_channels(files, ("aia_171", "hmi_bz"), 3.0)
    # 00:00 matches the Bz 2 min later; 01:00 has none; 02:00's is 10 min off.
    assert aligned["hmi_bz_path"].tolist() == ["b0"]
    assert dropped == {"missing_hmi_bz": 2}
    with pytest.raises(ValueError, match=r"channel\(s\) \['aia_94'\]"):
        archives.align_channels(files, ("aia_94",))


def test_resize_block_means_preserve_totals():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    small = archives.resize_image(image, 2)
    np.testing.assert_allclose(small, [[2.5, 4.5], [10.5, 12.5]])


def test_sharp_labels_and_names(tmp_path):
    name = "hmi.sharp_720s.377.20110215_000000_TAI.magnetogram.fits.jpg"
    assert archives.parse_sharp_jpeg_name(name) == (377, datetime.datetime(2011, 2, 15))
    with pytest.raises(ValueError, match="not 'hmi.sharp_720s"):
        archives.parse_sharp_jpeg_name("frame_0001.jpg")
    labels = tmp_path / "labels_24h.txt"
    labels.write_text(f"{name} 1\n{name} 1\n")
    assert archives.read_sharp_labels(labels) == {name: 1}
    labels.write_text(f"{name} 1\n{name} yes\n")
    with pytest.raises(ValueError, match=r"labels_24h.txt:2: expected"):
        archives.read_sharp_labels(labels)
    labels.write_text(f"{name} 1\n{name} 0\n")
    with pytest.raises(ValueError, match="labelled both 0 and 1"):
        archives.read_sharp_labels(labels)


def test_tai_to_utc_applies_leap_seconds():
    assert archives.tai_to_utc(datetime.datetime(2017, 9, 10, 16, 0, 37)) == \
        datetime.datetime(2017, 9, 10, 16, 0, 0)
