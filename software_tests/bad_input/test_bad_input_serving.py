"""Hostile and broken files given to `flarekit predict` (and, through the same
reader, `flarekit serve`): each is refused in its own CSV row with a message that
names the file and the field at fault, and the good files of the same batch are
still forecast, with the probability they get alone. One test per case; the
files come from `corpus_serving.py` (tiny, written on demand), the model is a
tiny untrained CNN saved as a run folder (no training)."""

import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flarekit import cli
from flarekit.serving.predict import (
    Forecaster,
    InputError,
    LoadedImage,
    nonfinite_fraction,
    predict_files,
)

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "bad_input_corpus_serving", HERE / "corpus_serving.py"
)
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

GOOD = ("good_fits", "good_npy", "good_png")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return corpus.write_corpus(tmp_path_factory.mktemp("bad_input_serving"))


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    return Forecaster.load(corpus.write_tiny_run(tmp_path_factory.mktemp("runs")))


@pytest.fixture(scope="module")
def alone(forecaster, files):
    """Each good file's probability when forecast on its own."""
    rows = {case: forecaster.forecast_file(files[case]) for case in GOOD}
    assert all(row["status"] == "ok" for row in rows.values()), rows
    return {case: row["probability"] for case, row in rows.items()}


def _batch(forecaster, files, alone, case, tmp_path, **options):
    """Forecast [good files, the case, more good files] as one batch; check
    the good rows are unharmed and return the case's row (from the CSV)."""
    paths = [files["good_fits"], files["good_npy"], files[case], files["good_png"]]
    _, output, _ = predict_files(
        forecaster.run_dir,
        paths,
        output=tmp_path / "forecasts.csv",
        forecaster=forecaster,
        **options,
    )
    table = pd.read_csv(output, keep_default_na=False)
    assert list(table.columns[:3]) == ["path", "status", "probability"]
    assert len(table) == 4
    by_path = table.set_index("path")
    for good in GOOD:
        row = by_path.loc[str(files[good])]
        assert row["status"] == "ok", row["status"]
        assert float(row["probability"]) == pytest.approx(alone[good], abs=1e-6)
        assert float(row["nonfinite_fraction"]) == 0.0
    return by_path.loc[str(files[case])]


def _refused(row, name: str, *fields: str) -> str:
    status = row["status"]
    assert status.startswith(f"refused: {name}: "), status
    for field in fields:
        assert field in status, (field, status)
    assert row["probability"] in ("", "nan") or np.isnan(float(row["probability"]))
    return status


# ---- sizes a file declares, checked before decoding --------------------------


def test_png_decompression_bomb(forecaster, files, alone, tmp_path):
    started = time.perf_counter()
    row = _batch(forecaster, files, alone, "png_bomb", tmp_path)
    _refused(row, "bomb.png", "PNG header (image size)", "12000 x 12000")
    assert "Refused before decoding" in row["status"]
    assert time.perf_counter() - started < 10  # decoding would take seconds more


def test_png_wider_than_the_largest_side(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "png_too_wide", tmp_path)
    _refused(row, "too_wide.png", "PNG header (image size)", "4 x 9000", "8192")


def test_npy_header_declaring_596_gib(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "npy_596_gib", tmp_path)
    _refused(row, "huge_header.npy", ".npy header (shape (400000, 400000))")


def test_npy_header_declaring_too_many_channels(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "npy_many_channels", tmp_path)
    _refused(row, "many_channels.npy", ".npy header", "4096 x 4096 x 64")


def test_fits_gz_bomb_refused_before_gunzip(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_gz_bomb", tmp_path)
    _refused(row, "bomb.fits.gz", "NAXIS1 = 12000, NAXIS2 = 12000", "BITPIX = 8")
    # Only the header was decompressed: the row took milliseconds, not the
    # seconds that gunzipping 144 MB and converting it to float32 takes.
    assert float(row["seconds"]) < 0.5


def test_fits_declaring_a_huge_image(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_declares_huge", tmp_path)
    _refused(row, "declares_huge.fits", "NAXIS1 = 100000", "BITPIX = -32")


def test_fits_cube_of_too_many_values(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_cube_too_many_values", tmp_path)
    _refused(row, "cube_too_many.fits", "NAXIS3 = 64", "4096 x 4096 x 64")


def test_jp2_declaring_a_huge_image(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "jp2_declares_huge", tmp_path)
    _refused(row, "declares_huge.jp2", "JP2 header (ihdr image size)", "9000 x 9000")


# ---- malformed headers and streams -------------------------------------------


def test_jp2_with_a_broken_xml_box(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "jp2_broken_xml", tmp_path)
    _refused(row, "broken_xml.jp2", "JP2 XML box", "not well-formed XML")


def test_fits_with_an_invalid_bitpix(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_bad_bitpix", tmp_path)
    _refused(row, "bad_bitpix.fits", "BITPIX = 12", "FITS allows 8, 16, 32")


def test_fits_with_a_negative_axis_length(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_negative_naxis", tmp_path)
    _refused(row, "negative_naxis.fits", "NAXIS1 = -8", "length >= 0")


def test_fits_with_a_text_axis_length(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_text_naxis", tmp_path)
    _refused(row, "text_naxis.fits", "NAXIS2 = 'eight'", "expected an integer")


def test_truncated_fits(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_truncated", tmp_path)
    _refused(row, "truncated.fits", "truncated", "NAXISn x BITPIX", "holds 100")


def test_corrupt_gzip_stream(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_gz_corrupt", tmp_path)
    _refused(row, "corrupt.fits.gz", "gzip stream is corrupt")


def test_truncated_npy(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "npy_truncated", tmp_path)
    _refused(row, "truncated.npy", "header declares shape (16, 16)", "holds 924")


def test_complex_npy_is_refused_not_cast(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "npy_complex", tmp_path)
    _refused(row, "complex.npy", "dtype complex64", "imaginary part")


def test_npy_of_python_objects(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "npy_object", tmp_path)
    _refused(row, "object.npy", "dtype object", "pickle")


def test_npy_of_four_dimensions(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "npy_4d", tmp_path)
    _refused(row, "four_d.npy", "shape (2, 16, 16, 1)", "[H, W] or [H, W, C]")


def test_truncated_png(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "png_truncated", tmp_path)
    _refused(row, "truncated.png", "PNG/JPEG", "truncated")


def test_empty_file(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "empty", tmp_path)
    _refused(row, "empty.fits", "the file is empty")


# ---- pixels that are mostly missing ------------------------------------------


def test_full_disk_with_one_finite_pixel(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_one_finite_pixel", tmp_path)
    status = _refused(row, "one_finite_pixel.fits", "pixel data", "on the solar disk")
    assert "99.7% of the pixels" in status and "at most 5.0%" in status
    assert float(row["nonfinite_fraction"]) == pytest.approx(1 - 1 / 316)


def test_full_disk_all_infinite_on_the_disk(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_all_inf_on_disk", tmp_path)
    _refused(row, "all_inf.fits", "100.0% of the pixels on the solar disk", "infinite")
    assert float(row["nonfinite_fraction"]) == 1.0


def test_nan_band_over_47_percent_of_the_disk(forecaster, files, alone, tmp_path):
    row = _batch(forecaster, files, alone, "fits_nan_band_47", tmp_path)
    _refused(row, "nan_band_47.fits", "46.8% of the pixels on the solar disk")
    assert float(row["nonfinite_fraction"]) == pytest.approx(148 / 316)


def test_full_disk_array_half_missing(forecaster, files, alone, tmp_path):
    # No header: the disk is the model's own (0.45 of the side, centred).
    row = _batch(forecaster, files, alone, "npy_half_nan", tmp_path)
    _refused(row, "half_nan.npy", "50.0% of the pixels on the solar disk")


def test_a_few_missing_pixels_are_forecast_and_reported(
    forecaster, files, alone, tmp_path
):
    row = _batch(forecaster, files, alone, "fits_nan_band_3", tmp_path)
    assert row["status"] == "ok"
    assert 0.0 <= float(row["probability"]) <= 1.0
    assert float(row["nonfinite_fraction"]) == pytest.approx(9 / 316)
    assert "2.85% of the pixels on the solar disk are NaN" in row["warnings"]


def test_the_nonfinite_limit_is_configurable(forecaster, files, alone, tmp_path):
    row = _batch(
        forecaster,
        files,
        alone,
        "fits_nan_band_47",
        tmp_path,
        max_nonfinite_fraction=0.5,
    )
    assert row["status"] == "ok" and float(row["nonfinite_fraction"]) > 0.46
    row = _batch(
        forecaster,
        files,
        alone,
        "fits_nan_band_3",
        tmp_path,
        max_nonfinite_fraction=0.01,
    )
    _refused(row, "nan_band_3.fits", "2.8% of the pixels", "at most 1.0%")
    with pytest.raises(InputError, match=r"--max-nonfinite 5: expected a fraction"):
        _batch(
            forecaster, files, alone, "good_fits", tmp_path, max_nonfinite_fraction=5
        )


def test_patch_rule_for_missing_pixels():
    # A patch at the limb: NaN off the limb in the magnetogram beside finite
    # EUV is the synthetic Sun's (and HMI's) convention, not missing data ...
    patch = np.ones((10, 10, 2), np.float32)
    patch[:3, :, 0] = np.nan
    assert nonfinite_fraction(LoadedImage(patch, "array")) == 0.0
    # ... but a pixel with no finite channel is, and so is an infinite one.
    patch[:2, :, 1] = np.nan
    patch[9, :5, 1] = np.inf
    assert nonfinite_fraction(LoadedImage(patch, "array")) == pytest.approx(0.25)
    # One channel: every NaN counts. A full-disk model: the disk's pixels only.
    assert nonfinite_fraction(LoadedImage(patch[..., :1], "array")) == 0.3
    assert nonfinite_fraction(LoadedImage(patch[..., :1], "array"), 0.2) == 0.0


# ---- the channel map ------------------------------------------------------------


def test_channel_map_with_a_repeated_name(forecaster, files, tmp_path):
    with pytest.raises(InputError, match=r"names 'euv_171' twice") as error:
        predict_files(
            forecaster.run_dir,
            [files["good_fits"], files["good_npy"]],
            "euv_171=0,euv_171=mean",
            output=tmp_path / "forecasts.csv",
            forecaster=forecaster,
        )
    assert "'euv_171=0' and 'euv_171=mean'" in str(error.value)
    assert not (tmp_path / "forecasts.csv").exists()
    # The same map without the repeat forecasts both files.
    frame, _, _ = predict_files(
        forecaster.run_dir,
        [files["good_fits"], files["good_npy"]],
        "euv_171=0",
        output=tmp_path / "forecasts.csv",
        forecaster=forecaster,
    )
    assert list(frame["status"]) == ["ok", "ok"]


# ---- the command line ---------------------------------------------------------


def test_cli_writes_every_row_and_fails_only_when_strict(
    forecaster, files, tmp_path, capsys
):
    folder = tmp_path / "batch"
    folder.mkdir()
    for case in ("good_fits", "npy_complex", "fits_gz_bomb", "good_npy"):
        (folder / files[case].name).write_bytes(files[case].read_bytes())
    output = tmp_path / "forecasts.csv"
    run = str(forecaster.run_dir)
    cli.main(["predict", "--run", run, str(folder), "--output", str(output)])
    table = pd.read_csv(output, keep_default_na=False)
    assert sorted(table["status"].str.split(":").str[0]) == [
        "ok",
        "ok",
        "refused",
        "refused",
    ]
    out = capsys.readouterr().out
    assert "2 forecast(s), 2 refused" in out and "Traceback" not in out
    output.unlink()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            ["predict", "--run", run, str(folder), "--output", str(output), "--strict"]
        )
    assert exit_info.value.code == 1
    assert len(pd.read_csv(output)) == 4  # the CSV is written before the exit
    with pytest.raises(SystemExit, match="flarekit predict: channel map names"):
        cli.main(
            [
                "predict",
                "--run",
                run,
                str(folder),
                "--channel-map",
                "euv_171=0,euv_171=zero",
                "--output",
                str(output),
            ]
        )


def test_a_failure_inside_flarekit_is_one_row_not_the_batch(
    forecaster, files, alone, tmp_path, monkeypatch
):
    original = forecaster.forecast_file

    def failing(path, *args, **kwargs):
        if Path(path).name == "good_disk.png":
            raise RuntimeError("a bug in a decoder")
        return original(path, *args, **kwargs)

    monkeypatch.setattr(forecaster, "forecast_file", failing)
    frame, _, _ = predict_files(
        forecaster.run_dir,
        [files["good_png"], files["good_fits"], tmp_path / "missing.fits"],
        output=tmp_path / "forecasts.csv",
        forecaster=forecaster,
    )
    assert list(frame["status"]) == [
        "failed: good_disk.png: RuntimeError: a bug in a decoder",
        "ok",
        f"refused: {tmp_path / 'missing.fits'}: no such file",
    ]
    assert frame["probability"].iloc[1] == pytest.approx(alone["good_fits"], abs=1e-6)
