"""Network builders: functional Keras models built from explicit arguments."""

from flarekit.models.cnn import build_cnn, build_head
from flarekit.models.cvae import build_cvae
from flarekit.models.encoders import (
    attach_head,
    build_encoder,
    load_encoder,
    recalibrate_batch_norm,
    set_backbone_trainable,
)
from flarekit.models.resnet import build_resnet
from flarekit.models.unet import build_unet
from flarekit.models.video import build_frame_baseline, build_video_transformer
from flarekit.models.vit import build_vit

__all__ = [
    "attach_head",
    "build_cnn",
    "build_cvae",
    "build_encoder",
    "build_frame_baseline",
    "build_head",
    "build_resnet",
    "build_unet",
    "build_video_transformer",
    "build_vit",
    "load_encoder",
    "recalibrate_batch_norm",
    "set_backbone_trainable",
]
