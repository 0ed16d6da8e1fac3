"""The diffusion starter conditioned on continuous log10 peak flux, end to end:
train on the smoke data, sample a class given as a flux ("M2.5"), and read
the samples back."""

import json

import numpy as np

from flarekit.experiments import find_experiment, run_experiment
from flarekit.experiments.generation import load_generator, sample_to_folder


def test_log_flux_conditioned_diffusion_trains_samples_and_reports(tmp_path, tfds_dir):
    run = run_experiment(
        find_experiment("generation/conditional_diffusion"),
        smoke=True,
        fresh=True,
        condition="log_flux",
        output_dir=str(tmp_path / "runs"),
    )
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["settings"]["condition"] == "log_flux"
    assert np.isfinite(metrics["final"]["loss"])
    closing = np.load(run / "samples.npz")
    # One closing sample per GOES class, conditioned on log10 of its lower edge.
    assert closing["conditions"].dtype.kind == "f"
    assert np.all(np.diff(closing["conditions"]) > 0)
    assert np.isfinite(closing["images"]).all()

    model = load_generator(run)
    assert model.condition == "log_flux"
    out = sample_to_folder(run, "M2.5", 3, "ddim", 2, tmp_path / "m25")
    samples = np.load(out / "samples.npz")
    assert samples["images"].shape[0] == 3
    assert np.allclose(samples["conditions"], np.log10(2.5e-5))
    assert (out / "contact_sheet.png").stat().st_size > 0


def test_contact_sheet_rows_follow_the_goes_ladder_whatever_the_image_order():
    from flarekit.experiments.generation import plot_contact_sheet

    images = np.random.default_rng(0).lognormal(size=(4, 8, 8, 2)).astype("float32")
    figure = plot_contact_sheet(
        images, ["X", "quiet", "M", "X"], ("magnetogram", "euv_94")
    )
    labels = [axes.get_ylabel() for axes in figure.axes if axes.get_ylabel()]
    assert [label.split("\n")[0] for label in labels] == ["quiet"] * 2 + ["M"] * 2 + [
        "X"
    ] * 2
