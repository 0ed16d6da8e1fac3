"""SimCLR pretraining and transfer through the starters, as a user runs them."""

import json

import keras
import numpy as np
import pytest

from flarekit import experiments as fx
from flarekit import models
from flarekit.studies import label_efficiency
from flarekit.data.splits import EvaluationSetError

PRETRAIN = "ssl/simclr_pretrain"
FINETUNE = "ssl/finetune_binary"


@pytest.fixture
def runs_dir(tmp_path, monkeypatch, tfds_dir):
    monkeypatch.setenv("FLAREKIT_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_starters_resolve_their_trainers():
    for name, trainer in (
        (PRETRAIN, "SimCLRExperiment"),
        (FINETUNE, "FinetuneExperiment"),
    ):
        config = fx.load_config(fx.find_experiment(name), smoke=True)
        assert fx.trainer_class(config.trainer).__name__ == trainer
        assert config.dataset.endswith("_smoke")
    assert fx.load_config(fx.find_experiment(PRETRAIN)).pretrain_split == "train"


@pytest.mark.parametrize("split", ["test", "validation"])
def test_pretraining_on_evaluation_images_is_refused(split, runs_dir):
    with pytest.raises(EvaluationSetError, match="trap 3"):
        fx.run_experiment(
            fx.find_experiment(PRETRAIN), smoke=True, pretrain_split=split
        )


def _backbone_kernels(model):
    return [w.numpy() for w in model.get_layer("backbone").weights if len(w.shape) == 4]


def test_pretrain_then_probe_and_finetune(runs_dir):
    pretrain = fx.run_experiment(
        fx.find_experiment(PRETRAIN),
        smoke=True,
        epochs=1,
        warmup_epochs=0,
        tsne_examples=12,
    )
    metrics = json.loads((pretrain / "metrics.json").read_text())["pretraining"]
    timings = json.loads((pretrain / "timings.json").read_text())
    assert timings["images_per_s"] > 0 and metrics["pretrain_examples"] > 0
    assert (pretrain / "figures" / "tsne_embedding.png").exists()
    assert "pretraining images/s" in (pretrain / "report.md").read_text()
    encoder_path = pretrain / "encoder.keras"
    pretrained = _backbone_kernels(models.load_encoder(encoder_path))
    # What the label-efficiency report says of the pretraining set.
    described = "\n".join(label_efficiency.pretraining_lines(encoder_path))
    assert "synthetic_sun/active_region_smoke" in described
    assert f"{metrics['pretrain_examples']} unlabelled images" in described
    assert f"{timings['epochs_trained']} epochs" in described
    # The frozen probe scores the pretrained features and a random-weight control
    # on the same labelled patches.
    probe = label_efficiency.frozen_linear_probe(
        encoder_path, dataset="synthetic_sun/active_region_smoke", batch_size=64
    )
    assert set(probe) == {"examples", "pretrained", "random"}
    for arm in ("pretrained", "random"):
        scores = probe[arm]
        assert 0.5 <= scores["validation_majority_accuracy"] <= 1
        assert 0 <= scores["validation_accuracy"] <= 1
        assert 0 <= scores["test_roc_auc"] <= 1
    assert "| same, random weights |" in "\n".join(label_efficiency.probe_lines(probe))

    common = dict(
        smoke=True, fresh=True, encoder_path=str(encoder_path), label_fraction=0.5
    )
    probe = fx.run_experiment(
        fx.find_experiment(FINETUNE), linear_probe=True, epochs=1, **common
    )
    tuned = fx.run_experiment(
        fx.find_experiment(FINETUNE), epochs=2, freeze_epochs=1, **common
    )
    for run_dir, backbone_moves in ((probe, False), (tuned, True)):
        model = keras.models.load_model(run_dir / "checkpoints" / "last.keras")
        moved = [
            not np.allclose(a, b) for a, b in zip(pretrained, _backbone_kernels(model))
        ]
        assert all(moved) if backbone_moves else not any(moved)
    run_settings = json.loads((tuned / "metrics.json").read_text())["settings"]
    settings = run_settings["transfer"]
    assert settings["labelled_examples"] == round(
        0.5 * run_settings["split_counts"]["train"]
    )
    assert [phase["backbone_trainable"] for phase in settings["phases"]] == [
        False,
        True,
    ]
    assert (
        settings["phases"][1]["learning_rate"] < settings["phases"][0]["learning_rate"]
    )


def _fake_run(fraction, arm, seed, tss):
    metrics = {
        "headline": {
            "tss": tss,
            "hss2": None if tss is None else tss / 2,
            "false_alarm_ratio": 0.5,
            "bss": 0.1,
            "roc_auc": 0.7,
        },
        "base_rates": {"test": 0.25},
        "bayes_ceiling": {"tss": 0.8},
        "settings": {
            "horizon_hours": 24.0,
            "unit": "active-region patch",
            "split_counts": {"test": 100},
            "transfer": {"labelled_examples": 10},
        },
    }
    return {
        "fraction": fraction,
        "arm": arm,
        "seed": seed,
        "epochs": 2,
        "freeze_epochs": 1,
        "steps": 20,
        "labelled_examples": 10,
        "wall_s": 1.0,
        "run_dir": "x",
        "dataset": "synthetic_sun/active_region",
        "threshold": "C1.0",
        "metrics": metrics,
    }


def test_label_efficiency_table_is_mean_and_sd_over_seeds(tmp_path):
    rows = [_fake_run(0.01, "pretrained", s, t) for s, t in enumerate((0.2, 0.4, 0.6))]
    rows += [_fake_run(0.01, "random", s, t) for s, t in enumerate((0.1, 0.1, None))]
    path = label_efficiency.write_label_efficiency_report(rows, tmp_path)
    text = path.read_text()
    # (0.2, 0.4, 0.6): mean 0.4, sample sd 0.2; the missing TSS is left out and counted.
    assert (
        "| 1 % | 10 | 2 (20) | fine-tuned from SimCLR encoder | 0.400 ± 0.200 |" in text
    )
    assert "| same network from scratch | 0.100 ± 0.000 |" in text
    assert "Undefined TSS in 1 run(s)" in text
    assert (tmp_path / "figures" / "label_efficiency.png").stat().st_size > 1000
    assert len((tmp_path / "label_efficiency.csv").read_text().splitlines()) == 7
