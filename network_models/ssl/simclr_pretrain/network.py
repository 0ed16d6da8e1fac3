"""SimCLR pretraining: the encoder to pretrain (the algorithm is the trainer's).

Run: python network_models/ssl/simclr_pretrain/network.py [--smoke]
"""

from flarekit import experiments, models
from flarekit.data import pipeline


def build_network(config):
    declarations = pipeline.channel_declarations(
        config.dataset, config.channels, config.data_dir
    )
    return models.build_encoder(
        config.channels,
        declarations,
        image_size=config.image_size,
        backbone=config.backbone,
        filters=config.filters,
        blocks_per_stage=config.blocks_per_stage,
    )


if __name__ == "__main__":
    experiments.main(__file__)
