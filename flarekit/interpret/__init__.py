"""Looking inside models and data: saliency, attention, embeddings, figures.

- `saliency`: vanilla gradients, integrated gradients, Grad-CAM, attention
  rollout through one interface (`saliency_maps`), the saliency-on-the-
  flaring-region sanity check, and `explain_run` for a finished run folder;
  its public names are re-exported here (`interpret.explain_run`).
- `attention`: attention maps of flarekit's ViT and video transformers.
- `embeddings`: encoder features of a split, t-SNE, coloured scatter plots.
- `visualize`: figures of the synthetic Sun and of real observations.

Every figure is written with `flarekit.io.save_figure` (atomic PNG).
"""

from flarekit.interpret.saliency import (  # noqa: F401
    METHODS,
    attention_rollout,
    available_methods,
    build_reference_forecaster,
    calibrate_reference_forecaster,
    explain_run,
    flare_region_masks,
    full_disk_sanity,
    gradients,
    grad_cam,
    integrated_gradients,
    last_conv_layer,
    load_run_model,
    overlay_rgb,
    plot_saliency,
    read_run_samples,
    saliency_maps,
    saliency_share,
    sanity_steps,
    split_preprocessing,
)
