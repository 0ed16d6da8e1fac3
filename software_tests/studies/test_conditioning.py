"""The class- vs log-flux-conditioning study: the flux conditions and rank
responses on hand-worked cases, and a tiny resumable run on two (untrained)
smoke-sized diffusion models, one per condition."""

import json

import numpy as np
import pytest

from flarekit.data import goes
from flarekit.studies import conditioning as cs
from flarekit.studies import generative as gs

CHANNELS = ("magnetogram", "euv_94")


def test_flux_conditions_take_the_quiet_floor_as_the_generation_task_does():
    assert cs.flux_conditions([0.0, 1e-12, 1e-9, 3e-6, 1e-4]).tolist() == pytest.approx(
        [-9.0, -9.0, -9.0, np.log10(3e-6), -4.0]
    )


def test_flux_response_ranks_over_all_and_within_each_class():
    c, m = goes.GOES_CLASSES.index("C"), goes.GOES_CLASSES.index("M")
    log_flux = np.array([-6.0, -5.8, -5.6, -5.4, -5.2, -5.0, -4.8, -4.6, -4.4, -4.2])
    goes_class = np.array([c] * 5 + [m] * 5)
    rising = np.arange(10.0)
    # Follows the class, but falls with the flux inside each class.
    stepped = np.array([10, 9, 8, 7, 6, 20, 19, 18, 17, 16], float)
    response = cs.flux_response(
        log_flux, goes_class, {"rising": rising, "stepped": stepped}
    )
    assert response["all"]["rising"] == pytest.approx(1.0)
    assert response["C"]["rising"] == response["M"]["rising"] == pytest.approx(1.0)
    assert response["C"]["stepped"] == response["M"]["stepped"] == pytest.approx(-1.0)
    assert response["all"]["stepped"] > 0
    # One condition for the whole class (a class model's view): no rank.
    flat = cs.flux_response(np.full(10, -5.0), goes_class, {"rising": rising})
    assert flat["C"]["rising"] is None and flat["all"]["rising"] is None
    # Too few images in a class.
    few = cs.flux_response(log_flux[:4], goes_class[:4], {"rising": rising[:4]})
    assert few["C"]["rising"] is None and few["M"]["rising"] is None


def test_expected_ladder_is_the_probability_weighted_class():
    assert cs.expected_ladder([[1, 0, 0, 0], [0, 0.5, 0.5, 0]]).tolist() == [0.0, 1.5]


def _run(tmp_path_factory, smoke_builder, condition):
    import keras

    from flarekit import experiments
    from flarekit.experiments.runner import _import_network

    folder = experiments.find_experiment(gs.DIFFUSION_EXPERIMENT)
    config = experiments.load_config(
        folder, smoke=True, overrides={"condition": condition}
    )
    keras.utils.set_random_seed(0)
    model = _import_network(folder / "network.py").build_network(config)
    train = gs.load_arrays(smoke_builder, "train", CHANNELS)
    model.adapt_normalization([train["images"]])
    run = tmp_path_factory.mktemp(f"diffusion_{condition}")
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps(config.to_json()))
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory, smoke_builder):
    """Both conditions' smoke networks, untrained (the study measures whatever
    networks it is given; training would cost most of the test's time)."""
    return {
        condition: _run(tmp_path_factory, smoke_builder, condition)
        for condition in cs.MODELS
    }


def test_tiny_study_scores_both_models_on_the_same_images_and_resumes(
    tmp_path, runs, tfds_dir
):
    options = {
        "settings": (("ddim", 2, 1.0),),
        "seeds": (0, 1),
        "min_images": 8,
        "sweep": (-9.0, -6.0, -5.0),
        "sweep_images": 3,
        "classifier_options": {"epochs": 1, "filters": (4,), "dense_units": 6},
        "simclr_encoder": None,
        "data_dir": tfds_dir,
    }
    messages = []
    path = cs.run_conditioning_study(tmp_path, runs, log=messages.append, **options)
    results = json.loads((tmp_path / cs.RESULTS_FILE).read_text())
    assert sorted(results["points"]) == sorted(
        f"{model}/ddim2_w1/seed{seed}" for model in cs.MODELS for seed in (0, 1)
    )
    n_images = results["settings"]["n_images"]
    for point in results["points"].values():
        assert point["n_images"] == n_images >= 8
        assert point["network_evaluations"] == 2
        assert np.isfinite(point["fid"]["classifier"])
        assert set(point["response"]) == {"all", "C", "M"}
    for model in cs.MODELS:
        sweep = results["sweep"][model]
        assert sweep["log_flux"] == [-9.0, -6.0, -5.0] and sweep["n"] == [3, 3, 3]
    real = results["real"]
    assert real["sweep"]["n"][0] > 0  # quiet test images
    assert np.isfinite(real["fid_floor"]["classifier"])

    text = path.read_text()
    assert "| class-conditioned | ddim2_w1 | 2 | 2 | " in text
    assert "| log-flux-conditioned | ddim2_w1 | 2 | 2 | " in text
    assert "| real test split | - | " in text
    assert "| mean \\|B\\|, all |" in text  # a bare | would split the cell
    assert (tmp_path / cs.FIGURE_FILE).stat().st_size > 0

    # A rerun samples nothing and keeps every point.
    messages.clear()
    cs.run_conditioning_study(tmp_path, runs, log=messages.append, **options)
    resumed = json.loads((tmp_path / cs.RESULTS_FILE).read_text())
    assert resumed["points"] == results["points"]
    assert not [m for m in messages if m.endswith(" ...")]
    assert len(resumed["sessions"]) == 2


def test_runs_swapped_or_of_other_data_are_refused_before_any_work(tmp_path, runs):
    swapped = {"goes_class": runs["log_flux"], "log_flux": runs["goes_class"]}
    with pytest.raises(ValueError, match="must be conditioned on 'goes_class'"):
        cs.run_conditioning_study(tmp_path / "a", swapped)
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads((runs["log_flux"] / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "bin_factor": 1}))
    with pytest.raises(ValueError, match="differ in bin_factor"):
        cs.run_conditioning_study(
            tmp_path / "b", {"goes_class": runs["goes_class"], "log_flux": other}
        )
    with pytest.raises(ValueError, match="missing \\['log_flux'\\]"):
        cs.run_conditioning_study(tmp_path / "c", {"goes_class": runs["goes_class"]})
    assert not (tmp_path / "a").exists()
