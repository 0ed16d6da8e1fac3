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


def test_sharp_real_names_without_suffix_and_sequences(tmp_path):
    # The real label files write record names, without the image suffix,
    # and sequence files `<start>_TAI.to.<end>_TAI`.
    record = "hmi.sharp_720s.377.20110215_000000_TAI.magnetogram"
    sequence = "hmi.sharp_720s.377.20110214_000000_TAI.to.20110215_000000_TAI"
    when = datetime.datetime(2011, 2, 15)
    assert archives.parse_sharp_jpeg_name(record) == (377, when)
    assert archives.parse_sharp_jpeg_name(record + ".jpg") == (377, when)
    parsed = archives.parse_sharp_name(sequence)
    assert parsed == (377, when, "sequence", datetime.datetime(2011, 2, 14))
    with pytest.raises(ValueError, match="not 'hmi.sharp_720s"):
        archives.parse_sharp_jpeg_name(sequence)
    labels = tmp_path / "labels.txt"
    # The same frame spelled two ways is one label; with two labels, an error.
    labels.write_text(f"{record} 1\n{record}.fits.jpg 1\n{sequence} 1\n")
    assert archives.read_sharp_labels(labels) == {record: 1}
    labels.write_text(f"{record} 1\n{sequence} 0\n")
    with pytest.raises(ValueError, match=r"labels.txt:2: .*labelled both 0 and 1 \(line 1"):
        archives.read_sharp_labels(labels)
    labels.write_text("hmi.sharp_720s.377.20110215_000000_TAI.to.20110215_000000_TAI 1\n")
    with pytest.raises(ValueError, match=r"labels.txt:1: .*spans 0:00:00; expected 1 day"):
        archives.read_sharp_labels(labels)


@pytest.mark.parametrize("suffix", [".magnetogram.fits.jpg", ".magnetogram.jpg", ".magnetogram"])
def test_sharp_sequences_find_frames_of_every_suffix(tmp_path, suffix):
    from PIL import Image

    start = datetime.datetime(2011, 2, 14, 0, 0)
    for step in range(3):
        moment = start + datetime.timedelta(minutes=96 * step)
        path = tmp_path / "frames" / f"hmi.sharp_720s.377.{moment:%Y%m%d_%H%M%S}_TAI{suffix}"
        path.parent.mkdir(exist_ok=True)
        Image.new("L", (4, 4), color=100 + step).save(path, format="JPEG")
    last = start + datetime.timedelta(minutes=192)
    labels = {
        f"hmi.sharp_720s.377.{last:%Y%m%d_%H%M%S}_TAI.magnetogram": 1,
        f"hmi.sharp_720s.377.{start:%Y%m%d_%H%M%S}_TAI.to.{last:%Y%m%d_%H%M%S}_TAI": 0,
    }
    samples, dropped = archives.sharp_sequences(tmp_path / "frames", labels, length=3)
    assert dropped == {"label_without_frame": 0, "incomplete_sequence": 0}
    assert {sample["name"]: sample["label"] for sample in samples} == labels
    for sample in samples:
        assert [path.name.split(".")[3] for path in sample["frames"]] == [
            "20110214_000000_TAI", "20110214_013600_TAI", "20110214_031200_TAI"]
        assert archives.load_jpeg(sample["frames"][-1]).mean() == pytest.approx(102, abs=2)


def test_tai_to_utc_applies_leap_seconds():
    assert archives.tai_to_utc(datetime.datetime(2017, 9, 10, 16, 0, 37)) == \
        datetime.datetime(2017, 9, 10, 16, 0, 0)
