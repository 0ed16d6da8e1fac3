"""Mount Wilson class of active-region patches: a ViT (or the CNN baseline).

Run: python network_models/active_regions/vit/network.py [--smoke]
     [--set architecture=cnn]
"""

from flarekit import experiments, layers, models
from flarekit.data import pipeline, tasks


def build_network(config):
    declarations = pipeline.channel_declarations(
        config.dataset, config.channels, config.data_dir
    )
    task = tasks.feature_class(config.label_feature, config.classes)
    input_shape = (config.image_size, config.image_size, len(config.channels))
    preprocessing = layers.preprocessing_for(config.channels, declarations)
    head = models.build_head(task, name="mount_wilson")
    if config.architecture == "cnn":
        return models.build_cnn(
            input_shape,
            config.filters,
            config.dense_units,
            config.cnn_dropout,
            preprocessing=preprocessing,
            head=head,
            name="mount_wilson_cnn",
        )
    if config.architecture != "vit":
        raise ValueError(
            f"Config key 'architecture' is {config.architecture!r}; "
            "expected vit or cnn."
        )
    return models.build_vit(
        input_shape,
        patch_size=config.patch_size,
        hidden_dim=config.hidden_dim,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        mlp_dim=config.mlp_dim,
        dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        pooling=config.pooling,
        shifted_patch_tokenization=config.shifted_patch_tokenization,
        locality_self_attention=config.locality_self_attention,
        preprocessing=preprocessing,
        head=head,
        name="mount_wilson_vit",
    )


if __name__ == "__main__":
    experiments.main(__file__)
