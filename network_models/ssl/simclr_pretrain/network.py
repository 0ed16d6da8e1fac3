"""SimCLR pretraining: the encoder to pretrain (the algorithm is the trainer's).

Run: python network_models/ssl/simclr_pretrain/network.py [--smoke]
"""

from flarekit import experiment, models


def build_network(config):
    return models.build_encoder(
        config.channels,
        image_size=config.image_size,
        backbone=config.backbone,
        filters=config.filters,
        blocks_per_stage=config.blocks_per_stage,
    )


if __name__ == "__main__":
    experiment.run(__file__)
