"""A class-conditional diffusion model (UNet + DDPM training + guided sampling).

Run: python network_models/generation/conditional_diffusion/network.py [--smoke]
Sample: flarekit sample --run runs/generation/conditional_diffusion/<time> \
            --goes-class M --n 16 --sampler dpmpp --steps 20 --out samples_m
"""

from flarekit import experiments, layers, models, training
from flarekit.data import pipeline


def build_network(config):
    declarations = pipeline.channel_declarations(
        config.dataset, config.channels, config.data_dir
    )
    channels = len(config.channels)
    size = config.image_size // config.bin_factor
    unet = models.build_unet(
        (size, size, channels),
        widths=config.widths,
        blocks_per_level=config.blocks_per_level,
        attention_resolution=config.attention_resolution,
        condition=config.condition,
        embedding_dim=config.embedding_dim,
        dropout=config.dropout,
        name="unet",
    )
    return training.DiffusionModel(
        unet,
        input_shape=(config.image_size, config.image_size, channels),
        preprocessing=layers.generation_preprocessing(
            config.channels, declarations, config.bin_factor
        ),
        schedule=config.schedule,
        prediction_type=config.prediction_type,
        p_uncond=config.p_uncond,
        ema_decay=config.ema_decay,
        condition=config.condition,
        seed=config.seed,
        name="conditional_diffusion",
    )


if __name__ == "__main__":
    experiments.main(__file__)
