"""flarekit's models, layers and samplers run on the JAX backend (DESIGN.md:
`keras.ops` only), and a `.keras` checkpoint saved under TensorFlow loads there
with the same outputs.

This process (TensorFlow) saves three small models and the outputs of every
sampler's step; a subprocess with `KERAS_BACKEND=jax` builds every network
builder, calls every layer of `flarekit.layers` and every registered sampler's
step, loads the checkpoints and compares. It imports only the models, layers,
diffusion and training packages, and checks that TensorFlow stayed out.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="the test extra installs jax[cpu]")

CHANNELS = ("magnetogram", "euv_94")
# Literal declarations: the subprocess must not import flarekit.data.
DECLARATIONS = {
    "magnetogram": {"unit": "G", "kind": "signed", "floor": 10.0},
    "euv_94": {"unit": "DN/s", "kind": "positive", "floor": 1.0},
}
UNET = {
    "widths": (8, 16),
    "blocks_per_level": 1,
    "attention_resolution": 4,
    "embedding_dim": 16,
    "groups": 4,
}
SAMPLER_STEPS = 2


def _raw_images(shape, seed):
    rng = np.random.default_rng(seed)
    images = rng.lognormal(2.0, 1.5, size=shape).astype("float32")
    images[..., 0] = rng.normal(0.0, 300.0, size=shape[:-1])  # signed field
    return images


def _perturbed(model, seed=1):
    # Zero-initialised layers (the UNet's last convolution) would make every
    # backend agree trivially; move each weight off its initial value.
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if weight.trainable:
            weight.assign(
                weight + 0.05 * rng.normal(size=weight.shape).astype("float32")
            )
    return model


def _sampler_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(2, 4, 4, 2)).astype("float32"),
        "prediction": rng.normal(size=(SAMPLER_STEPS, 2, 4, 4, 2)).astype("float32"),
        "noise": rng.normal(size=(SAMPLER_STEPS, 2, 4, 4, 2)).astype("float32"),
    }


def _run_samplers(diffusion, keras, inputs):
    """name -> x after SAMPLER_STEPS steps of that sampler on fixed inputs."""
    outputs = {}
    for name in diffusion.sampler_names():
        sampler = diffusion.get_sampler(name, "cosine", "velocity")
        times = sampler.timesteps(SAMPLER_STEPS)
        x = keras.ops.convert_to_tensor(inputs["x"])
        state = sampler.initial_state(x)
        for index in range(SAMPLER_STEPS):
            noise = inputs["noise"][index] if sampler.stochastic else None
            x, state = sampler.step(
                keras.ops.convert_to_tensor(inputs["prediction"][index]),
                times[index],
                times[index + 1],
                x,
                state,
                noise,
            )
        outputs[name] = keras.ops.convert_to_numpy(x)
    return outputs


def _save_reference(folder):
    """Save the TensorFlow side: checkpoints, their inputs and outputs."""
    import keras

    from flarekit import diffusion, layers, models

    assert keras.backend.backend() == "tensorflow"
    keras.utils.set_random_seed(0)
    arrays = {}
    preprocessing = layers.preprocessing_for(CHANNELS, DECLARATIONS)
    cnn = models.build_cnn(
        (16, 16, 2),
        filters=(4, 8),
        dense_units=8,
        dropout=0.0,
        preprocessing=preprocessing,
        head=keras.layers.Dense(1, activation="sigmoid", name="head"),
        name="cnn",
    )
    upstream = keras.Model(cnn.inputs, preprocessing[-1].input)
    preprocessing[-1].adapt([upstream.predict_on_batch(_raw_images((8, 16, 16, 2), 3))])
    vit = models.build_vit(
        (16, 16, 2),
        patch_size=8,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        mlp_dim=16,
        dropout=0.0,
        preprocessing=layers.preprocessing_for(CHANNELS, DECLARATIONS),
        head=keras.layers.Dense(3, activation="softmax", name="head"),
    )
    unet = _perturbed(models.build_unet((8, 8, 2), **UNET))
    rng = np.random.default_rng(5)
    unet_inputs = [
        rng.normal(size=(3, 8, 8, 2)).astype("float32"),
        np.array([0.1, 0.5, 0.9], "float32"),
        np.array([0, 4, 6], "int32"),
    ]
    for name, model, inputs in (
        ("cnn", _perturbed(cnn), [_raw_images((3, 16, 16, 2), 4)]),
        ("vit", _perturbed(vit), [_raw_images((3, 16, 16, 2), 6)]),
        ("unet", unet, unet_inputs),
    ):
        model.save(folder / f"{name}.keras")
        for index, value in enumerate(inputs):
            arrays[f"{name}_input_{index}"] = value
        arrays[f"{name}_output"] = keras.ops.convert_to_numpy(model(inputs))
    inputs = _sampler_inputs()
    arrays.update({f"sampler_{k}": v for k, v in inputs.items()})
    for name, value in _run_samplers(diffusion, keras, inputs).items():
        arrays[f"step_{name}"] = value
    np.savez(folder / "reference.npz", **arrays)


CHILD = textwrap.dedent(
    """
    import json, sys, time, types
    from pathlib import Path


    class NoTensorFlow:
        # A machine with JAX but without TensorFlow: any import of it fails
        # (Keras's own optional probe for TensorFlow then finds none).
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)")
            return None


    sys.meta_path.insert(0, NoTensorFlow())

    import numpy as np
    import keras
    from keras import ops

    started = time.perf_counter()
    assert keras.backend.backend() == "jax", keras.backend.backend()
    from flarekit import diffusion, layers, models, training
    from flarekit.data import tasks

    folder = Path(sys.argv[1])
    settings = json.loads((folder / "settings.json").read_text())
    channels, declarations = settings["channels"], settings["declarations"]
    unet_kwargs = settings["unet"]
    rng = np.random.default_rng(0)
    patches = np.abs(rng.normal(50.0, 20.0, (2, 16, 16, 2))).astype("float32")
    report = {"builders": [], "layers": [], "samplers": {}, "checkpoints": {}}
    report["laps"] = {"import": time.perf_counter() - started}
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        report["laps"][name] = round(now - clock[0], 2)
        clock[0] = now
        print("lap", name, report["laps"][name], file=sys.stderr, flush=True)

    def finite(value):
        value = ops.convert_to_numpy(value)
        assert np.all(np.isfinite(value)), "non-finite output"
        return value

    # Every network builder, called once. A builder added to flarekit.models
    # without a case here fails the test rather than going unchecked.
    head = lambda: keras.layers.Dense(1, activation="sigmoid", name="head")
    task = tasks.multiclass()  # a registered task builds its own head
    clip = np.abs(rng.normal(50.0, 20.0, (2, 4, 16, 16, 2))).astype("float32")
    unet_inputs = [
        rng.normal(size=(2, 8, 8, 2)).astype("float32"),
        np.array([0.2, 0.7], "float32"),
        np.array([1, 5], "int32"),
    ]
    builders = {
        "build_cnn": lambda: models.build_cnn(
            (16, 16, 2), filters=(4,), dense_units=4, head=head()).predict_on_batch(
            patches),
        "build_resnet": lambda: models.build_resnet(
            (16, 16, 2), stem_filters=4, filters=(4, 8), blocks_per_stage=(1, 1),
            head=head()).predict_on_batch(patches),
        "build_vit": lambda: models.build_vit(
            (16, 16, 2), patch_size=8, hidden_dim=8, num_layers=1, num_heads=2,
            mlp_dim=8, pooling="average", shifted_patch_tokenization=True,
            locality_self_attention=True, head=head()).predict_on_batch(patches),
        "build_encoder": lambda: models.build_encoder(
            channels, declarations, image_size=8, backbone="resnet",
            filters=(4,)).predict_on_batch(patches),
        "build_head": lambda: models.build_head(task)(np.ones((2, 5), "float32")),
        "build_unet": lambda: models.build_unet(
            (8, 8, 2), **unet_kwargs).predict_on_batch(unet_inputs),
        "build_cvae": lambda: [
            part.predict_on_batch(inputs) for part, inputs in zip(
                models.build_cvae((8, 8, 2), latent_dim=4, widths=(8,),
                                  embedding_dim=8),
                ([unet_inputs[0], unet_inputs[2]],
                 [np.zeros((2, 4), "float32"), unet_inputs[2]]))
        ][-1],
        # "video_swin" is keras-cv's, which imports TensorFlow; only the
        # factorised transformer is flarekit's own.
        "build_video_transformer": lambda: models.build_video_transformer(
            (4, 16, 16, 2), tubelet_size=(2, 8, 8), hidden_dim=8, num_layers=1,
            num_heads=2, mlp_dim=8, head=head()).predict_on_batch(clip),
        "build_frame_baseline": lambda: models.build_frame_baseline(
            (4, 16, 16, 2), filters=(4,), dense_units=4, head=head()).predict_on_batch(
            clip),
        "build_projection_head": lambda: training.build_projection_head(8, 8, 4)(
            np.ones((2, 8), "float32")),
    }
    public = {n for n in models.__all__ if n.startswith("build_")}
    public |= {n for n in training.__all__ if n.startswith("build_")}
    missing = sorted(public - set(builders))
    assert not missing, f"builders without a portability case: {missing}"
    for name in sorted(builders):
        output = builders[name]()
        for value in output if isinstance(output, (list, tuple)) else [output]:
            finite(value)
        report["builders"].append(name)
        lap(name)

    # Every layer class of flarekit.layers, called (augmentations in training
    # mode), and the preprocessing chains and their inverse.
    floors, signed = layers.channel_log_scaling(channels, declarations)
    layer_cases = {
        "DiskMask": lambda: layers.DiskMask(radius_fraction=0.9),
        "LogScaling": lambda: layers.LogScaling(floors=floors, signed=signed),
        "ChannelNormalization": lambda: layers.ChannelNormalization(
            mean=[0.5, 1.0], std=[2.0, 0.5]),
        "RandomResizedCrop": lambda: layers.RandomResizedCrop(seed=1),
        "LogIntensityJitter": lambda: layers.LogIntensityJitter(
            floors=floors, signed=signed, seed=1),
        "HemisphereFlip": lambda: layers.HemisphereFlip(
            signed=signed, rate=1.0, seed=1),
    }
    classes = {
        n for n in layers.__all__
        if isinstance(getattr(layers, n), type)
        and issubclass(getattr(layers, n), keras.layers.Layer)
    }
    missing = sorted(classes - set(layer_cases))
    assert not missing, f"layers without a portability case: {missing}"
    for name in sorted(layer_cases):
        finite(layer_cases[name]()(patches, training=True))
        report["layers"].append(name)
    # Rotations leave NaN ("no data") in the corners they uncover, by design.
    augmented = ops.convert_to_numpy(layers.build_augmenter(
        channels, declarations, flip="hemisphere", seed=2)(patches, training=True))
    assert augmented.shape == patches.shape and np.isfinite(augmented).any()
    lap("layers")
    chain = layers.generation_preprocessing(channels, declarations, bin_factor=2)
    x = patches
    for layer in chain:
        x = layer(x)
    back = finite(layers.invert_preprocessing(chain, x))
    np.testing.assert_allclose(back, layers.bin_pixels(patches, 2), rtol=1e-4)
    report["layers"] += ["build_augmenter", "generation_preprocessing"]

    # Every registered sampler (whatever flarekit.diffusion lists now): its
    # steps against the values TensorFlow computed from the same inputs.
    reference = np.load(folder / "reference.npz")
    steps = settings["sampler_steps"]
    for name in diffusion.sampler_names():
        sampler = diffusion.get_sampler(name, "cosine", "velocity")
        times = sampler.timesteps(steps)
        x = ops.convert_to_tensor(reference["sampler_x"])
        state = sampler.initial_state(x)
        for index in range(steps):
            noise = reference["sampler_noise"][index] if sampler.stochastic else None
            x, state = sampler.step(
                ops.convert_to_tensor(reference["sampler_prediction"][index]),
                times[index], times[index + 1], x, state, noise)
        expected = reference.get(f"step_{name}")
        assert expected is not None, f"sampler {name} has no TensorFlow reference"
        difference = float(np.max(np.abs(finite(x) - expected)))
        assert difference <= 1e-4, f"sampler {name}: max |jax - tf| {difference}"
        report["samplers"][name] = difference
    lap("samplers")

    # The compiled sampling loop (jax.jit) of a DiffusionModel, once.
    model = training.DiffusionModel(
        models.build_unet((8, 8, 2), **unet_kwargs), ema_decay=0.9)
    finite(model.generate(np.array([1, 5]), sampler=diffusion.sampler_names()[0],
                          num_steps=2, physical=False))
    lap("generate")

    # Checkpoints saved under TensorFlow.
    for name in ("cnn", "vit", "unet"):
        loaded = keras.models.load_model(folder / f"{name}.keras")
        inputs = [reference[k] for k in sorted(reference.files)
                  if k.startswith(f"{name}_input_")]
        difference = float(np.max(np.abs(
            finite(loaded.predict_on_batch(inputs)) - reference[f"{name}_output"])))
        assert difference <= 1e-4, f"checkpoint {name}: max |jax - tf| {difference}"
        report["checkpoints"][name] = difference
    lap("checkpoints")

    report["tensorflow_imported"] = "tensorflow" in sys.modules
    report["seconds"] = time.perf_counter() - started
    print("PORTABILITY " + json.dumps(report))
    """
)


@pytest.mark.slow  # ~140 s at load 5.5 on 2 cores; most of it JAX compiling
def test_models_layers_samplers_and_checkpoints_run_on_jax(tmp_path):
    _save_reference(tmp_path)
    (tmp_path / "settings.json").write_text(
        json.dumps(
            {
                "channels": list(CHANNELS),
                "declarations": DECLARATIONS,
                "unet": UNET,
                "sampler_steps": SAMPLER_STEPS,
            }
        )
    )
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    completed = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, (
        completed.stdout[-3000:] + completed.stderr[-5000:]
    )
    line = next(
        text
        for text in completed.stdout.splitlines()
        if text.startswith("PORTABILITY ")
    )
    report = json.loads(line[len("PORTABILITY ") :])
    # TensorFlow must not be needed: a JAX machine may not have it.
    assert report["tensorflow_imported"] is False, report
    assert "build_unet" in report["builders"] and "LogScaling" in report["layers"]
    assert set(report["checkpoints"]) == {"cnn", "vit", "unet"}
    assert report["samplers"], "flarekit.diffusion lists no sampler"
