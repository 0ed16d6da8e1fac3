""">= M1.0 within 48 h from real 16-frame SHARP magnetogram sequences: a video
transformer, or the single-frame CNN on the same samples (architecture = "frame_cnn").

Run: python network_models/sharp_sequences/binary_m48/network.py [--smoke]
     [--set architecture=video_swin]
"""

from flarekit import experiments, layers, models
from flarekit.data import pipeline, tasks


def build_network(config):
    declarations = pipeline.channel_declarations(
        config.dataset, config.channels, config.data_dir
    )
    task = tasks.from_config(config, config.channels)
    input_shape = (config.frames, config.image_size, config.image_size, len(config.channels))
    preprocessing = layers.preprocessing_for(config.channels, declarations)
    head = models.build_head(task)
    if config.architecture == "frame_cnn":
        return models.build_frame_baseline(
            input_shape, -1, config.filters, config.dense_units, config.cnn_dropout,
            preprocessing=preprocessing, head=head, name="last_frame_cnn",
        )
    return models.build_video_transformer(
        input_shape,
        architecture=config.architecture,
        tubelet_size=config.tubelet_size,
        hidden_dim=config.hidden_dim,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        mlp_dim=config.mlp_dim,
        dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        swin_depths=config.swin_depths,
        swin_num_heads=config.swin_num_heads,
        swin_window_size=config.swin_window_size,
        drop_path_rate=config.drop_path_rate,
        preprocessing=preprocessing,
        head=head,
        name=f"sharp_{config.architecture}",
    )


if __name__ == "__main__":
    experiments.main(__file__)
