"""`flarekit explain`, `predict` and `serve` on a real (smoke) run of the demo
experiment: saliency figures in the run folder, forecasts from files through
the model's own preprocessing, and the web page driven in headless Chromium."""

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flarekit import cli
from flarekit.serving.predict import Forecaster, load_image

REPOSITORY = Path(__file__).resolve().parents[2]
STARTER = REPOSITORY / "network_models" / "xray_flux_forecast" / "starting_point"
CHROMIUM = os.environ.get("FLAREKIT_CHROMIUM") or shutil.which("chromium")
CHANNEL_MAP = "magnetogram=0,continuum=mean,euv_171=mean,euv_94=mean"


@pytest.fixture(scope="module")
def smoke_run(tfds_dir, tmp_path_factory):
    """A finished one-epoch smoke run of the demo experiment (`make demo`'s)."""
    from flarekit.experiments import run_experiment

    runs = tmp_path_factory.mktemp("runs")
    return run_experiment(
        STARTER, smoke=True, fresh=True, epochs=1, output_dir=str(runs)
    )


@pytest.fixture(scope="module")
def test_patches(smoke_run):
    """Four raw test-split patches of the run's dataset, channels as trained."""
    from flarekit.interpret import read_run_samples

    config = json.loads((smoke_run / "config.json").read_text())
    samples, _ = read_run_samples(config, "test", 4)
    return np.stack([s["image"] for s in samples])


def test_explain_writes_saliency_figures_into_the_run(smoke_run, capsys):
    cli.main(["explain", "--run", str(smoke_run), "--n", "4", "--steps", "8"])
    assert (smoke_run / "figures" / "saliency.png").stat().st_size > 10_000
    table = pd.read_csv(smoke_run / "explanations.csv")
    assert len(table) == 4
    for method in ("vanilla_gradients", "integrated_gradients", "grad_cam"):
        shares = table[f"{method}_central_share"]
        assert shares.between(0, 1).all(), shares
    assert "s per sample" in capsys.readouterr().out


def _write_fits(path, data, header=None):
    from astropy.io import fits

    fits.PrimaryHDU(
        data=np.asarray(data, dtype=np.float32), header=fits.Header(header or {})
    ).writeto(path)


def test_predict_uses_the_models_own_preprocessing(smoke_run, test_patches, tmp_path):
    from PIL import Image

    forecaster = Forecaster.load(smoke_run)
    folder = tmp_path / "inputs"
    folder.mkdir()
    np.save(folder / "a_patch.npy", test_patches[0])
    # The same patch as a FITS cube [C, H, W], rows bottom first as FITS has them.
    _write_fits(folder / "b_patch.fits", np.moveaxis(test_patches[0][::-1], -1, 0))
    grey = np.clip(np.nan_to_num(test_patches[1][..., 0]) / 4 + 128, 0, 255)
    Image.fromarray(grey.astype(np.uint8)).save(folder / "c_grey.png")
    (folder / "d_notes.txt").write_text("not an image")
    (folder / "e_fake.png").write_bytes(b"PNG? no")
    np.save(folder / "f_wrong.npy", np.zeros((3, 4, 5, 6)))
    output = tmp_path / "forecasts.csv"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            [
                "predict",
                "--run",
                str(smoke_run),
                str(folder),
                "--output",
                str(output),
                "--strict",
            ]
        )
    assert exit_info.value.code == 1  # --strict: some files refused; the CSV says which
    frame = pd.read_csv(output)
    frame = frame.set_index(frame["path"].map(lambda p: Path(p).name))
    assert list(frame.columns[:7]) == [
        "path",
        "status",
        "probability",
        "class",
        "threshold",
        "nonfinite_fraction",
        "model_run",
    ]
    assert list(frame["status"]).count("ok") == 2
    expected = float(np.asarray(forecaster.model(test_patches[:1]))[0, 0])
    assert frame.loc["a_patch.npy", "probability"] == pytest.approx(expected, abs=1e-6)
    assert frame.loc["b_patch.fits", "probability"] == pytest.approx(expected, abs=1e-6)
    threshold = frame.loc["a_patch.npy", "threshold"]
    assert frame.loc["a_patch.npy", "class"] == (
        "flare >= M1.0" if expected >= threshold else "no flare >= M1.0"
    )
    assert frame.loc["a_patch.npy", "nonfinite_fraction"] == 0.0
    assert frame.loc["c_grey.png", "status"].startswith("refused: c_grey.png: ")
    assert "needs 4 channel(s)" in frame.loc["c_grey.png", "status"]
    assert "--channel-map" in frame.loc["c_grey.png", "status"]
    assert "not a readable PNG/JPEG" in frame.loc["e_fake.png", "status"]
    assert "expected [H, W] or [H, W, C]" in frame.loc["f_wrong.npy", "status"]
    assert "d_notes.txt" not in frame.index  # folders: image files only, skip counted
    # With a channel map the grey picture is forecast, and the filling is stated.
    row = forecaster.forecast_file(folder / "c_grey.png", CHANNEL_MAP)
    assert 0.0 <= row["probability"] <= 1.0 and row["status"] == "ok"
    assert "channel euv_94 filled with mean" in row["warnings"]
    assert "byte-scaled" in row["warnings"]


def test_fits_full_disk_is_flipped_to_north_up(tmp_path):
    from flarekit.data.real_files import package_test_file

    path = package_test_file("sunpy", "aia_171_level1.fits")
    if path is None:
        pytest.skip("sunpy's aia_171_level1.fits is not installed")
    from flarekit.data import fits

    raw = fits.read_solar_image(path).data
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.data[..., 0], raw[::-1])
    assert loaded.full_disk and loaded.channel_hints == ("euv_171",)


@pytest.fixture(scope="module")
def chromium():
    """playwright's sync API with Debian's chromium, or a clean skip (before the
    smoke run is trained) when either is missing."""
    if CHROMIUM is None or not Path(CHROMIUM).exists():
        pytest.skip(
            "no chromium browser installed (apt-get install -y chromium, or set "
            "FLAREKIT_CHROMIUM); the page test needs one"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(
            "the playwright package is not installed (pip install -e '.[test]')"
        )
    return sync_playwright


def _submit(page, path, channel_map=""):
    page.set_input_files("#file", str(path))
    page.fill("#channel_map", channel_map)
    page.click("#submit")
    page.wait_for_function(
        "document.getElementById('submit').textContent === 'Forecast' && ("
        "document.getElementById('result').style.display === 'block' || "
        "document.getElementById('error').style.display === 'block')"
    )
    if page.is_visible("#error"):
        return None, page.inner_text("#error")
    return page.inner_text("#probability"), page.inner_text("#class")


def test_page_forecasts_uploads_and_survives_bad_ones(
    chromium, smoke_run, test_patches, tmp_path
):
    sync_playwright = chromium
    from flarekit.serving.serve import start_server

    forecaster = Forecaster.load(smoke_run)
    server, _ = start_server(
        smoke_run, port=0, max_upload_bytes=64 * 1024, forecaster=forecaster
    )
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}/"
    np.save(tmp_path / "patch.npy", test_patches[2])
    (tmp_path / "notes.txt").write_text("hello")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4, 5), np.float32))
    np.save(tmp_path / "large.npy", np.zeros((200, 200, 4), np.float32))  # 640 kB
    expected = float(np.asarray(forecaster.model(test_patches[2:3]))[0, 0])
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            assert "Model card" in page.inner_text("#model")
            assert "TSS" in page.inner_text("#scores")
            probability, label = _submit(page, tmp_path / "patch.npy")
            assert probability == f"P = {expected:.3f}" and "M1.0" in label, label
            assert page.get_attribute("#overlay", "src").startswith("data:image/png")
            # What a user sees: the forecast text in the rendered page, kept as
            # a screenshot in the test's folder.
            shown = page.inner_text("#result")
            assert f"P = {expected:.3f}" in shown and "decision threshold" in shown
            page.screenshot(path=str(tmp_path / "first_forecast.png"), full_page=True)
            assert (tmp_path / "first_forecast.png").stat().st_size > 20_000
            started = time.perf_counter()
            for _ in range(3):
                _submit(page, tmp_path / "patch.npy")
            page_seconds = (time.perf_counter() - started) / 3
            page.screenshot(path=str(tmp_path / "forecast.png"), full_page=True)
            for name, message in (
                ("notes.txt", "not a supported image file"),
                ("cube.npy", "expected [H, W] or [H, W, C]"),
                ("large.npy", "uploads are limited to 0.1 MiB"),
            ):
                probability, error = _submit(page, tmp_path / name)
                assert probability is None and message in error, error
            # A 4-channel model and a 1-channel picture: refused, then mapped.
            # (The continuum: this limb patch's magnetogram is NaN off the
            # limb, which a one-channel file cannot tell from missing data.)
            np.save(tmp_path / "one.npy", test_patches[2][..., 1])
            _, error = _submit(page, tmp_path / "one.npy")
            assert "needs 4 channel(s)" in error
            continuum_map = "continuum=0,magnetogram=mean,euv_171=mean,euv_94=mean"
            probability, _ = _submit(page, tmp_path / "one.npy", continuum_map)
            assert probability.startswith("P = ")
            # A limb magnetogram alone: its off-limb NaN is refused as missing.
            np.save(tmp_path / "limb.npy", test_patches[2][..., 0])
            _, error = _submit(page, tmp_path / "limb.npy", CHANNEL_MAP)
            assert "limb.npy: " in error and "are NaN or infinite" in error
            page.screenshot(path=str(tmp_path / "after_errors.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    if os.environ.get("FLAREKIT_SCREENSHOT_DIR"):
        for name in ("first_forecast.png", "forecast.png", "after_errors.png"):
            shutil.copy(
                tmp_path / name, Path(os.environ["FLAREKIT_SCREENSHOT_DIR"]) / name
            )
    print(f"page round trip per forecast (incl. saliency): {page_seconds:.3f} s")
    assert server.service.served >= 5


def test_compare_reads_a_real_run(smoke_run, tmp_path, capsys):
    cli.main(["compare", str(smoke_run.parent), "--output", str(tmp_path)])
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert list(board["group"]) == ["G1"] and board.loc[0, "rank"] == 1
    assert (
        board.loc[0, "test_set_hash"]
        == json.loads((smoke_run / "metrics.json").read_text())["test_set"]["hash"]
    )
    assert board.loc[0, "tss_low"] <= board.loc[0, "tss"] <= board.loc[0, "tss_high"]
    assert "TSS" in (tmp_path / "leaderboard.md").read_text()
