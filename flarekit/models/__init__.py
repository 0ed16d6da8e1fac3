"""Network builders: functional Keras models built from explicit arguments."""

from flarekit.models.cnn import build_cnn, build_head

__all__ = ["build_cnn", "build_head"]
