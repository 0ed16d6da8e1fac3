"""Broken inputs get an error that names the file and the field, or, where the
user asked for skipping, a skip that is counted and reported. One test per case;
the files come from `corpus.py` (tiny, written on demand)."""

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from flarekit import experiments as fx
from flarekit.data import archives, events, fits, goes, splits, tasks

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[1]
STARTER = REPOSITORY / "network_models" / "xray_flux_forecast" / "starting_point"

_spec = importlib.util.spec_from_file_location("bad_input_corpus", HERE / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return corpus.write_corpus(tmp_path_factory.mktemp("bad_input"))


# ---- FITS --------------------------------------------------------------------


def test_truncated_fits(files):
    path = files["truncated_fits"]
    with pytest.raises(fits.UnreadableImageError, match="truncated or corrupted") as error:
        fits.read_solar_image(path)
    assert str(path) in str(error.value) and "2980 bytes" in str(error.value)


def test_corrupted_fits(files):
    path = files["corrupted_fits"]
    with pytest.raises(fits.UnreadableImageError, match="No SIMPLE card") as error:
        fits.read_solar_image(path)
    assert str(path) in str(error.value)


def test_fits_with_no_data(files):
    path = files["fits_no_data"]
    with pytest.raises(fits.UnreadableImageError, match=r"NAXIS = 0 \(no data\)") as error:
        fits.read_solar_image(path)
    assert str(path) in str(error.value)


def test_all_nan_image(files):
    path = files["all_nan_fits"]
    with pytest.raises(fits.UnreadableImageError, match="every pixel .* is NaN") as error:
        fits.read_solar_image(path)
    assert str(path) in str(error.value)


def test_wrong_shape_fits(files):
    path = files["cube_fits"]
    with pytest.raises(ValueError, match=r"NAXIS = 3, shape \(3, 8, 8\)") as error:
        fits.read_solar_image(path)
    assert str(path) in str(error.value)


def test_unreadable_images_are_skipped_counted_and_reported_when_asked(files):
    paths = [files["good_fits"], files["truncated_fits"], files["all_nan_fits"]]
    with pytest.raises(fits.UnreadableImageError):
        fits.read_solar_images(paths)  # the default: an error
    images, report = fits.read_solar_images(paths, on_error="skip")
    assert [image.path for image in images] == [str(files["good_fits"])]
    assert report["read"] == 1 and report["skipped_unreadable"] == 2
    assert set(report["skipped"]) == {str(files["truncated_fits"]), str(files["all_nan_fits"])}
    assert "NaN" in report["skipped"][str(files["all_nan_fits"])]


# ---- channels ------------------------------------------------------------------


def test_missing_channel_in_a_sharp_record(files):
    paths = sorted(files["sharp_missing_segment"].glob("*.fits"))
    with pytest.raises(ValueError, match=r"HARP 377 .* segment\(s\) \['Bt'\] missing") as error:
        fits.read_sharp_patch(paths, segments=("Br", "Bp", "Bt"))
    assert str(paths[0]) in str(error.value)


def test_config_asks_for_a_channel_the_dataset_lacks():
    config = fx.load_config(STARTER, overrides={"channels": ("magnetogram", "euv_304")})
    with pytest.raises(ValueError, match=r"'channels' asks for \['euv_304'\]"):
        tasks.from_config(config, ("magnetogram", "continuum", "euv_171", "euv_94"))


# ---- JPEG ----------------------------------------------------------------------


def test_truncated_jpeg(files):
    path = files["truncated_jpeg"]
    with pytest.raises(ValueError, match="not a readable JPEG") as error:
        archives.load_jpeg(path, size=32)
    assert str(path) in str(error.value)


# ---- event lists and class strings ------------------------------------------------


def test_malformed_event_list_rows_are_counted_and_reported(files):
    table, report = events.read_event_list(files["event_list"])
    assert len(table) == 1 and table.goes_class[0] == "X2.2"
    assert report.rows_read == 7 and report.rows_kept == 1
    assert report.dropped["malformed_start_time"] == 2
    assert report.dropped["malformed_peak_time"] == 1
    assert report.examples["malformed_peak_time"] == ["99:99"]
    summary = report.summary()
    assert str(files["event_list"]) in summary and "malformed_start_time 2" in summary


def test_unknown_class_strings(files):
    _, report = events.read_event_list(files["event_list"])
    assert report.dropped["malformed_class"] == 2
    assert report.examples["malformed_class"] == ["Q5.0", "flare"]
    assert report.dropped["missing_class"] == 1
    with pytest.raises(ValueError, match="Q5"):
        goes.class_to_flux("Q5")
    with pytest.raises(ValueError, match="N1.0"):
        tasks.binary("N1.0")


# ---- configs -------------------------------------------------------------------


def test_unknown_config_key(tmp_path, monkeypatch):
    # As from the command line: python network.py --smoke --set epoch=3.
    monkeypatch.setenv("FLAREKIT_RUNS_DIR", str(tmp_path / "runs"))
    with pytest.raises(fx.ConfigError, match=r"\(override\): unknown config key 'epoch'") as error:
        fx.run(STARTER / "network.py", ["--smoke", "--set", "epoch=3"])
    assert "'epochs'" in str(error.value)  # the known keys are listed
    assert not (tmp_path / "runs").exists()  # nothing started


def test_config_value_of_wrong_type():
    with pytest.raises(fx.ConfigError, match=r"'batch_size' is int \(32\); got str \('big'\)"):
        fx.load_config(STARTER, overrides={"batch_size": "big"})
    with pytest.raises(fx.ConfigError, match=r"'filters' is tuple"):
        fx.load_config(STARTER, overrides={"filters": 16})


def test_network_input_that_does_not_match_the_dataset(smoke_builder, tmp_path):
    # image_size 64 on the 32x32 smoke patches: an error naming the keys, before
    # any training (not a shape error from inside the first step).
    config = fx.load_config(STARTER, smoke=True, overrides={"image_size": 64})
    module = fx._import_network(STARTER / "network.py")
    run_dir = fx.new_run_folder(tmp_path, "shape")
    experiment = fx.Experiment(config, module.build_network, run_dir)
    with pytest.raises(fx.ConfigError, match=r"\(64, 64, 4\) does not match .*\(32, 32, 4\)"):
        experiment.run()
    assert not (run_dir / "checkpoints" / "state.json").exists()


# ---- datasets and splits ---------------------------------------------------------


def _builder_with_empty_validation():
    """A stand-in TFDS builder whose validation split is empty."""
    split = lambda count: SimpleNamespace(num_examples=count)
    info = SimpleNamespace(
        metadata={"channels": ["magnetogram", "continuum", "euv_171", "euv_94"]},
        splits={"train": split(10), "validation": split(0), "test": split(5)},
    )
    return SimpleNamespace(info=info)


def test_empty_dataset_split(monkeypatch, tmp_path):
    from flarekit.data import pipeline

    builder = _builder_with_empty_validation()
    monkeypatch.setattr(pipeline, "get_builder", lambda name, data_dir=None: builder)
    config = fx.load_config(STARTER, smoke=True)
    experiment = fx.Experiment(config, None, tmp_path)
    with pytest.raises(ValueError, match=r"empty\) 'validation' split.*'validation': 0"):
        experiment.prepare_data()


def test_split_that_leaks():
    day = 86_400
    timestamps = np.array([0, 1, 2, 40, 41, 80]) * day
    regions = np.array(["AR1", "AR1", "AR2", "AR1", "AR3", "AR4"])
    assignment = np.array(["train", "train", "train", "validation", "validation", "test"])
    with pytest.raises(splits.LeakageError, match="Region 'AR1' appears in parts 'train' and 'validation'"):
        splits.check_leakage(timestamps, regions, assignment)
    with pytest.raises(splits.LeakageError, match="allow_leakage=True"):
        splits.random_split(timestamps, regions)
    result = splits.random_split(timestamps, regions, allow_leakage=True)
    assert json.loads(json.dumps(result.to_metadata()))["allow_leakage"] is True
