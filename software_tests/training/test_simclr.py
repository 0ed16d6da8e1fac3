"""SimCLR: NT-Xent pinned by hand, LARS steps pinned by hand, the model trains,
saves and loads."""

import keras
import numpy as np
import pytest

from flarekit import layers, models
from flarekit.data import synthetic
from flarekit.training import LARS, NTXentLoss, SimCLR, build_projection_head


def _nt_xent_by_hand(z1, z2, temperature):
    """Chen et al. (2020), eq. 1, written out with loops over the 2N anchors."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        similarities = [z[i] @ z[k] / temperature for k in range(2 * n) if k != i]
        total += -(z[i] @ z[j] / temperature) + np.log(np.sum(np.exp(similarities)))
    return total / (2 * n)


def test_nt_xent_on_orthogonal_3x4_is_the_closed_form():
    # Three pairs of identical one-hot projections in R^4: for each anchor the
    # positive has similarity 1, the other four candidates 0, so
    # loss = log(1 + 4 exp(-1 / tau)); tau = 0.5 gives log(1 + 4 e^-2) = 0.432653.
    z = np.eye(3, 4, dtype="float32")
    loss = float(NTXentLoss(temperature=0.5)(z, z))
    assert loss == pytest.approx(np.log(1 + 4 * np.exp(-2.0)), abs=1e-6)
    assert loss == pytest.approx(0.432653, abs=1e-6)


def test_nt_xent_on_a_general_3x4_case_matches_the_definition():
    z1 = np.array(
        [[1.0, 2.0, 0.0, -1.0], [0.5, -1.0, 2.0, 0.0], [-1.0, 0.0, 1.0, 3.0]], "float32"
    )
    z2 = np.array(
        [[0.8, 2.2, 0.1, -0.7], [1.0, 0.0, 1.5, 0.5], [0.0, 1.0, 1.0, 1.0]], "float32"
    )
    for temperature in (0.1, 0.5, 1.0):
        expected = _nt_xent_by_hand(z1, z2, temperature)
        assert float(NTXentLoss(temperature)(z1, z2)) == pytest.approx(
            expected, rel=1e-5
        )
    # Swapping the views or scaling the projections changes nothing.
    assert float(NTXentLoss(0.5)(z2, z1)) == pytest.approx(
        _nt_xent_by_hand(z1, z2, 0.5), rel=1e-5
    )
    assert float(NTXentLoss(0.5)(3 * z1, z2)) == pytest.approx(
        _nt_xent_by_hand(z1, z2, 0.5), rel=1e-5
    )
    with pytest.raises(ValueError, match="0.0"):
        NTXentLoss(temperature=0.0)


def test_lars_two_steps_by_hand():
    # w = (3, 4): |w| = 5; g = (0.6, 0.8): |g| = 1; eta = 0.001, rate 1, momentum 0.9.
    # Step 1: trust = 0.001 * 5 / 1 = 0.005, v = 0.005 g = (0.003, 0.004),
    #         w = (2.997, 3.996).
    # Step 2: trust = 0.001 * |w| = 0.004995, v = 0.9 v + 0.004995 g
    #         = (0.005697, 0.007596), w = (2.991303, 3.988404).
    weight = keras.Variable(np.array([[3.0, 4.0]], "float32"))
    bias = keras.Variable(np.array([1.0, 1.0], "float32"))
    optimizer = LARS(learning_rate=1.0, momentum=0.9, weight_decay=None, eta=0.001)
    gradient = np.array([[0.6, 0.8]], "float32")
    bias_gradient = np.array([0.1, -0.2], "float32")
    optimizer.apply_gradients([(gradient, weight), (bias_gradient, bias)])
    np.testing.assert_allclose(weight.numpy(), [[2.997, 3.996]], atol=1e-6)
    optimizer.apply_gradients([(gradient, weight), (bias_gradient, bias)])
    np.testing.assert_allclose(weight.numpy(), [[2.991303, 3.988404]], atol=1e-6)
    # A bias gets plain momentum SGD: v1 = g, v2 = 1.9 g; b = 1 - 2.9 g.
    np.testing.assert_allclose(bias.numpy(), 1.0 - 2.9 * bias_gradient, atol=1e-6)


def test_lars_weight_decay_enters_the_gradient_and_config_round_trips():
    # g + wd w = (0, 0) + 0.5 (3, 4) = (1.5, 2): trust = 0.001 * 5 / 2.5, so the
    # step is 0.002 * (1.5, 2) with rate 1 and no momentum.
    weight = keras.Variable(np.array([[3.0, 4.0]], "float32"))
    optimizer = LARS(learning_rate=1.0, momentum=0.0, weight_decay=0.5, eta=0.001)
    optimizer.apply_gradients([(np.zeros((1, 2), "float32"), weight)])
    np.testing.assert_allclose(weight.numpy(), [[2.997, 3.996]], atol=1e-6)
    clone = LARS.from_config(optimizer.get_config())
    assert (clone.momentum, clone.eta, clone.weight_decay) == (0.0, 0.001, 0.5)
    with pytest.raises(ValueError, match="1.5"):
        LARS(momentum=1.5)


def _simclr(seed=0):
    keras.utils.set_random_seed(seed)
    channels = ("magnetogram", "continuum")
    declarations = synthetic.channel_declarations(channels)
    encoder = models.build_encoder(
        channels, declarations, image_size=16, filters=(8, 16)
    )
    return SimCLR(
        encoder,
        build_projection_head(encoder.output_shape[-1], 16, 8),
        layers.build_augmenter(channels, declarations, seed=seed),
        probe=keras.layers.Dense(1, name="probe"),
        temperature=0.5,
    )


def _data(count=32, size=20, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 200, (count, size, size, 2)).astype("float32")
    images[..., 1] = np.abs(images[..., 1]) + 1.0
    labels = (rng.uniform(size=(count, 1)) < 0.5).astype("float32")
    return images, labels


def test_simclr_trains_reports_its_metrics_and_round_trips(tmp_path):
    images, labels = _data()
    model = _simclr()
    model.compile(optimizer=LARS(0.5), probe_optimizer=keras.optimizers.Adam(1e-2))
    probe_before = [w.copy() for w in model.probe.get_weights()]
    history = model.fit(
        images,
        labels,
        batch_size=8,
        epochs=2,
        validation_data=(images, labels),
        verbose=0,
    ).history
    assert set(history) == {
        "c_loss",
        "c_acc",
        "p_loss",
        "p_acc",
        "val_p_loss",
        "val_p_acc",
    }
    # 8 pairs: the loss starts near log(2 * 8 - 1) for unrelated projections.
    assert 1.0 < history["c_loss"][0] < np.log(15) + 1.0
    assert 0.0 <= history["c_acc"][-1] <= 1.0
    assert not np.allclose(probe_before[0], model.probe.get_weights()[0])
    # The model's output is the encoder's features; they survive save and load,
    # with the optimizer's state.
    path = tmp_path / "simclr.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(images[:4], verbose=0),
        model.predict(images[:4], verbose=0),
        atol=1e-5,
    )
    assert isinstance(loaded.optimizer, LARS)
    assert int(loaded.optimizer.iterations.numpy()) == int(
        model.optimizer.iterations.numpy()
    )
    loaded.fit(images, labels, batch_size=8, epochs=1, verbose=0)


def test_probe_learning_never_touches_the_encoder():
    # With a zero contrastive rate, the probe's labels must not reach the
    # encoder's trainable weights (batch-norm moving statistics may move).
    images, labels = _data()
    model = _simclr()
    model.compile(
        optimizer=keras.optimizers.SGD(0.0), probe_optimizer=keras.optimizers.Adam(0.1)
    )
    before = [w.numpy().copy() for w in model.encoder.trainable_weights]
    probe_before = model.probe.get_weights()[0].copy()
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    for old, new in zip(before, model.encoder.trainable_weights):
        np.testing.assert_array_equal(old, new.numpy())
    assert not np.allclose(probe_before, model.probe.get_weights()[0])
