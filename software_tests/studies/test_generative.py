"""The generative study's scoring pieces: class-matched sets, a second named
FID extractor (the SimCLR encoder), and the sampler table's columns."""

import json

import keras
import numpy as np
import pytest

from flarekit.studies import generative as gs
from flarekit import models
from flarekit.data import synthetic
from flarekit.metrics.generative import frechet_distance

CHANNELS = ("magnetogram", "euv_94")


def test_ladder_and_class_matched_sets_never_take_more_than_half_a_class():
    goes_class = np.array([0] * 10 + [4] * 5 + [5] * 3)
    floor, reference = gs.class_matched_sets(goes_class, per_class=4, seed=0)
    assert np.bincount(goes_class[floor], minlength=6).tolist() == [4, 0, 0, 0, 2, 1]
    assert np.intersect1d(floor, reference).size == 0
    assert floor.size + reference.size == goes_class.size
    assert gs.ladder_index([0, 1, 2, 3, 4, 5]).tolist() == [0, 0, 0, 1, 2, 3]


def _write_run(folder, dataset, channels, smoke=False, encoder=True, finished=True):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(
        json.dumps({"dataset": dataset, "channels": list(channels), "smoke": smoke})
    )
    if encoder:
        (folder / "encoder.keras").write_bytes(b"")
    if finished:
        (folder / "metrics.json").write_text("{}")


def test_find_simclr_encoder_takes_the_newest_run_with_same_dataset_and_channels(
    tmp_path,
):
    dataset = "synthetic_sun/active_region"
    _write_run(tmp_path / "20260101T000000Z", dataset, CHANNELS)
    _write_run(tmp_path / "20260102T000000Z", dataset, CHANNELS[::-1])  # order differs
    _write_run(tmp_path / "20260103T000000Z", "synthetic_sun/full_disk", CHANNELS)
    _write_run(tmp_path / "20260104T000000Z", dataset, CHANNELS, smoke=True)
    _write_run(
        tmp_path / "20260105T000000Z", dataset, CHANNELS, encoder=False, finished=False
    )
    _write_run(tmp_path / "20260106T000000Z", dataset, CHANNELS, finished=False)
    found = gs.find_simclr_encoder(dataset, CHANNELS, runs_dir=tmp_path)
    assert found == tmp_path / "20260101T000000Z" / "encoder.keras"
    assert gs.find_simclr_encoder(dataset, ("euv_171",), runs_dir=tmp_path) is None
    assert gs.find_simclr_encoder(dataset, CHANNELS, runs_dir=tmp_path / "no") is None


@pytest.fixture(scope="module")
def encoder_file(tmp_path_factory):
    encoder = models.build_encoder(
        CHANNELS, synthetic.channel_declarations(CHANNELS), image_size=16, filters=(4, 8)
    )
    path = tmp_path_factory.mktemp("simclr") / "encoder.keras"
    encoder.save(path)
    return path


def test_load_simclr_extractor_names_its_weights_and_checks_channels(encoder_file):
    name, encoder = gs.load_simclr_extractor(encoder_file.parent, CHANNELS)
    assert name.startswith("flarekit-simclr@") and len(name.split("@")[1]) == 10
    assert encoder.predict_on_batch(np.ones((2, 16, 16, 2), "float32")).shape == (2, 8)
    with pytest.raises(ValueError, match=r"takes 2 channels.*have 3"):
        gs.load_simclr_extractor(encoder_file, ("magnetogram", "euv_94", "euv_171"))
    with pytest.raises(FileNotFoundError, match="No saved encoder"):
        gs.load_simclr_extractor(encoder_file.parent / "missing.keras", CHANNELS)


def test_scorer_gives_each_extra_extractor_its_own_fid_and_floor(encoder_file):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.lognormal(0.0, 1.0, size=(96, 16, 16, 2)).astype("float32")
    labels = rng.integers(0, 4, 96)
    classifier = gs.train_classifier(
        images,
        labels,
        CHANNELS,
        synthetic.channel_declarations(CHANNELS),
        epochs=1,
        filters=(4,),
        dense_units=6,
    )
    name, encoder = gs.load_simclr_extractor(encoder_file, CHANNELS)
    reference, floor, generated = images[:48], images[48:72], images[72:] * 3.0
    scorer = gs.Scorer(
        classifier,
        reference,
        floor,
        n_clusters=3,
        extra_extractors={"simclr": (name, encoder)},
    )
    scores = scorer.score(generated, np.full(24, 3))
    simclr = scores["extra_fid"]["simclr"]
    assert simclr["extractor"] == name and simclr["n_generated"] == 24
    expected = frechet_distance(
        encoder.predict_on_batch(reference), encoder.predict_on_batch(generated)
    )
    assert simclr["fid"] == pytest.approx(expected, rel=1e-4)
    floor_fid = frechet_distance(
        encoder.predict_on_batch(reference), encoder.predict_on_batch(floor)
    )
    assert simclr["fid_floor"] == pytest.approx(floor_fid, rel=1e-4)
    # Brightening every pixel 3x moves the generated set away from the real one.
    assert simclr["fid"] > simclr["fid_floor"]
    assert scores["extractor"] != name  # the classifier's FID is the other one

    row = {
        "setting": "ddim2",
        "guidance_scale": 1.0,
        "steps": 2,
        "network_evaluations": 2,
        "wall_s": 1.0,
        "s_per_image": 0.1,
        **scores,
    }
    table = gs.sampler_markdown([row]).splitlines()
    assert "FID simclr | FID simclr floor" in table[0]
    assert len(table[0].split("|")) == len(table[2].split("|")) == 18
    assert f"{simclr['fid']:.2f}" in table[2]


def test_physical_profile_follows_the_class_it_was_given():
    rng = np.random.default_rng(1)
    conditions = np.repeat(np.arange(6), 20)
    images = np.empty((120, 8, 8, 2), "float32")
    images[..., 0] = (
        rng.normal(0, 1, (120, 8, 8)) * (10.0 * (1 + conditions))[:, None, None]
    )
    images[..., 1] = 10.0 ** (2 + 0.1 * conditions)[:, None, None]
    images[0, 0, 0, 0] = np.nan  # off-limb pixels are skipped
    profile = gs.physical_profile(images, conditions, CHANNELS)
    medians = [profile["per_class"][name]["mean_abs_b"] for name in ("quiet", "M", "X")]
    assert medians == sorted(medians) and profile["per_class"]["X"]["n"] == 20
    assert profile["per_class"]["C"]["log_euv_94"] == pytest.approx(2.3, abs=1e-6)
    assert profile["spearman"]["mean_abs_b"] > 0.9
    assert profile["spearman"]["log_euv_94"] == pytest.approx(1.0)
    flat = gs.physical_profile(images, np.zeros(120, int), CHANNELS)
    assert np.isnan(flat["spearman"]["mean_abs_b"])
    table = gs.profile_markdown({"real": profile, "flat": flat}).splitlines()
    assert table[0].count("|") == table[2].count("|") == table[3].count("|")
    assert "Spearman mean_abs_b" in table[0]
