"""Encoders: networks from raw solar images to feature vectors.

An encoder is what self-supervised pretraining learns and what transfer
reuses. Its layers, in order:

    image (raw physical values, any height and width)
      -> Resizing to `image_size` (so full-disk images and patches of any
         size share one network)
      -> DiskMask -> LogScaling -> ChannelNormalization (flarekit.layers)
      -> "backbone": a nested model, the baseline CNN or a small ResNet
      -> pooled features [B, D]

Because preprocessing is inside, a saved `.keras` encoder takes the same raw
images as the dataset holds, and `load_encoder(path)` is all a user needs to
extract features. The backbone is one nested layer named "backbone", so
freezing it for the first epochs of fine-tuning is one line
(`set_backbone_trainable`), and the normalisation statistics stay top-level
layers that `Experiment.adapt_normalization` re-fits on the training split.

Example:
    >>> channels = ("magnetogram", "euv_171")
    >>> encoder = build_encoder(
    ...     channels, synthetic.channel_declarations(channels), image_size=64)
    >>> encoder.save("encoder.keras")
    >>> features = load_encoder("encoder.keras")(images)
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from flarekit.layers import ChannelNormalization, preprocessing_for
from flarekit.models.cnn import build_cnn
from flarekit.models.resnet import build_resnet

BACKBONES = ("cnn", "resnet")
BACKBONE_NAME = "backbone"


def build_backbone(
    input_shape,
    backbone: str = "cnn",
    filters=(16, 32, 64),
    blocks_per_stage=(),
    stem_filters: int = 16,
) -> keras.Model:
    """The feature network of an encoder, from normalised images to features.

    Args:
        input_shape: (height, width, channels) after resizing.
        backbone: "cnn" (`build_cnn` without head, dense layer or dropout:
            the pooled features of the baseline CNN) or "resnet"
            (`build_resnet`).
        filters: filters per block (cnn) or stage (resnet).
        blocks_per_stage: residual blocks per stage (resnet; () = one each).
        stem_filters: filters of the ResNet stem.

    Returns:
        A `keras.Model` named "backbone".

    Raises:
        ValueError: an unknown backbone name.
    """
    if backbone == "cnn":
        return build_cnn(
            input_shape, filters=filters, dense_units=0, dropout=0.0, name=BACKBONE_NAME
        )
    if backbone == "resnet":
        return build_resnet(
            input_shape,
            stem_filters=stem_filters,
            filters=filters,
            blocks_per_stage=tuple(blocks_per_stage) or (1,) * len(tuple(filters)),
            name=BACKBONE_NAME,
        )
    raise ValueError(f"Unknown backbone {backbone!r}; expected one of {BACKBONES}.")


def build_encoder(
    channels,
    declarations,
    image_size: int = 64,
    backbone: str = "cnn",
    filters=(16, 32, 64),
    blocks_per_stage=(),
    stem_filters: int = 16,
    radius_fraction: float | None = None,
    name: str = "encoder",
) -> keras.Model:
    """An encoder from raw images (any size) to pooled features.

    Args:
        channels: channel names in input order.
        declarations: mapping channel name -> {"unit", "kind", "floor"}, the
            dataset's channel declarations (they choose the log scaling).
        image_size: side the images are resized to before the backbone.
        backbone, filters, blocks_per_stage, stem_filters: see `build_backbone`.
        radius_fraction: `DiskMask` radius for full-disk images; None (the
            default) masks only non-finite pixels, which also suits crops and
            rotations of the disk and active-region patches.
        name: model name.

    Returns:
        A functional `keras.Model` [B, H, W, C] -> [B, D]; its normalisation
        layer must be adapted on training images before use.

    Raises:
        ValueError: no channels, a channel without a valid declaration, a bad
            image size or an unknown backbone.

    Example:
        >>> encoder = build_encoder(
        ...     ("magnetogram",), synthetic.channel_declarations(("magnetogram",)),
        ...     image_size=32, backbone="resnet")
    """
    channels = tuple(channels)
    if not channels:
        raise ValueError("build_encoder needs the channel names of the input.")
    if int(image_size) < 4:
        raise ValueError(f"image_size must be >= 4, got {image_size!r}.")
    size = int(image_size)
    inputs = keras.Input(shape=(None, None, len(channels)), name="image")
    x = layers.Resizing(
        size, size, interpolation="bilinear", antialias=True, name="resize"
    )(inputs)
    for layer in preprocessing_for(
        channels, declarations, radius_fraction=radius_fraction
    ):
        x = layer(x)
    network = build_backbone(
        (size, size, len(channels)), backbone, filters, blocks_per_stage, stem_filters
    )
    return keras.Model(inputs, network(x), name=name)


def attach_head(
    encoder: keras.Model,
    head,
    dropout: float = 0.0,
    normalize_features: bool = False,
    zero_init_head: bool = False,
    name: str = "classifier",
):
    """A model that runs `encoder` then `head`, sharing the encoder's layers.

    The new model extends the encoder's own graph (no nesting), so its
    normalisation layers stay reachable from the model's input.

    Args:
        encoder: a functional encoder (built or loaded).
        head: the output layer, e.g. `build_head(task)`.
        dropout: dropout rate on the features before the head.
        normalize_features: standardise each feature with training-set
            statistics (a `ChannelNormalization` named "feature_normalization",
            adapted with the input normalisation). Pretrained features can have
            any scale; a fresh head on unscaled features starts far from a
            useful solution and learns slowly while the backbone is frozen.
        zero_init_head: start the head's kernel at zero, so that its first
            output does not depend on the features and its first steps move
            it along the gradient instead of away from a random direction:
            with a frozen backbone and few labels, a random head's ranking
            can stay inverted for many steps.
        name: model name.

    Returns:
        A functional `keras.Model` from raw images to the head's output.
    """
    features = encoder.outputs[0]
    if normalize_features:
        # ignore_value=None: a ReLU feature of 0 is a value, not missing data.
        normalization = ChannelNormalization(
            ignore_value=None, name="feature_normalization"
        )
        features = normalization(features)
    if dropout:
        features = layers.Dropout(dropout, name="feature_dropout")(features)
    outputs = head(features)
    if zero_init_head:
        head.kernel.assign(keras.ops.zeros_like(head.kernel))
    return keras.Model(encoder.inputs, outputs, name=name)


def set_backbone_trainable(model: keras.Model, trainable: bool) -> None:
    """Freeze or unfreeze the nested "backbone" of an encoder or classifier.

    A frozen backbone's batch-norm layers also run in inference mode (Keras 3),
    so the pretrained statistics are kept while the head learns.

    Raises:
        ValueError: the model has no layer named "backbone".
    """
    try:
        model.get_layer(BACKBONE_NAME).trainable = bool(trainable)
    except ValueError:
        raise ValueError(
            f"Model {model.name!r} has no layer {BACKBONE_NAME!r}; layers are "
            f"{[layer.name for layer in model.layers]}."
        ) from None


def recalibrate_batch_norm(model: keras.Model, images) -> int:
    """Re-estimate every batch-norm layer's moving statistics on `images` (AdaBN).

    A pretrained backbone's moving means and variances describe its
    pretraining images; on another kind of image (full-disk pretraining,
    active-region fine-tuning) they are wrong, and a frozen backbone, which
    runs batch norm in inference mode, would keep them wrong. One forward pass
    in training mode with momentum 0 replaces them by the statistics of
    `images`, layer after layer. Weights are not changed; the layers'
    trainable flags and momenta are restored.

    Args:
        model: a model holding BatchNormalization layers (nested ones too).
        images: one batch of unlabelled training images (a few hundred).

    Returns:
        The number of batch-norm layers recalibrated.

    Reference:
        Li, Y., Wang, N., Shi, J., Liu, J., Hou, X. 2016, "Revisiting Batch
        Normalization For Practical Domain Adaptation", arXiv:1603.04779.
    """
    norms = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, layers.BatchNormalization)
    ]
    saved = [(layer.momentum, layer.trainable) for layer in norms]
    frozen = [layer for layer in model._flatten_layers() if not layer.trainable]
    for layer in frozen:
        layer.trainable = True
    for layer in norms:
        layer.momentum = 0.0
    try:
        model(images, training=True)
    finally:
        for layer, (momentum, _) in zip(norms, saved):
            layer.momentum = momentum
        for layer in frozen:
            layer.trainable = False
    return len(norms)


def load_encoder(path, trainable: bool = False) -> keras.Model:
    """Load a saved `.keras` encoder as a feature extractor, in one call.

    Args:
        path: the `.keras` file (e.g. `<run>/encoder.keras` of a SimCLR run).
        trainable: leave the weights trainable (fine-tuning) instead of frozen.

    Returns:
        The encoder: raw images [B, H, W, C] -> features [B, D].

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds a model whose output is not [B, D].

    Example:
        >>> encoder = load_encoder("runs/ssl/simclr_pretrain/<time>/encoder.keras")
        >>> features = encoder.predict(images)
    """
    import flarekit.layers  # noqa: F401  (registers flarekit's layers for loading)

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved encoder at {path}.")
    model = keras.models.load_model(path, compile=False)
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        raise ValueError(
            f"{path} holds model {model.name!r} with outputs "
            f"{[tuple(o.shape) for o in model.outputs]}; an encoder outputs [B, D]."
        )
    model.trainable = bool(trainable)
    return model
