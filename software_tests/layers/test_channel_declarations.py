"""Datasets declare their channels (unit, signed or positive, floor), and the
preprocessing layers log-scale each channel by its declaration, not its name."""

import keras
import numpy as np
import pytest

from flarekit.data import pipeline, synthetic
from flarekit.layers import (
    CHANNEL_KINDS,
    LogScaling,
    channel_log_scaling,
    preprocessing_for,
)

# One config of each builder; declarations come from `_info`, so nothing is
# generated or read from an archive.
DATASETS = (
    "synthetic_sun/active_region",
    "sdoml/v1",
    "sdoml/v1_smoke",
    "sdo_benchmark/last_step",
    "sharp_sequences/m24_fold0",
)


def _declared_channels(name, data_dir):
    builder = _builder(name, data_dir)
    metadata = builder.info.metadata
    if "channels" in metadata:
        return list(metadata["channels"])
    return list(builder.builder_config.sun_config().channels)


def _builder(name, data_dir):
    import tensorflow_datasets as tfds

    pipeline.register_builder(name)
    return tfds.builder(name, data_dir=str(data_dir))


@pytest.mark.parametrize("name", DATASETS)
def test_every_builder_declares_every_channel_it_writes(name, tmp_path):
    channels = _declared_channels(name, tmp_path)
    declarations = pipeline.channel_declarations(name, data_dir=str(tmp_path))
    assert list(declarations) == channels
    for channel, declaration in declarations.items():
        assert declaration["kind"] in CHANNEL_KINDS, (name, channel)
        assert declaration["floor"] > 0 and declaration["unit"], (name, channel)
    floors, signed = channel_log_scaling(channels, declarations, name)
    assert len(floors) == len(signed) == len(channels)


def test_magnetic_fields_are_signed_and_intensities_positive(tmp_path):
    sdoml = pipeline.channel_declarations("sdoml/v1", data_dir=str(tmp_path))
    assert {name for name, d in sdoml.items() if d["kind"] == "signed"} == {
        "hmi_bx",
        "hmi_by",
        "hmi_bz",
    }
    assert sdoml["hmi_bz"]["unit"] == "G" and sdoml["aia_171"]["unit"] == "DN/s"
    sun = synthetic.channel_declarations()
    assert [d["kind"] for d in sun.values()] == [
        "signed",
        "positive",
        "positive",
        "positive",
    ]
    # A JPEG rendering of a magnetogram is brightness (mid-grey is zero field),
    # not a signed field.
    sharp = pipeline.channel_declarations(
        "sharp_sequences/m24_fold0", data_dir=str(tmp_path)
    )
    assert sharp["magnetogram_jpeg"]["kind"] == "positive"


def test_hmi_bz_keeps_its_sign_through_preprocessing(tmp_path):
    channels = ("aia_171", "aia_193", "hmi_bz")
    declarations = pipeline.channel_declarations(
        "sdoml/v1_smoke", channels, data_dir=str(tmp_path)
    )
    mask, log_scaling, normalization = preprocessing_for(
        channels, declarations, dataset="sdoml/v1_smoke"
    )
    bz = np.array([-1500.0, -200.0, -20.0, 20.0, 200.0, 1500.0], "float32")
    images = np.ones((1, 1, bz.size, 3), "float32") * 300.0
    images[..., 2] = bz
    images[0, 0, 0, 0] = np.nan  # off-limb NaN in another channel
    scaled = keras.ops.convert_to_numpy(log_scaling(mask(images)))[0, 0, :, 2]
    # sign(B) log10(1 + |B| / 10 G): opposite polarities are mirror images.
    np.testing.assert_allclose(
        scaled, np.sign(bz) * np.log10(1 + np.abs(bz) / 10.0), rtol=1e-6
    )
    assert np.all(np.sign(scaled) == np.sign(bz))
    normalization.adapt([keras.ops.convert_to_numpy(log_scaling(mask(images)))])
    out = keras.ops.convert_to_numpy(normalization(log_scaling(mask(images))))[
        0, 0, :, 2
    ]
    # Normalisation is affine with a positive scale: the order of field values,
    # and so negative against positive polarity, survives it.
    assert np.all(np.diff(out) > 0)
    np.testing.assert_allclose(out[:3], -out[:2:-1], atol=1e-5)


def test_a_channel_missing_from_the_declaration_names_dataset_and_channel(tmp_path):
    with pytest.raises(ValueError, match=r"sdoml/v1_smoke.*'hmi_bx'"):
        pipeline.channel_declarations(
            "sdoml/v1_smoke", ("aia_171", "hmi_bx"), data_dir=str(tmp_path)
        )
    declarations = synthetic.channel_declarations(("magnetogram",))
    with pytest.raises(ValueError, match=r"Dataset my_dataset: channel 'hmi_bz'"):
        preprocessing_for(["magnetogram", "hmi_bz"], declarations, dataset="my_dataset")
    with pytest.raises(ValueError, match="channel 'euv_94' is not declared"):
        channel_log_scaling(["euv_94"], declarations)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("kind", "linear", "'kind' 'linear'"),
        ("floor", 0.0, "'floor' 0.0"),
        ("floor", "10", "'floor' '10'"),
        ("unit", "", "'unit' ''"),
    ],
)
def test_a_bad_declaration_names_the_field(field, value, message):
    declaration = {"unit": "G", "kind": "signed", "floor": 10.0, field: value}
    with pytest.raises(ValueError, match=f"sdoml/v1: channel 'hmi_bz' has {message}"):
        channel_log_scaling(["hmi_bz"], {"hmi_bz": declaration}, "sdoml/v1")


def test_prepared_dataset_keeps_its_declarations(smoke_builder):
    metadata = smoke_builder.info.metadata
    assert metadata["channel_declarations"] == synthetic.channel_declarations(
        metadata["channels"]
    )
    assert pipeline.channel_declarations(smoke_builder, ("euv_94",)) == {
        "euv_94": {"unit": "DN/s", "kind": "positive", "floor": 1.0}
    }


def test_layer_config_of_older_saved_models_still_loads():
    # What a LogScaling in a .keras file saved before declarations holds.
    layer = LogScaling.from_config(
        {
            "name": "log_scaling",
            "dtype": "float32",
            "floors": [10.0, 1.0],
            "signed": [True, False],
        }
    )
    out = keras.ops.convert_to_numpy(layer(np.array([[[[-90.0, 100.0]]]], "float32")))
    np.testing.assert_allclose(out[0, 0, 0], [-1.0, 2.0], rtol=1e-6)
