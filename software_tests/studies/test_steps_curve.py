"""The FID-against-steps study: the grid, the paired ratios and the goal
sentence on a hand-worked case, and a tiny resumable run on an (untrained)
smoke-sized diffusion model with both FID extractors."""

import json

import numpy as np
import pytest

from flarekit.studies import generative as gs
from flarekit.studies import steps_curve as sc

CHANNELS = ("magnetogram", "euv_94")


# ---- grid ---------------------------------------------------------------------------
def test_default_grid_has_the_reference_and_every_spacing_of_deterministic_samplers():
    grid = sc.default_grid()
    keys = [setting.key for setting in grid]
    assert len(keys) == len(set(keys)) == 1 + 9 + 9 + 3 + 3
    assert sc.reference_setting(grid).key == "ddpm/uniform/1000"
    for sampler, steps in (("ddim", (10, 20, 50)), ("dpmpp", (5, 10, 20))):
        for spacing in sc.SPACINGS:
            assert all(f"{sampler}/{spacing}/{n}" in keys for n in steps)
    assert {"dpmpp_sde/log_snr/50", "ddim+eta=1/uniform/10"} <= set(keys)


def test_parse_grid_expands_spacings_and_rejects_what_it_cannot_run():
    grid = sc.parse_grid(["ddim:all:10,20", "ddim+eta=1:default:5", "dpmpp:karras:4"])
    assert [s.key for s in grid] == [
        "ddim/uniform/10",
        "ddim/uniform/20",
        "ddim/log_snr/10",
        "ddim/log_snr/20",
        "ddim/karras/10",
        "ddim/karras/20",
        "ddim+eta=1/uniform/5",
        "dpmpp/karras/4",
    ]
    assert grid[6].generate_options() == {
        "sampler": "ddim",
        "spacing": "uniform",
        "num_steps": 5,
        "eta": 1.0,
    }
    with pytest.raises(ValueError, match="unknown spacing 'linear'"):
        sc.parse_grid(["ddim:linear:10"])
    with pytest.raises(ValueError, match="takes no option"):
        sc.parse_grid(["dpmpp+eta=1:default:10"])
    with pytest.raises(ValueError, match="SAMPLER"):
        sc.parse_grid(["ddim:10"])
    with pytest.raises(ValueError, match="Unknown|unknown|registered"):
        sc.parse_grid(["euler:uniform:10"])


def test_per_class_for_size_is_the_smallest_that_reaches_the_size():
    goes_class = [0] * 10 + [4] * 5 + [5] * 3  # halves 5, 2, 1
    assert gs.per_class_for_size(goes_class, 6) == 3
    floor, _ = gs.class_matched_sets(goes_class, 3)
    assert floor.size == 6
    assert gs.per_class_for_size(goes_class, 8) == 5
    with pytest.raises(ValueError, match="at most 8 class-matched"):
        gs.per_class_for_size(goes_class, 9)


class _CountingGenerator:
    """`DiffusionModel.generate`'s sampling loop, run eagerly around a stand-in
    network that counts the images it is evaluated on."""

    def __init__(self):
        self.images_evaluated = 0

    def generate(
        self,
        condition,
        sampler,
        num_steps,
        guidance_scale=1.0,
        seed=0,
        spacing=None,
        eta=None,
        batch_size=None,
    ):
        from keras import ops

        from flarekit import diffusion

        def predict(images, times, condition):
            self.images_evaluated += int(images.shape[0])
            return 0.1 * images

        options = {} if eta is None else {"eta": eta}
        sampler = diffusion.get_sampler(
            sampler, "cosine", "velocity", spacing=spacing, **options
        )
        condition = ops.convert_to_tensor(np.asarray(condition, "int32"))
        self.images_evaluated = 0
        images = diffusion.sample_loop(
            predict,
            sampler,
            np.ones((len(condition), 2, 2, 1), "float32"),
            sampler.timesteps(num_steps),
            condition=condition,
            null_condition=ops.full_like(condition, 6),
            guidance_scale=None if guidance_scale == 1.0 else guidance_scale,
            noise_seed=ops.convert_to_tensor([seed, 0], "int32"),
        )
        return ops.convert_to_numpy(images)


@pytest.mark.parametrize("guidance_scale", [1.0, 2.0])
def test_recorded_network_evaluations_are_those_the_sampling_loop_makes(
    guidance_scale,
):
    from flarekit.training.diffusion import DiffusionModel

    generator = _CountingGenerator()
    conditions = np.array([0, 3, 5])
    for setting in sc.parse_grid(
        [
            "ddpm:uniform:7",
            "ddim:karras:3",
            "dpmpp:log_snr:4",
            "dpmpp_sde:default:3",
            "ddim+eta=1:default:2",
        ]
    ):
        # timed_generate's count, the one every point records.
        _, timing = DiffusionModel.timed_generate(
            generator,
            conditions,
            guidance_scale=guidance_scale,
            **setting.generate_options(),
        )
        per_image = generator.images_evaluated / len(conditions)
        assert timing["network_evaluations"] == per_image, setting.key
        # One evaluation a step (the multistep solvers reuse the previous
        # one), twice that with guidance's doubled batch.
        assert per_image == setting.steps * (1 if guidance_scale == 1.0 else 2)


# ---- summaries on a hand-worked case ---------------------------------------------
def _point(setting, seed, fid):
    return {
        "setting": setting.to_json(),
        "seed": seed,
        "network_evaluations": setting.steps,
        "wall_s": 1.0,
        "nonfinite_images": 0,
        "fid": {"classifier": fid},
    }


def _results(points, grid):
    return {
        "settings": {
            "extractors": {"classifier": "flarekit-cnn@0"},
            "dataset": "d",
            "channels": list(CHANNELS),
            "generated_size": [8, 8],
            "diffusion_run": "run",
            "n_images": 12,
            "per_class": 2,
            "n_reference": 40,
            "guidance_scale": 1.0,
            "batch_size": 64,
            "simclr_encoder": None,
        },
        "points": {sc.point_key(p[0], p[1]): _point(*p) for p in points},
        "grid": [setting.to_json() for setting in grid],
        "seeds": [0, 1],
        "reference": sc.reference_setting(grid).key,
        "floor": {"classifier": 5.0},
        "floor_counts": {"quiet": 12},
        "sessions": [{"wall_s": 7200.0, "machine": "test"}],
        "goal": {"max_nfe": 20, "tolerance": 0.05},
    }


def test_ratios_are_paired_by_seed_and_the_goal_reads_the_best_cheap_setting():
    ddpm = sc.SamplerSetting("ddpm", "uniform", 1000)
    fast = sc.SamplerSetting("dpmpp", "log_snr", 20)
    slow = sc.SamplerSetting("ddim", "uniform", 50)  # better, but over 20 NFE
    half = sc.SamplerSetting("ddim", "uniform", 10)  # one seed only: not eligible
    grid = (ddpm, fast, slow, half)
    points = [
        (ddpm, 0, 10.0),
        (ddpm, 1, 20.0),
        (fast, 0, 10.4),
        (fast, 1, 21.0),
        (slow, 0, 9.0),
        (slow, 1, 18.0),
        (half, 0, 1.0),
    ]
    results = _results(points, grid)
    rows = {row["key"]: row for row in sc.summarize(results)}
    ratio = rows[fast.key]["ratio"]["classifier"]
    # Paired ratios 1.04 and 1.05.
    assert ratio["mean"] == pytest.approx(1.045)
    assert ratio["sd"] == pytest.approx(np.std([1.04, 1.05], ddof=1))
    assert rows[fast.key]["fid"]["classifier"]["mean"] == pytest.approx(15.7)
    assert rows[half.key]["n_seeds"] == 1

    best = sc.best_setting(list(rows.values()), "classifier", ddpm.key, 2)
    assert best["row"]["key"] == fast.key
    # Ratio of mean FIDs: 15.7 / 15 = 1.0467.
    assert best["ratio_of_means"] == pytest.approx(15.7 / 15.0)
    assert best["within"] is True
    strict = sc.best_setting(list(rows.values()), "classifier", ddpm.key, 2, 20, 0.04)
    assert strict["within"] is False

    text = sc.steps_curve_markdown(results)
    assert "dpmpp 20 (log_snr) (20 NFE), FID 15.7 ± 7.5" in text
    assert "ratio of mean FIDs 1.047, within 5 %." in text
    assert "| dpmpp | log_snr | 20 | 20 | 15.7 ± 7.5 | 1.045 ± 0.007 | 5 | 2 |" in text
    assert "points done: 7 of 8" in text and "wall time: 2.00 h" in text
    results["goal"]["tolerance"] = 0.04
    assert "not within 4 %" in sc.steps_curve_markdown(results)
    assert "oracle" in sc.steps_curve_markdown(results)


def test_a_diverged_point_has_no_fid_and_says_so():
    ddpm = sc.SamplerSetting("ddpm", "uniform", 1000)
    fast = sc.SamplerSetting("dpmpp", "karras", 5)
    results = _results([(ddpm, 0, 10.0), (ddpm, 1, 12.0)], (ddpm, fast))
    for seed in (0, 1):
        point = _point(fast, seed, None)
        point["nonfinite_images"] = 3
        results["points"][sc.point_key(fast, seed)] = point
    text = sc.steps_curve_markdown(results)
    assert "| dpmpp | karras | 5 | 5 | n/a (6 non-finite images) | n/a |" in text
    assert "No setting with <= 20 network evaluations has an FID" in text


# ---- a tiny run, end to end -------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, smoke_builder):
    """A diffusion run folder with the smoke starter's (untrained) network,
    normalised on the smoke training split: the study measures whatever
    network it is given, and training would cost most of the test's time."""
    import keras

    from flarekit import experiments
    from flarekit.experiments.runner import _import_network

    folder = experiments.find_experiment(gs.DIFFUSION_EXPERIMENT)
    config = experiments.load_config(folder, smoke=True)
    keras.utils.set_random_seed(0)
    model = _import_network(folder / "network.py").build_network(config)
    train = gs.load_arrays(smoke_builder, "train", CHANNELS)
    model.adapt_normalization([train["images"]])
    run = tmp_path_factory.mktemp("diffusion_run")
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps(config.to_json()))
    return run


@pytest.fixture(scope="module")
def simclr_encoder(tmp_path_factory):
    from flarekit import models
    from flarekit.data import synthetic

    encoder = models.build_encoder(
        CHANNELS, synthetic.channel_declarations(CHANNELS), image_size=8, filters=(4,)
    )
    path = tmp_path_factory.mktemp("simclr") / "encoder.keras"
    encoder.save(path)
    return path


def test_tiny_study_scores_both_extractors_and_resumes_where_it_stopped(
    tmp_path, smoke_run, simclr_encoder, tfds_dir
):
    ddpm = sc.SamplerSetting("ddpm", "uniform", 6)
    ddim = sc.SamplerSetting("ddim", "uniform", 2)
    options = {
        "seeds": (0, 1),
        "min_images": 8,
        "classifier_options": {"epochs": 1, "filters": (4,), "dense_units": 6},
        "simclr_encoder": simclr_encoder,
        "data_dir": tfds_dir,
    }
    messages = []
    path = sc.run_steps_curve(
        tmp_path, smoke_run, grid=(ddpm, ddim), log=messages.append, **options
    )
    results = json.loads((tmp_path / sc.RESULTS_FILE).read_text())
    n_images = results["settings"]["n_images"]
    assert n_images >= 8 and results["settings"]["per_class"] >= 1
    assert sum(results["floor_counts"].values()) == n_images
    assert set(results["settings"]["extractors"]) == {"classifier", "simclr"}
    assert results["reference"] == ddpm.key
    assert sorted(results["points"]) == sorted(
        sc.point_key(s, seed) for s in (ddpm, ddim) for seed in (0, 1)
    )
    for point in results["points"].values():
        assert point["n_images"] == n_images and point["nonfinite_images"] == 0
        # One network evaluation per step without guidance, for every sampler
        # here (DPM-Solver++(2M) reuses its previous evaluation).
        assert point["network_evaluations"] == point["setting"]["steps"]
        assert set(point["fid"]) == {"classifier", "simclr"}
        assert all(np.isfinite(v) and v >= 0 for v in point["fid"].values())
        assert point["wall_s"] > 0
    assert all(np.isfinite(v) and v >= 0 for v in results["floor"].values())
    # Different seeds draw different images.
    assert (
        results["points"][sc.point_key(ddim, 0)]["fid"]
        != results["points"][sc.point_key(ddim, 1)]["fid"]
    )

    text = path.read_text()
    for label in ("classifier", "simclr"):
        assert f"## FID, {label} extractor" in text
    assert "| ddim | uniform | 2 | 2 | " in text
    assert "Best with <= 20 network evaluations (simclr): ddim 2 (uniform)" in text
    assert f"set size: {n_images} generated images a point" in text
    assert (tmp_path / sc.FIGURE_FILE).stat().st_size > 0
    assert (tmp_path / sc.CLASSIFIER_FILE).exists()

    # Resume with one more setting: the finished points are kept as they were
    # and only the new setting's are sampled.
    dpmpp = sc.SamplerSetting("dpmpp", "log_snr", 3)
    messages.clear()
    sc.run_steps_curve(
        tmp_path, smoke_run, grid=(ddpm, ddim, dpmpp), log=messages.append, **options
    )
    resumed = json.loads((tmp_path / sc.RESULTS_FILE).read_text())
    for key, point in results["points"].items():
        assert resumed["points"][key] == point
    sampled = [m for m in messages if m.startswith("flarekit: [")]
    assert len(sampled) == 2 and all(dpmpp.key in m for m in sampled)
    assert len(resumed["sessions"]) == 2
    assert resumed["settings"]["extractors"] == results["settings"]["extractors"]

    with pytest.raises(ValueError, match="guidance_scale was 1.0, now 2.0"):
        sc.run_steps_curve(
            tmp_path, smoke_run, grid=(ddpm,), guidance_scale=2.0, log=print, **options
        )


def test_a_study_without_the_second_extractor_stops_before_any_work(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps({"dataset": "synthetic_sun/active_region", "channels": CHANNELS})
    )
    with pytest.raises(ValueError, match="No SimCLR encoder.*--simclr-encoder none"):
        sc.run_steps_curve(tmp_path / "out", run, simclr_encoder=None, log=print)
    assert not (tmp_path / "out" / sc.RESULTS_FILE).exists()
