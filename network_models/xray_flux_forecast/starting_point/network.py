"""Binary >= M1.0 within 24 h from active-region patches: the baseline CNN.

Run: python network_models/xray_flux_forecast/starting_point/network.py [--smoke]
"""

import keras

from flarekit import experiments, layers, models
from flarekit.data import pipeline, tasks


def build_network(config):
    declarations = pipeline.channel_declarations(
        config.dataset, config.channels, config.data_dir
    )
    task = tasks.from_config(config, config.channels)
    augment = []
    if config.flip == "hemisphere":
        # Training only: a north-south mirror with magnetogram polarity
        # inverted keeps Hale's and Joy's laws (layers.HemisphereFlip).
        _, signed = layers.channel_log_scaling(config.channels, declarations, config.dataset)
        augment.append(layers.HemisphereFlip(signed=list(signed), seed=config.seed,
                                             name="hemisphere_flip"))
    elif config.flip == "any":  # breaks Hale's and Joy's laws: for ablations
        augment.append(keras.layers.RandomFlip("horizontal_and_vertical", seed=config.seed,
                                               name="random_flip"))
    return models.build_cnn(
        input_shape=(config.image_size, config.image_size, len(config.channels)),
        filters=config.filters,
        dense_units=config.dense_units,
        dropout=config.dropout,
        preprocessing=[
            *augment,
            *layers.preprocessing_for(config.channels, declarations),
            # Binning after normalisation: the statistics are those of the pixels.
            keras.layers.AveragePooling2D(config.bin_factor, name="bin"),
        ],
        head=models.build_head(task),
        name="flare_forecast_cnn",
    )


if __name__ == "__main__":
    experiments.main(__file__)
