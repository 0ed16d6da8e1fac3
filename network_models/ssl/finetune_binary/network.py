"""Fine-tuning: a (pretrained) encoder plus a forecast head.

Run: python network_models/ssl/finetune_binary/network.py [--smoke] \
         [--set encoder_path=runs/ssl/simclr_pretrain/<time>/encoder.keras]
"""

from flarekit import experiments, models
from flarekit.data import tasks
from flarekit.experiments import self_supervised


def build_network(config):
    encoder = self_supervised.transfer_encoder(config)
    head = models.build_head(tasks.from_config(config, config.channels))
    return models.attach_head(
        encoder,
        head,
        dropout=config.dropout,
        normalize_features=config.normalize_features,
        zero_init_head=config.zero_init_head,
        name="finetuned_forecaster",
    )


if __name__ == "__main__":
    experiments.main(__file__)
