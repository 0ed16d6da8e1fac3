"""Classifier-free guidance: mix conditional and unconditional predictions.

    guided = unconditional + guidance_scale * (conditional - unconditional)

guidance_scale 1 is the plain conditional model, 0 the unconditional one, and
values above 1 push samples towards features typical of the condition (at a
cost in diversity). This is diffusers' convention; Ho & Salimans write the
same thing with w = guidance_scale - 1. Predictions of every type (noise,
image, velocity) are affine in the score, so the same mix applies to all.

Both predictions come from one network call on a doubled batch: the images
twice, with the condition and with the null condition (the learned "no
condition" embedding that training's condition dropout taught).

References:
    Ho, J. & Salimans, T. 2022, "Classifier-Free Diffusion Guidance",
    arXiv:2207.12598, eq. 6.
"""

from __future__ import annotations

from keras import ops


def guide(conditional, unconditional, guidance_scale):
    """unconditional + guidance_scale * (conditional - unconditional).

    Example:
        >>> guide(2.0, 1.0, 3.0)   # 1 + 3 * (2 - 1)
        4.0
    """
    return unconditional + guidance_scale * (conditional - unconditional)


def classifier_free_guidance(
    predict, images, diffusion_times, condition, null_condition, guidance_scale
):
    """The guided prediction, from one call of `predict` on a doubled batch.

    Args:
        predict: `predict(images, diffusion_times, condition) -> prediction`,
            e.g. a network called with training=False.
        images: noisy images [batch, ...].
        diffusion_times: [batch] times.
        condition: [batch] conditions (class indices or log10 fluxes).
        null_condition: [batch] null conditions (the null class index, or NaN
            for continuous conditions).
        guidance_scale: scalar w.

    Returns:
        The guided prediction, shaped like `images`.

    Example:
        >>> guided = classifier_free_guidance(
        ...     lambda x, t, c: network([x, t, c], training=False),
        ...     x_t, times, classes, ops.full_like(classes, 6), 2.0)
    """
    doubled = predict(
        ops.concatenate([images, images], axis=0),
        ops.concatenate([diffusion_times, diffusion_times], axis=0),
        ops.concatenate([condition, null_condition], axis=0),
    )
    conditional, unconditional = ops.split(doubled, 2, axis=0)
    return guide(conditional, unconditional, guidance_scale)
