"""DiffusionModel and ConditionalVAE on random tensors: training, EMA, condition
dropout, guided sampling, determinism, saving; and `flarekit sample`."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from flarekit import diffusion
from flarekit.data import synthetic
from flarekit.layers import generation_preprocessing
from flarekit.models import build_cvae, build_unet
from flarekit.training import ConditionalVAE, DiffusionModel

CHANNELS = ("magnetogram", "euv_94")
DECLARATIONS = synthetic.channel_declarations(CHANNELS)


def raw_images(n=32, size=16, seed=0):
    """Physical-looking images: a signed field in G and a positive intensity."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 2), "float32")
    images[..., 0] = rng.normal(0, 200, (n, size, size))
    images[..., 1] = np.exp(rng.normal(2, 1, (n, size, size)))
    return images


def make_model(condition="goes_class", **kwargs):
    unet = build_unet(
        (8, 8, 2),
        widths=(8, 16),
        blocks_per_level=1,
        attention_resolution=4,
        embedding_dim=16,
        groups=4,
        condition=condition,
    )
    model = DiffusionModel(
        unet,
        input_shape=(16, 16, 2),
        preprocessing=generation_preprocessing(CHANNELS, DECLARATIONS, bin_factor=2),
        condition=condition,
        ema_decay=0.5,
        **kwargs,
    )
    model.adapt_normalization([raw_images()])
    return model


def dataset(condition="goes_class"):
    images = raw_images()
    values = (
        (np.arange(32) % 6).astype("int32")
        if condition == "goes_class"
        else np.linspace(-9, -4, 32).astype("float32")
    )
    return tf.data.Dataset.from_tensor_slices(
        ({"images": images, "condition": values}, values)
    ).batch(16)


@pytest.fixture(scope="module")
def trained():
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [w.numpy().copy() for w in model.ema_network.weights]
    history = model.fit(dataset(), epochs=1, verbose=0, shuffle=False)
    return model, before, history


def test_training_reports_finite_losses_and_moves_the_ema_weights(trained):
    model, before, history = trained
    assert np.isfinite(history.history["loss"][0]) and "image_loss" in history.history
    moved = [
        not np.allclose(a, w.numpy()) for a, w in zip(before, model.ema_network.weights)
    ]
    differs = [
        not np.allclose(e.numpy(), w.numpy())
        for e, w in zip(model.ema_network.weights, model.network.weights)
    ]
    assert any(moved) and any(differs)
    assert not model.ema_network.trainable


def test_condition_dropout_uses_the_null_condition():
    model = make_model(p_uncond=0.999)
    dropped = ops.convert_to_numpy(model.drop_condition(np.arange(6)))
    np.testing.assert_array_equal(dropped, 6)
    flux = make_model(condition="log_flux", p_uncond=0.999)
    assert np.all(np.isnan(ops.convert_to_numpy(flux.drop_condition(np.full(4, -5.0)))))


def test_normalisation_round_trip_recovers_binned_physical_values():
    model = make_model()
    images = raw_images(4)
    back = ops.convert_to_numpy(model.denormalize(model.normalize(images)))
    binned = images.reshape(4, 8, 2, 8, 2, 2).mean(axis=(2, 4))
    # Intensities come back above the log floor of 1 DN/s; fields everywhere.
    np.testing.assert_allclose(back[..., 0], binned[..., 0], rtol=1e-3, atol=1e-2)
    keep = binned[..., 1] > 1.0
    np.testing.assert_allclose(back[..., 1][keep], binned[..., 1][keep], rtol=1e-3)


def test_guided_generation_is_deterministic_per_seed_and_survives_saving(
    trained, tmp_path
):
    model, _, _ = trained
    conditions = np.array([0, 4, 5])
    first = model.generate(
        conditions, sampler="dpmpp", num_steps=2, guidance_scale=2.0, seed=3
    )
    again = model.generate(
        conditions, sampler="dpmpp", num_steps=2, guidance_scale=2.0, seed=3
    )
    other = model.generate(
        conditions, sampler="dpmpp", num_steps=2, guidance_scale=2.0, seed=4
    )
    assert first.shape == (3, 8, 8, 2) and np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(
        loaded.generate(
            conditions, sampler="dpmpp", num_steps=2, guidance_scale=2.0, seed=3
        ),
        first,
        rtol=1e-4,
        atol=1e-4,
    )


def test_generate_rejects_bad_conditions_and_samplers(trained):
    model, _, _ = trained
    with pytest.raises(ValueError, match="shape"):
        model.generate(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="euler"):
        model.generate(np.array([1]), sampler="euler")


def test_sample_command_writes_images_and_a_contact_sheet(trained, tmp_path):
    from flarekit import cli

    model, _, _ = trained
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"channels": list(CHANNELS)}))
    out = tmp_path / "samples"
    cli.main(
        [
            "sample",
            "--run",
            str(run),
            "--goes-class",
            "M",
            "--n",
            "2",
            "--sampler",
            "dpmpp",
            "--steps",
            "2",
            "--out",
            str(out),
        ]
    )
    with np.load(out / "samples.npz") as saved:
        assert saved["images"].shape == (2, 8, 8, 2)
        np.testing.assert_array_equal(saved["conditions"], 4)
    assert (out / "contact_sheet.png").stat().st_size > 0
    assert (out / "sample_001.png").exists()
    assert json.loads((out / "sampling.json").read_text())["steps"] == 2


def test_conditional_vae_trains_generates_and_reloads(tmp_path):
    encoder, decoder = build_cvae((8, 8, 2), latent_dim=4, widths=(8,), embedding_dim=8)
    cvae = ConditionalVAE(
        encoder,
        decoder,
        input_shape=(16, 16, 2),
        preprocessing=generation_preprocessing(CHANNELS, DECLARATIONS, bin_factor=2),
    )
    cvae.adapt_normalization([raw_images()])
    cvae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = cvae.fit(dataset(), epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["kl_loss"][0])
    images = cvae.generate(np.array([0, 5]), seed=1)
    assert images.shape == (2, 8, 8, 2)
    cvae.save(tmp_path / "cvae.keras")
    loaded = keras.models.load_model(tmp_path / "cvae.keras")
    np.testing.assert_allclose(
        loaded.generate(np.array([0, 5]), seed=1), images, rtol=1e-5
    )


def test_no_preprocessing_means_identity():
    unet = build_unet(
        (8, 8, 2), widths=(8, 16), blocks_per_level=1, attention_resolution=4,
        embedding_dim=16, groups=4, condition="goes_class",
    )
    model = DiffusionModel(unet, input_shape=(8, 8, 2), condition="goes_class")
    images = np.random.default_rng(0).normal(size=(2, 8, 8, 2)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.normalize(images)), images)


class RenoisingSampler(diffusion.Sampler):
    """A sampler defined in this test file alone: x_s = alpha_s x0_hat + sigma_s z."""

    name = "renoise_test"
    stochastic = True

    def step(self, prediction, t, t_next, x_t, state=(), noise=None):
        signal_rates, noise_rates = self.rates(t)
        next_signal_rates, next_noise_rates = self.rates(t_next)
        images, _ = self.image_and_noise(prediction, x_t, signal_rates, noise_rates)
        return next_signal_rates * images + next_noise_rates * noise, state


def test_a_sampler_registered_in_one_file_samples_through_generate(trained, capsys):
    from flarekit import cli

    model, _, _ = trained
    diffusion.register_sampler(RenoisingSampler)
    assert "renoise_test" in diffusion.sampler_names()
    conditions = np.array([0, 4, 5, 1])
    first = model.generate(conditions, sampler="renoise_test", num_steps=3, seed=2)
    again = model.generate(conditions, sampler="renoise_test", num_steps=3, seed=2)
    ddim = model.generate(conditions, sampler="ddim", num_steps=3, seed=2)
    assert first.shape == (4, 8, 8, 2) and np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, ddim)
    # The command line reads the same registry.
    assert cli._sampler_name("renoise_test") == "renoise_test"
    # Chunks report progress per chunk (never per step inside the loop).
    model.generate(
        conditions,
        sampler="renoise_test",
        num_steps=2,
        batch_size=2,
        progress=True,
        physical=False,
    )
    assert "4/4" in capsys.readouterr().out


def test_a_taken_sampler_name_and_unknown_options_are_refused(trained):
    model, _, _ = trained

    class Impostor(diffusion.Sampler):
        name = "ddim"

    with pytest.raises(ValueError, match="taken"):
        diffusion.register_sampler(Impostor)
    with pytest.raises(ValueError, match="eta"):
        model.generate(np.array([1]), sampler="dpmpp", eta=0.5)
    with pytest.raises(ValueError, match="karras"):
        model.generate(np.array([1]), sampler="dpmpp", spacing="cubic")
