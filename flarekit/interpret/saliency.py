"""Saliency maps: which pixels a forecast depends on.

Four methods, for the two families of flarekit networks:

- vanilla gradients (Simonyan et al. 2014): |d output / d input|, the largest
  over channels, per pixel;
- integrated gradients (Sundararajan et al. 2017): the gradient averaged
  along the straight path from a baseline to the input, times (input -
  baseline); the attributions of a sample sum to f(input) - f(baseline)
  ("completeness"), which the tests pin;
- Grad-CAM (Selvaraju et al. 2017) for CNNs: the last `Conv2D` layer's
  feature maps weighted by the spatial mean of their gradients, ReLU,
  upsampled to the input;
- attention rollout (Abnar & Zuidema 2020) for the ViT, from
  `flarekit.interpret.attention.vit_attention_maps` (not re-implemented here).

Gradients are taken with respect to the *normalised* input: the output of the
model's leading preprocessing layers (`DiskMask`, `LogScaling`,
`ChannelNormalization`). Raw channels are in different units (Gauss, DN/s), so
a gradient with respect to them mixes a unit change into the map; after
normalisation every channel is unitless and standardised. The
integrated-gradients baseline is the zero of the normalised input, i.e. the
training-set mean of each channel (zero of the log-scaled input when a model
has no `ChannelNormalization`).

Backend: the arithmetic uses `keras.ops` and numpy; the gradients themselves
use TensorFlow's `tf.GradientTape`, so vanilla gradients, integrated gradients
and Grad-CAM need the TensorFlow backend and raise `NotImplementedError`
elsewhere. Attention rollout needs no gradient and runs on any backend.

Which class is explained: a binary or regression model's single output; for
a multiclass model the predicted class of each sample unless `class_index` is
given.

`explain_run` writes a run folder's figures (`figures/saliency.png`) and a
table of the samples explained (`explanations.csv`). `flare_region_masks`,
`saliency_share` and `full_disk_sanity` are the sanity measurement: on a
synthetic full-disk image the generator knows which region carries the flare
probability; a saliency map that explains a flare forecast should put more of
its mass there than that region's share of the image area.
`build_reference_forecaster` is a hand-built forecaster whose evidence is
known (strong mixed polarity), to check the methods themselves;
`tools/saliency_sanity.py` measures trained full-disk runs the same way.

References:
    Simonyan, K., Vedaldi, A., Zisserman, A. 2014, ICLR workshop, "Deep Inside
    Convolutional Networks" (vanilla gradients).
    Sundararajan, M., Taly, A., Yan, Q. 2017, ICML, "Axiomatic Attribution for
    Deep Networks" (integrated gradients).
    Selvaraju, R. R. et al. 2017, ICCV, "Grad-CAM".
    Abnar, S. & Zuidema, W. 2020, ACL, "Quantifying Attention Flow in
    Transformers" (attention rollout).

Example:
    >>> maps = saliency_maps(model, images, "integrated_gradients")
    >>> maps.shape  # [B, H, W], each map scaled to max 1
    (8, 32, 32)
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path

import numpy as np

from flarekit.io import save_figure, write_csv_atomic

METHODS = ("vanilla_gradients", "integrated_gradients", "grad_cam", "attention_rollout")
METHOD_TITLES = {
    "vanilla_gradients": "vanilla gradients",
    "integrated_gradients": "integrated gradients",
    "grad_cam": "Grad-CAM",
    "attention_rollout": "attention rollout",
}


# ------------------------------------------------------------ structure ---

# Sub-models built on a model's graph (preprocessing split, Grad-CAM probe),
# kept while the model lives: building them costs more than a forecast, and a
# server explains many inputs with one model.
_SUBMODELS = weakref.WeakKeyDictionary()


def _preprocessing_classes() -> tuple:
    import keras

    from flarekit.layers import ChannelNormalization, DiskMask, HemisphereFlip, LogScaling

    # The flips augment in training only: identities when forecasting.
    return (HemisphereFlip, keras.layers.RandomFlip, DiskMask, LogScaling,
            ChannelNormalization)


def split_preprocessing(model):
    """(preprocess, network): the model's leading preprocessing layers, and the rest.

    The leading preprocessing layers are the `DiskMask`, `LogScaling` and
    `ChannelNormalization` layers directly after the input, in a chain, with
    any training-only flip before them (`HemisphereFlip`, keras `RandomFlip`:
    identities when forecasting). A
    model without them gives `preprocess=None` and `network=model`.

    Args:
        model: a functional Keras model with one image input.

    Returns:
        (preprocess, network): two functional models (preprocess may be None),
        with network(preprocess(x)) == model(x).
    """
    import keras

    cached = _SUBMODELS.get(model, {}).get("split")
    if cached is not None:
        return cached
    classes = _preprocessing_classes()
    last = None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if not isinstance(layer, classes):
            break
        last = layer
    if last is None:
        split = (None, model)
    else:
        split = (
            keras.Model(model.input, last.output, name=f"{model.name}_preprocess"),
            keras.Model(last.output, model.output, name=f"{model.name}_network"),
        )
    _SUBMODELS.setdefault(model, {})["split"] = split
    return split


def last_conv_layer(model):
    """The last `keras.layers.Conv2D` of a model (by type, in graph order).

    Raises:
        ValueError: the model has no Conv2D layer (e.g. a ViT), naming its
            layer types.
    """
    import keras

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        kinds = sorted({type(layer).__name__ for layer in model.layers})
        raise ValueError(
            f"Grad-CAM needs a Conv2D layer; model {model.name!r} has none (its "
            f"layer types: {kinds}). Use attention_rollout for a ViT."
        )
    return convs[-1]


def is_vit(model) -> bool:
    """True for a model built by `flarekit.models.build_vit`."""
    from flarekit.models.vit import TransformerBlock

    return any(isinstance(layer, TransformerBlock) for layer in model.layers)


def available_methods(model) -> tuple:
    """The saliency methods that apply to `model`, in `METHODS` order.

    Gradient methods need the TensorFlow backend; Grad-CAM a Conv2D layer;
    attention rollout a flarekit ViT.
    """
    import keras

    methods = []
    if keras.backend.backend() == "tensorflow":
        methods += ["vanilla_gradients", "integrated_gradients"]
        try:
            last_conv_layer(model)
            methods.append("grad_cam")
        except ValueError:
            pass
    if is_vit(model):
        methods.append("attention_rollout")
    return tuple(methods)


# ------------------------------------------------------------ gradients ---


def _require_tensorflow(method: str) -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            f"{method} takes gradients with tf.GradientTape and needs the TensorFlow "
            f"backend; KERAS_BACKEND is {keras.backend.backend()!r}. Attention "
            "rollout works on any backend."
        )


def _class_indices(outputs, class_index) -> np.ndarray:
    """Which output column is explained for each sample."""
    outputs = np.asarray(outputs)
    count = outputs.shape[-1] if outputs.ndim > 1 else 1
    if class_index is None:
        if count == 1:
            return np.zeros(len(outputs), dtype=np.int64)
        return np.argmax(outputs, axis=-1).astype(np.int64)
    indices = np.broadcast_to(np.asarray(class_index, dtype=np.int64), (len(outputs),))
    if np.any(indices < 0) or np.any(indices >= count):
        raise ValueError(
            f"class_index {class_index!r} is out of range for a model with {count} "
            "outputs."
        )
    return indices.copy()


def _selected(outputs, indices):
    from keras import ops

    outputs = ops.reshape(ops.cast(outputs, "float32"), (ops.shape(outputs)[0], -1))
    picked = ops.take_along_axis(
        outputs, ops.convert_to_tensor(indices[:, None]), axis=1
    )
    return ops.sum(picked)


def _gradient(network, inputs, indices) -> np.ndarray:
    """d network(inputs)[i, indices[i]] / d inputs, as numpy (TensorFlow tape)."""
    import tensorflow as tf

    inputs = tf.convert_to_tensor(np.asarray(inputs, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        score = _selected(network(inputs, training=False), indices)
    return tape.gradient(score, inputs).numpy()


def _normalised_inputs(model, images):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be [B, H, W, C], got shape {images.shape}.")
    preprocess, network = split_preprocessing(model)
    inputs = (
        images if preprocess is None else np.asarray(preprocess(images, training=False))
    )
    return network, inputs


def gradients(model, images, class_index=None, batch_size: int = 32) -> np.ndarray:
    """Gradients of the explained output with respect to the normalised input.

    Args:
        model: a flarekit model (raw images in, forecast out).
        images: [B, H, W, C] raw inputs as the model takes them.
        class_index: output column to explain (None: the only output, or the
            predicted class of each sample).
        batch_size: images per gradient pass.

    Returns:
        float32 [B, H, W, C].

    Raises:
        NotImplementedError: a backend other than TensorFlow.
    """
    _require_tensorflow("vanilla_gradients")
    network, inputs = _normalised_inputs(model, images)
    results = []
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start : start + batch_size]
        indices = _class_indices(network(batch, training=False), class_index)
        results.append(_gradient(network, batch, indices))
    return np.concatenate(results).astype(np.float32)


def integrated_gradients(
    model, images, steps: int = 32, class_index=None, batch_size: int = 64
) -> np.ndarray:
    """Integrated-gradients attributions on the normalised input.

    The path integral from the baseline (normalised zero: the training mean of
    each channel) to the input is the trapezoid rule over `steps` intervals,
    so the attributions of a sample sum to f(x) - f(baseline) up to the
    quadrature error (Sundararajan et al. 2017, "completeness").

    Args:
        model: a flarekit model.
        images: [B, H, W, C] raw inputs.
        steps: intervals of the path; 32 is enough for the small networks
            here (completeness within a few per cent); more for deep ones.
        class_index: output column to explain (None: the only output, or the
            predicted class at the input).
        batch_size: points of a path per gradient pass.

    Returns:
        float32 [B, H, W, C] attributions.

    Raises:
        ValueError: steps < 1.
        NotImplementedError: a backend other than TensorFlow.

    Example:
        >>> attributions = integrated_gradients(model, images[:2], steps=32)
    """
    _require_tensorflow("integrated_gradients")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}.")
    network, inputs = _normalised_inputs(model, images)
    alphas = np.linspace(0.0, 1.0, int(steps) + 1, dtype=np.float32)
    weights = np.full(len(alphas), 1.0 / steps, dtype=np.float32)
    weights[[0, -1]] *= 0.5  # trapezoid rule
    results = []
    for sample in inputs:
        indices = _class_indices(network(sample[None], training=False), class_index)
        # All points of the path go through the network together, in chunks.
        path = alphas[:, None, None, None] * sample[None]
        total = np.zeros_like(sample)
        for start in range(0, len(path), batch_size):
            chunk = path[start : start + batch_size]
            grads = _gradient(network, chunk, np.repeat(indices, len(chunk)))
            total += np.tensordot(weights[start : start + batch_size], grads, axes=1)
        results.append(sample * total)
    return np.stack(results).astype(np.float32)


def grad_cam(
    model, images, layer_name: str | None = None, class_index=None, batch_size: int = 32
) -> np.ndarray:
    """Grad-CAM maps of a CNN, upsampled (bilinear) to the input size.

    Args:
        model: a model with a Conv2D layer (e.g. from `build_cnn`).
        images: [B, H, W, C] raw inputs.
        layer_name: the convolution to use; None takes the last `Conv2D` by
            type (`last_conv_layer`).
        class_index: output column to explain.
        batch_size: images per pass.

    Returns:
        float32 [B, H, W], non-negative (the ReLU of Grad-CAM).

    Raises:
        ValueError: no Conv2D layer.
        NotImplementedError: a backend other than TensorFlow.
    """
    import keras
    import tensorflow as tf
    from keras import ops

    _require_tensorflow("grad_cam")
    images = np.asarray(images, dtype=np.float32)
    layer = model.get_layer(layer_name) if layer_name else last_conv_layer(model)
    probes = _SUBMODELS.setdefault(model, {})
    if ("grad_cam", layer.name) not in probes:
        probes["grad_cam", layer.name] = keras.Model(
            model.input, [layer.output, model.output]
        )
    probe = probes["grad_cam", layer.name]
    results = []
    for start in range(0, len(images), batch_size):
        batch = tf.convert_to_tensor(images[start : start + batch_size])
        with tf.GradientTape() as tape:
            features, outputs = probe(batch, training=False)
            indices = _class_indices(ops.convert_to_numpy(outputs), class_index)
            score = _selected(outputs, indices)
        grads = tape.gradient(score, features)
        features = ops.cast(features, "float32")
        weights = ops.mean(ops.cast(grads, "float32"), axis=(1, 2), keepdims=True)
        cam = ops.relu(ops.sum(weights * features, axis=-1, keepdims=True))
        cam = ops.image.resize(cam, images.shape[1:3], interpolation="bilinear")
        results.append(ops.convert_to_numpy(cam)[..., 0])
    return np.maximum(np.concatenate(results), 0.0).astype(np.float32)


def attention_rollout(model, images, batch_size: int = 32) -> np.ndarray:
    """Attention rollout of a flarekit ViT, on the input grid.

    Calls `flarekit.interpret.attention.vit_attention_maps` (the patch-grid maps) and
    repeats each patch's value over its pixels.

    Returns:
        float32 [B, H, W] in [0, 1].

    Raises:
        ValueError: not a flarekit ViT.
    """
    from flarekit.interpret import attention

    images = np.asarray(images, dtype=np.float32)
    grid = attention.vit_attention_maps(model, images, batch_size=batch_size)
    height, width = images.shape[1:3]
    rows, columns = grid.shape[1:]
    if height % rows or width % columns:
        raise ValueError(
            f"Patch grid {rows}x{columns} does not tile the {height}x{width} input."
        )
    maps = np.repeat(np.repeat(grid, height // rows, axis=1), width // columns, axis=2)
    return maps.astype(np.float32)


def saliency_maps(model, images, method: str, **options) -> np.ndarray:
    """One non-negative map per image, each scaled to a maximum of 1.

    Args:
        model: a flarekit model.
        images: [B, H, W, C] raw inputs.
        method: one of `METHODS`.
        **options: passed to the method (`steps`, `class_index`, `layer_name`).

    Returns:
        float32 [B, H, W]; per pixel, vanilla gradients take the largest
        |gradient| over channels, integrated gradients the sum of |attribution|
        over channels.

    Raises:
        ValueError: an unknown method, or one that does not apply to the model.
    """
    if method == "vanilla_gradients":
        maps = np.abs(gradients(model, images, **options)).max(axis=-1)
    elif method == "integrated_gradients":
        maps = np.abs(integrated_gradients(model, images, **options)).sum(axis=-1)
    elif method == "grad_cam":
        maps = grad_cam(model, images, **options)
    elif method == "attention_rollout":
        maps = attention_rollout(model, images, **options)
    else:
        raise ValueError(
            f"Unknown saliency method {method!r}; expected one of {METHODS}."
        )
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float64), nan=0.0)
    peak = maps.max(axis=(1, 2), keepdims=True)
    return (maps / np.where(peak > 0, peak, 1.0)).astype(np.float32)


# ---------------------------------------------------------------- sanity ---


def saliency_share(maps, masks) -> dict:
    """How much of each saliency map lies inside a mask, against the mask's area.

    Args:
        maps: [B, H, W] non-negative saliency.
        masks: [B, H, W] booleans (the region that carries the flare).

    Returns:
        dict of arrays [B]: `share` (saliency inside / total), `area_share`
        (mask pixels / all pixels) and `concentration` = share / area_share
        (1 = no better than spreading saliency evenly).

    Raises:
        ValueError: shapes differ, or a map has negative values.

    Example:
        >>> maps = np.zeros((1, 4, 4)); maps[0, 0, 0] = 1.0
        >>> masks = np.zeros((1, 4, 4), bool); masks[0, :2, :2] = True
        >>> saliency_share(maps, masks)["concentration"].tolist()
        [4.0]
    """
    maps = np.asarray(maps, dtype=np.float64)
    masks = np.asarray(masks, dtype=bool)
    if maps.shape != masks.shape or maps.ndim != 3:
        raise ValueError(
            f"maps and masks must both be [B, H, W]; got {maps.shape} and "
            f"{masks.shape}."
        )
    if np.any(maps < 0):
        raise ValueError("saliency maps must be non-negative (take abs() first).")
    total = maps.sum(axis=(1, 2))
    share = (maps * masks).sum(axis=(1, 2)) / np.where(total > 0, total, np.nan)
    area = masks.mean(axis=(1, 2))
    return {
        "share": share,
        "area_share": area,
        "concentration": share / np.where(area > 0, area, np.nan),
    }


def flare_region_masks(sun, step: int, size: int | None = None):
    """Masks of the visible regions of a synthetic full-disk image, and their rates.

    A region's mask is the projected disk of radius `RegionTable.extent_mm`
    (the radius that holds its field) around its centre, foreshortened
    towards the limb, on the pixel grid of `sun.render_full_disk(step, size)`
    (row 0 is north, column 0 east).

    Args:
        sun: a `flarekit.data.synthetic.SyntheticSun`.
        step: cadence step of the image.
        size: image side in pixels (default: the config's full_disk_size).

    Returns:
        (masks [R, size, size] bool, region_indices [R], flare_rates [R]):
        regions on the visible hemisphere at `step`, ordered by decreasing
        flare rate (the generator's Poisson rate of that region-step), so
        masks[0] is the region that carries most of the disk's flare
        probability.
    """
    from flarekit.data.synthetic import SUN_RADIUS_MM

    config = sun.config
    size = int(size or config.full_disk_size)
    rows = np.flatnonzero((sun.step_index == int(step)) & sun.step_visible)
    rates = sun.step_rate[rows]
    order = np.argsort(-rates, kind="stable")
    rows, rates = rows[order], rates[order]
    regions = sun.step_region[rows]
    day = int(step) * config.step_days
    latitude = np.radians(sun.regions.latitude[regions])
    longitude = np.radians(sun.regions.longitude(regions, day))
    centre_x = np.cos(latitude) * np.sin(longitude)  # solar radii, west > 0
    centre_y = np.sin(latitude)  # north > 0
    radii_per_pixel = 1.0 / (config.disk_radius_fraction * size)
    coordinates = (np.arange(size) - (size - 1) / 2.0) * radii_per_pixel
    x, y = np.meshgrid(coordinates, -coordinates)
    reach = sun.regions.extent_mm[regions] / SUN_RADIUS_MM
    # Foreshortening: east-west extents shrink by cos(longitude), north-south
    # by cos(latitude); at least one pixel either way so small regions count.
    minimum = radii_per_pixel
    half_x = np.maximum(reach * np.cos(longitude), minimum)
    half_y = np.maximum(reach * np.cos(latitude), minimum)
    masks = (
        ((x[None] - centre_x[:, None, None]) / half_x[:, None, None]) ** 2
        + ((y[None] - centre_y[:, None, None]) / half_y[:, None, None]) ** 2
    ) <= 1.0
    return masks, regions, rates


def sanity_steps(
    sun,
    count: int = 8,
    dominance: float = 0.5,
    max_longitude_deg: float = 60.0,
    allowed=None,
) -> list:
    """Cadence steps whose full-disk image has one clearly flaring region.

    A step qualifies when at least two regions are visible, the one with the
    highest flare rate carries at least `dominance` of the disk's total rate,
    and it lies within `max_longitude_deg` of the central meridian (nearer the
    limb the magnetogram foreshortens it, and no image-based forecaster can
    see it well). `count` of them are returned, evenly spread in time.
    `allowed` restricts the candidates (e.g. to the steps of a test split).

    Raises:
        ValueError: fewer than `count` steps qualify.
    """
    steps = []
    candidates = np.unique(sun.step_index)
    if allowed is not None:
        candidates = np.intersect1d(candidates, np.asarray(allowed))
    for step in candidates:
        rows = np.flatnonzero((sun.step_index == step) & sun.step_visible)
        if len(rows) < 2:
            continue
        rates = sun.step_rate[rows]
        top = rows[np.argmax(rates)]
        if (
            rates.max() >= dominance * rates.sum()
            and abs(sun.step_longitude[top]) <= max_longitude_deg
        ):
            steps.append(int(step))
    if len(steps) < count:
        raise ValueError(
            f"Only {len(steps)} steps have one region with >= {dominance:.0%} of the "
            f"flare rate within {max_longitude_deg} deg of the meridian; {count} asked."
        )
    return steps[:: len(steps) // count][:count]


def build_reference_forecaster(
    size: int,
    threshold_gauss: float = 100.0,
    magnetogram_channel: int = 0,
    channels: int = 4,
):
    """A hand-built full-disk forecaster whose evidence is known, for checking
    saliency methods.

    It measures where opposite magnetic polarities stronger than
    `threshold_gauss` lie within a few pixels of each other (a density of
    strong-field polarity-inversion line, like Schrijver's R value, which sets
    the synthetic Sun's flare rates), averages that over the image and passes
    it through a sigmoid. A correct saliency method must therefore point at
    the regions with strong, mixed polarity: on the synthetic Sun, the region
    that carries the flare probability.

    Args:
        size: image side (square full-disk images).
        threshold_gauss: field strength counted as strong.
        magnetogram_channel: index of the magnetogram among the channels.
        channels: input channels.

    Returns:
        (model, features): the forecaster, and the model up to its pooled
        evidence (call `calibrate_reference_forecaster` before use).
    """
    import keras
    from keras import layers

    from flarekit.layers import DiskMask

    inputs = keras.Input((size, size, channels), name="image")
    masked = DiskMask(name="disk_mask")(inputs)
    positive = layers.Conv2D(1, 1, activation="relu", name="positive")(masked)
    negative = layers.Conv2D(1, 1, activation="relu", name="negative")(masked)
    near = [
        layers.AveragePooling2D(5, strides=1, padding="same", name=f"near_{n}")(x)
        for n, x in (("positive", positive), ("negative", negative))
    ]
    density = layers.Conv2D(1, 1, name="pil_density")(layers.Multiply()(near))
    pooled = layers.GlobalAveragePooling2D(name="pool")(density)
    outputs = layers.Dense(1, activation="sigmoid", name="forecast")(pooled)
    model = keras.Model(inputs, outputs, name="reference_forecaster")
    weights = np.zeros((1, 1, channels, 1), "float32")
    weights[0, 0, magnetogram_channel, 0] = 1.0 / threshold_gauss
    model.get_layer("positive").set_weights([weights, -np.ones(1, "float32")])
    model.get_layer("negative").set_weights([-weights, -np.ones(1, "float32")])
    model.get_layer("pil_density").set_weights(
        [np.ones((1, 1, 1, 1), "float32"), np.zeros(1, "float32")]
    )
    return model, keras.Model(inputs, pooled)


def calibrate_reference_forecaster(model, features, images) -> None:
    """Scale the reference forecaster so that its median output over `images`
    is sigmoid(0) = 0.5: unsaturated, so its gradients are informative."""
    scale = float(np.median(np.asarray(features(np.asarray(images, np.float32)))))
    model.get_layer("forecast").set_weights(
        [np.array([[1.0 / max(scale, 1e-12)]], "float32"), np.array([-1.0], "float32")]
    )


def full_disk_sanity(
    model, sun, steps, size: int = 64, methods=None, ig_steps: int = 16
):
    """Share of saliency on the region that carries the flare, per image and method.

    Args:
        model: a forecaster taking full-disk images [size, size, C] in the
            synthetic Sun's channels.
        sun: the `SyntheticSun` the images come from.
        steps: cadence steps (e.g. from `sanity_steps`).
        size: image side.
        methods: saliency methods (default: all that apply to the model).
        ig_steps: integrated-gradients steps.

    Returns:
        DataFrame, one row per (step, method): step, method, share,
        area_share, concentration (share / area_share), flipped_share (the
        maps upside down: what an orientation bug would score).
    """
    import pandas as pd

    images = np.stack([sun.render_full_disk(int(step), size) for step in steps])
    masks = np.stack([flare_region_masks(sun, step, size)[0][0] for step in steps])
    rows = []
    for method in methods or available_methods(model):
        options = {"steps": ig_steps} if method == "integrated_gradients" else {}
        maps = saliency_maps(model, images, method, **options)
        result = saliency_share(maps, masks)
        flipped = saliency_share(maps[:, ::-1].copy(), masks)
        for index, step in enumerate(steps):
            rows.append(
                {
                    "step": int(step),
                    "method": method,
                    **{key: float(value[index]) for key, value in result.items()},
                    "flipped_share": float(flipped["share"][index]),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------- figures ---


def grey_picture(image) -> np.ndarray:
    """One channel as grey values in [0, 1] for display.

    A signed channel (a magnetogram: both polarities present) is stretched
    symmetrically about 0 to the 99.5th percentile of |value|, so strong
    fields stand out of the noise; an unsigned one from its 1st to its 99.5th
    percentile. NaN (off the limb) shows as the middle grey / the median.
    """
    picture = np.asarray(image, dtype=np.float64)
    finite = picture[np.isfinite(picture)]
    if finite.size == 0:
        return np.full(picture.shape, 0.5)
    low, high = np.percentile(finite, [1, 99.5])
    if low < 0 < high:
        limit = max(float(np.percentile(np.abs(finite), 99.5)), 1e-12)
        grey = 0.5 + 0.5 * picture / limit
    else:
        grey = (picture - low) / (high - low if high > low else 1.0)
    grey = np.where(np.isfinite(grey), grey, 0.5 if low < 0 < high else np.nan)
    return np.clip(np.nan_to_num(grey, nan=float(np.nanmedian(grey))), 0.0, 1.0)


def overlay_rgb(image, saliency, alpha: float = 0.6) -> np.ndarray:
    """An RGB uint8 picture: one channel in grey with the saliency in colour over it.

    The saliency is shown relative to its 99th percentile (clipped at 1), so
    that a map with a few strong pixels and a long faint tail stays visible.

    Args:
        image: [H, W] one channel (NaN allowed).
        saliency: [H, W], non-negative.
        alpha: opacity of the saliency where it is strongest.

    Returns:
        uint8 [H, W, 3].
    """
    from matplotlib import colormaps

    grey = grey_picture(image)
    saliency = np.nan_to_num(np.asarray(saliency, dtype=np.float64), nan=0.0)
    top = float(np.percentile(saliency, 99)) if saliency.size else 0.0
    shown = np.clip(saliency / (top if top > 0 else max(saliency.max(), 1e-12)), 0, 1)
    heat = colormaps["inferno"](shown)[..., :3]
    weight = alpha * shown[..., None]
    rgb = (1 - weight) * grey[..., None] + weight * heat
    return (255 * rgb).round().astype(np.uint8)


def plot_saliency(
    images,
    maps_by_method: dict,
    titles=None,
    channel: int = 0,
    channel_name: str = "",
    outlines=None,
):
    """One row per sample: the input channel, then each method's map over it.

    Args:
        images: [B, H, W, C] raw inputs (row 0 of an image is north).
        maps_by_method: method name -> [B, H, W] maps in [0, 1].
        titles: one title per sample (probability, label, ...).
        channel: the channel shown under the maps.
        channel_name: its name, for the column title.
        outlines: optional [B, H, W] booleans outlined in green on every panel
            (e.g. the flaring region from `flare_region_masks`).

    Returns:
        A matplotlib Figure (Agg canvas, no pyplot).
    """
    from matplotlib.figure import Figure

    images = np.asarray(images)
    count, methods = len(images), list(maps_by_method)
    columns = 1 + len(methods)
    figure = Figure(
        figsize=(2.0 * columns + 0.6, 2.0 * count + 0.4), layout="constrained"
    )
    axes = figure.subplots(count, columns, squeeze=False)
    for row in range(count):
        picture = images[row, ..., channel]
        axes[row, 0].imshow(grey_picture(picture), cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(titles[row] if titles else f"sample {row}", fontsize=7)
        for column, method in enumerate(methods, start=1):
            axes[row, column].imshow(overlay_rgb(picture, maps_by_method[method][row]))
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
            if outlines is not None:
                axis.contour(
                    np.asarray(outlines[row], float),
                    levels=[0.5],
                    colors="lime",
                    linewidths=0.8,
                )
    axes[0, 0].set_title(channel_name or f"channel {channel}", fontsize=8)
    for column, method in enumerate(methods, start=1):
        axes[0, column].set_title(METHOD_TITLES.get(method, method), fontsize=8)
    return figure


# ----------------------------------------------------------- run folder ---


def load_run_model(run_dir):
    """The best checkpoint of a finished run folder (`experiments.load_run_model`)."""
    from flarekit.experiments import load_run_model as load

    return load(run_dir)


def read_run_samples(config: dict, split: str, limit: int):
    """Up to `limit` raw samples of a run's dataset split, channels as trained.

    Args:
        config: the run's config.json as a dict (dataset, data_dir, channels).
        split: TFDS split to read.
        limit: samples read, from the start of the split.

    Returns:
        (samples, channel names): dicts with image [H, W, C] float32, region,
        timestamp and peak_flux.
    """
    import tensorflow_datasets as tfds

    from flarekit.data import pipeline, tasks

    builder = pipeline.get_builder(config["dataset"], config.get("data_dir") or None)
    available = pipeline.channel_names(builder)
    indices = tasks.channel_indices_for(config.get("channels") or available, available)
    rows = []
    for example in tfds.as_numpy(builder.as_dataset(split=split).take(limit)):
        image = np.asarray(example["image"], dtype=np.float32)
        if indices:
            image = image[..., list(indices)]
        region = example.get("region", b"")
        rows.append(
            {
                "image": image,
                "region": region.decode() if isinstance(region, bytes) else str(region),
                "timestamp": int(example.get("timestamp", 0)),
                "peak_flux": float(example.get("peak_flux", np.nan)),
            }
        )
    return rows, list(config.get("channels") or available)


def _choose_samples(outputs: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Half the n with the highest forecast, the rest events not yet chosen
    (hits and misses both show), topped up by the next highest forecasts."""
    order = np.argsort(-outputs, kind="stable")
    chosen = list(order[: (n + 1) // 2])
    events = [i for i in order if labels[i] and i not in chosen]
    chosen += events[: n - len(chosen)]
    chosen += [i for i in order if i not in chosen][: n - len(chosen)]
    return np.asarray(chosen[:n], dtype=np.int64)


def explain_run(
    run_dir,
    n: int = 8,
    methods=None,
    split: str = "test",
    pool: int = 256,
    steps: int = 32,
) -> dict:
    """Saliency figures and a table for samples of a run's test split.

    Explains `n` samples from the first `pool` of the split: half with the
    highest forecast, half real events (for a binary run; the highest
    forecasts otherwise). Writes `figures/saliency.png` and
    `explanations.csv` (sample, region, timestamp, peak flux, forecast, and
    for each method the share of saliency in the central quarter of the
    image, where a patch's region lies) into the run folder.

    Args:
        run_dir: a finished run folder (config.json, checkpoints/best.keras).
        n: samples to explain.
        methods: saliency methods (default: all that apply to the model).
        split: dataset split to read (never trained on: "test" or "validation").
        pool: samples read from the split to choose from.
        steps: integrated-gradients path steps.

    Returns:
        dict with "figure", "table" (paths), "methods", "seconds" per method.

    Raises:
        FileNotFoundError: not a finished run folder.
        ValueError: n < 1 or an unknown method.
    """
    import time

    import pandas as pd

    from flarekit.data import goes

    run_dir = Path(run_dir)
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n!r}.")
    config = json.loads((run_dir / "config.json").read_text())
    model = load_run_model(run_dir)
    methods = tuple(methods or available_methods(model))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(
            f"Unknown saliency methods {unknown}; expected some of {METHODS}."
        )
    samples, channels = read_run_samples(config, split, max(int(pool), int(n)))
    images = np.stack([s["image"] for s in samples])
    outputs = np.asarray(
        model.predict(images, batch_size=64, verbose=0), dtype=np.float64
    )
    score = outputs[:, 0] if outputs.shape[-1] == 1 else outputs.max(axis=-1)
    peak = np.array([s["peak_flux"] for s in samples])
    labels = np.zeros(len(samples), dtype=bool)
    if config.get("task") == "binary":
        labels = peak >= goes.threshold_flux(config.get("threshold", "M1.0")) * (
            1 - 1e-9
        )
    chosen = _choose_samples(score, labels, int(n))
    images = images[chosen]
    maps, seconds = {}, {}
    for method in methods:
        started = time.perf_counter()
        options = {"steps": steps} if method == "integrated_gradients" else {}
        maps[method] = saliency_maps(model, images, method, **options)
        seconds[method] = time.perf_counter() - started
    height, width = images.shape[1:3]
    centre = np.zeros((len(images), height, width), dtype=bool)
    centre[:, height // 4 : height - height // 4, width // 4 : width - width // 4] = (
        True
    )
    table = pd.DataFrame(
        {
            "sample": chosen,
            "region": [samples[i]["region"] for i in chosen],
            "timestamp": [samples[i]["timestamp"] for i in chosen],
            "peak_flux": peak[chosen],
            "peak_class": [goes.flux_to_class(f) for f in peak[chosen]],
            "event": labels[chosen].astype(int),
            "forecast": score[chosen],
        }
    )
    if outputs.shape[-1] > 1:
        # A multiclass run: name the predicted class (the one explained).
        names = list(config.get("classes") or range(outputs.shape[-1]))
        table["predicted_class"] = [str(names[i]) for i in outputs[chosen].argmax(-1)]
    for method in methods:
        table[f"{method}_central_share"] = saliency_share(maps[method], centre)["share"]
    if "predicted_class" in table:
        titles = [
            f"{row.region}\n{row.predicted_class} p={row.forecast:.2f}"
            for row in table.itertuples()
        ]
    else:
        titles = [
            f"{row.region} p={row.forecast:.2f}\npeak {row.peak_class}"
            + (" (event)" if row.event else "")
            for row in table.itertuples()
        ]
    figure = plot_saliency(images, maps, titles, channel=0, channel_name=channels[0])
    figure.suptitle(f"Saliency, {split} samples of {run_dir.name}", fontsize=9)
    figure_path = save_figure(figure, run_dir / "figures" / "saliency.png")
    table_path = write_csv_atomic(run_dir / "explanations.csv", table)
    return {
        "figure": figure_path,
        "table": table_path,
        "methods": methods,
        "seconds": seconds,
        "maps": maps,
        "images": images,
        "frame": table,
    }
