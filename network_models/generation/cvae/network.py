"""Conditional VAE baseline for class-conditional solar image generation.

Run: python network_models/generation/cvae/network.py [--smoke]
"""

from flarekit import experiments, layers, models, training
from flarekit.data import pipeline


def build_network(config):
    declarations = pipeline.channel_declarations(
        config.dataset, config.channels, config.data_dir
    )
    channels = len(config.channels)
    size = config.image_size // config.bin_factor
    encoder, decoder = models.build_cvae(
        (size, size, channels),
        latent_dim=config.latent_dim,
        widths=config.widths,
        condition=config.condition,
        embedding_dim=config.embedding_dim,
    )
    return training.ConditionalVAE(
        encoder,
        decoder,
        input_shape=(config.image_size, config.image_size, channels),
        preprocessing=layers.generation_preprocessing(
            config.channels, declarations, config.bin_factor
        ),
        beta=config.beta,
        condition=config.condition,
        seed=config.seed,
        name="conditional_vae",
    )


if __name__ == "__main__":
    experiments.main(__file__)
