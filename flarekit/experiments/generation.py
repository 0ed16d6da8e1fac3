"""Experiments that train a conditional generator of solar images.

Registered in `flarekit.experiments.config.TRAINERS` as "diffusion" and "cvae". The
experiment folder's `build_network(config)` returns the whole generative
model (a `DiffusionModel` around a UNet, or a `ConditionalVAE`), so the
architecture is read in one place; this module supplies the data, the
normalisation fitted on the training split, the optimiser, and the report:

- data: `tasks.generation(condition)` on the dataset's **training split only**
  (SCIENCE.md trap 8: a generator that saw validation or test images would
  leak them into anything it helps train); the validation split gives the
  validation loss;
- the run folder gets the usual `config.json`, resumable `checkpoints/`,
  `history.csv`, `tensorboard/`, and then `model.keras` (the model to sample
  from; `flarekit sample --run RUN` loads it), `samples.npz` and
  `figures/samples.png` (a contact sheet with every class), `metrics.json`
  and `report.md`.

Config keys beside the common ones: `condition` ("goes_class" | "log_flux"),
`image_size` (the dataset's), `bin_factor` (generate at image_size /
bin_factor), `weight_decay`, and for the closing samples `sample_sampler`,
`sample_steps`, `guidance_scale`, `samples_per_class`.

Example:
    >>> run_dir = run_experiment("network_models/generation/conditional_diffusion",
    ...                          smoke=True)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flarekit.experiments.runner import Experiment
from flarekit.io import atomic_write, save_figure, write_json_atomic, write_text_atomic

GENERATION_DEFAULTS = {
    "condition": "goes_class",
    "bin_factor": 1,
    "weight_decay": 1e-4,
    "sample_sampler": "dpmpp",
    "sample_steps": 20,
    "guidance_scale": 2.0,
    "samples_per_class": 4,
}
MODEL_FILE = "model.keras"


class DiffusionExperiment(Experiment):
    """Train a generative model on the training split, sample, and report.

    Works for every model with `adapt_normalization`, `generate` and
    `timed_generate` (DiffusionModel, ConditionalVAE).
    """

    DEFAULTS = GENERATION_DEFAULTS

    # ---- data --------------------------------------------------------------
    def prepare_data(self):
        from flarekit.data import pipeline, tasks

        config = self.config
        self.load_dataset()
        channel_indices = tasks.channel_indices_for(config.channels, self.channel_names)
        self.task = tasks.generation(config.condition, channel_indices)
        common = {
            "task": self.task,
            "batch_size": config.batch_size,
            "seed": config.seed,
        }
        # Training split only (trap 8); whole batches keep one compiled step.
        self.train = pipeline.make_dataset(
            self.builder, "train", shuffle=True, drop_remainder=True, **common
        )
        self.validation = pipeline.make_dataset(self.builder, "validation", **common)

    def adapt_normalization(self, model, data=None) -> None:
        """Normalisation statistics from a strided subset of training images."""
        data = self.normalization_data() if data is None else data
        model.adapt_normalization(inputs["images"] for inputs, _ in data)

    def compile(self, model):
        import keras

        model.compile(
            optimizer=keras.optimizers.AdamW(
                self.config.learning_rate, weight_decay=self.config.weight_decay
            )
        )
        return model

    def class_weight(self):
        return None

    def settings(self) -> dict:
        config = self.config
        counts = {
            name: split.num_examples for name, split in self.builder.info.splits.items()
        }
        return {
            "experiment": self.name,
            "dataset": config.dataset,
            "dataset_version": str(self.builder.info.version),
            "trained_on": "train split only (SCIENCE.md trap 8)",
            "split_counts": counts,
            "channels": list(config.channels),
            "condition": config.condition,
            "image_size": config.image_size,
            "generated_size": config.image_size // config.bin_factor,
            "seed": config.seed,
            "smoke": config.smoke,
            "precision": f"{self.precision['precision']} "
            f"({self.precision['precision_reason']})",
        }

    # ---- evaluation --------------------------------------------------------
    def class_conditions(self) -> tuple[np.ndarray, list[str]]:
        """One condition per GOES class: its index, or log10 of its lower edge."""
        from flarekit.data import goes

        names = list(goes.GOES_CLASSES)
        per_class = int(self.config.samples_per_class)
        if self.config.condition == "goes_class":
            values = np.arange(len(names))
        else:
            values = np.log10(
                [goes.QUIET_FLUX] + [goes.class_to_flux(n) for n in names[1:]]
            )
        return np.repeat(values, per_class), [
            n for n in names for _ in range(per_class)
        ]

    def evaluate_and_report(self, model) -> None:
        import pandas as pd

        from flarekit import report

        config = self.config
        model.save(self.run_dir / f".{MODEL_FILE}")
        (self.run_dir / f".{MODEL_FILE}").replace(self.run_dir / MODEL_FILE)
        conditions, labels = self.class_conditions()
        images, sampling = model.timed_generate(
            conditions,
            sampler=config.sample_sampler,
            num_steps=config.sample_steps,
            guidance_scale=config.guidance_scale,
            seed=config.seed,
        )
        atomic_write(
            self.run_dir / "samples.npz",
            lambda file: np.savez_compressed(
                file,
                images=images,
                conditions=conditions,
                labels=np.array(labels),
                channels=np.array(config.channels),
            ),
            mode="wb",
        )
        figure = plot_contact_sheet(images, labels, config.channels)
        save_figure(figure, self.run_dir / "figures" / "samples.png")
        history_path = self.run_dir / "history.csv"
        history = pd.read_csv(history_path) if history_path.exists() else None
        if history is not None:
            curves = report.plot_training_curves(history)
            if curves is not None:
                save_figure(curves, self.run_dir / "figures" / "training_curves.png")
        results = {
            "kind": "generation",
            "model": type(model).__name__,
            "final": history.iloc[-1].to_dict() if history is not None else {},
            "sampling": {
                "sampler": config.sample_sampler,
                "guidance_scale": config.guidance_scale,
                "n_images": len(conditions),
                **sampling,
            },
            "settings": self.settings(),
        }
        write_text_atomic(self.run_dir / "report.md", generation_report(results))
        # metrics.json last: its presence marks the run finished.
        write_json_atomic(self.run_dir / "metrics.json", results)
        print(f"flarekit: report written to {self.run_dir / 'report.md'}")


class CVAEExperiment(DiffusionExperiment):
    """The conditional VAE baseline: same data, normalisation and report."""


def generation_report(results: dict) -> str:
    """report.md of a generation run: settings, last losses, sampling cost."""
    settings, sampling = results["settings"], results["sampling"]
    lines = [
        f"# {settings['experiment']}: {results['model']}",
        "",
        (
            f"Dataset {settings['dataset']} ({settings['dataset_version']}), "
            f"{settings['trained_on']}; channels {', '.join(settings['channels'])}; "
            f"condition {settings['condition']}; images "
            f"{settings['image_size']} -> generated at {settings['generated_size']} px."
        ),
        "",
        "## Last epoch",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key, value in results["final"].items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        lines.append(f"| {key} | {shown} |")
    lines += [
        "",
        "## Closing samples",
        "",
        (
            f"{sampling['n_images']} images, sampler {sampling['sampler']}, "
            f"{sampling['steps']} steps ({sampling['network_evaluations']} network "
            f"evaluations per image), guidance scale {sampling['guidance_scale']}: "
            f"{sampling['wall_s']:.2f} s wall (compile {sampling['compile_s']:.2f} s)."
        ),
        "",
        "![samples](figures/samples.png)",
        "",
        (
            "Scores of generated images (FID, cluster metrics, conditional "
            "consistency, sampler table) come from `tools/generative_study.py` "
            "(see `flarekit.studies.generative`)."
        ),
    ]
    if settings.get("smoke"):
        lines.insert(
            2, "**Smoke run: tiny data and model, numbers are not results.**\n"
        )
    return "\n".join(lines) + "\n"


def plot_contact_sheet(images, labels, channels, max_columns: int = 8):
    """A grid of generated (or real) images: one row per image group and channel.

    Images with the same label share a row block; each channel is one row.
    Magnetograms are drawn in grey on a symmetric scale, intensities as
    log10 in `inferno`, each channel on one scale for the whole sheet so
    classes can be compared.

    Args:
        images: [n, height, width, channels], physical units.
        labels: n labels (e.g. GOES class names).
        channels: channel names.
        max_columns: images per row.

    Returns:
        A matplotlib Figure.
    """
    from matplotlib.figure import Figure

    from flarekit.data import goes

    images = np.asarray(images, dtype=np.float64)
    labels = [str(label) for label in labels]
    groups = list(dict.fromkeys(labels))
    if all(group in goes.GOES_CLASSES for group in groups):
        groups.sort(key=goes.GOES_CLASSES.index)  # flux order
    columns = min(max_columns, max(labels.count(g) for g in groups))
    rows = len(groups) * len(channels)
    figure = Figure(figsize=(1.1 * columns + 1.2, 1.1 * rows + 0.3))
    scales = []
    for index, name in enumerate(channels):
        values = images[..., index]
        if name == "magnetogram":
            limit = float(np.nanpercentile(np.abs(values), 99)) or 1.0
            scales.append({"cmap": "gray", "vmin": -limit, "vmax": limit, "log": False})
        else:
            logs = np.log10(np.maximum(values, 1e-3))
            scales.append(
                {
                    "cmap": "inferno",
                    "vmin": float(np.nanpercentile(logs, 1)),
                    "vmax": float(np.nanpercentile(logs, 99.5)),
                    "log": True,
                }
            )
    for group_index, group in enumerate(groups):
        members = [i for i, label in enumerate(labels) if label == group][:columns]
        for channel_index, name in enumerate(channels):
            row = group_index * len(channels) + channel_index
            scale = scales[channel_index]
            for column, image_index in enumerate(members):
                axes = figure.add_subplot(rows, columns, row * columns + column + 1)
                values = images[image_index, ..., channel_index]
                if scale["log"]:
                    values = np.log10(np.maximum(values, 1e-3))
                axes.imshow(
                    values, cmap=scale["cmap"], vmin=scale["vmin"], vmax=scale["vmax"]
                )
                axes.set_xticks([])
                axes.set_yticks([])
                if column == 0:
                    axes.set_ylabel(f"{group}\n{name}", fontsize=7)
    figure.tight_layout(pad=0.2)
    return figure


def load_generator(run: str | Path):
    """The generative model of a finished (or checkpointed) run folder.

    Looks for `model.keras`, then `checkpoints/best.keras`, then
    `checkpoints/last.keras`.

    Raises:
        FileNotFoundError: none of them exists.
    """
    from flarekit.experiments import load_saved_model

    run = Path(run)
    for candidate in (
        run / MODEL_FILE,
        run / "checkpoints" / "best.keras",
        run / "checkpoints" / "last.keras",
    ):
        if candidate.exists():
            return load_saved_model(candidate)
    raise FileNotFoundError(
        f"No generative model in {run}: expected {MODEL_FILE} or checkpoints/*.keras."
    )


def condition_for(model, goes_class: str) -> float | int:
    """The condition value of a GOES class string ("M", "M2.5", "quiet") for
    this model: the class index, or log10 of the flux.

    Raises:
        ValueError: a malformed class string.
    """
    from flarekit.data import goes

    flux = goes.QUIET_FLUX if goes_class == "quiet" else goes.class_to_flux(goes_class)
    if model.condition == "goes_class":
        return int(goes.flux_to_class_index(flux))
    return float(np.log10(flux))


def sample_to_folder(
    run,
    goes_class: str,
    n: int,
    sampler: str,
    steps: int,
    out,
    guidance_scale: float = 2.0,
    seed: int = 0,
) -> Path:
    """What `flarekit sample` does: generate `n` images of one class into `out`.

    Writes `samples.npz` (physical values, channel names, condition, settings),
    one PNG per image (`sample_000.png`, channels side by side),
    `contact_sheet.png` and `sampling.json` (settings and wall time).

    Returns:
        The output folder.

    Example:
        >>> sample_to_folder("runs/generation/conditional_diffusion/2026...", "M", 16,
        ...                  "dpmpp", 20, "samples_m")
    """
    import json

    run = Path(run)
    model = load_generator(run)
    config = (
        json.loads((run / "config.json").read_text())
        if (run / "config.json").exists()
        else {}
    )
    channels = list(
        config.get("channels", [f"channel_{i}" for i in range(model.image_shape[-1])])
    )
    value = condition_for(model, goes_class)
    conditions = np.full(int(n), value)
    images, timing = model.timed_generate(
        conditions,
        sampler=sampler,
        num_steps=steps,
        guidance_scale=guidance_scale,
        seed=seed,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(
        out / "samples.npz",
        lambda file: np.savez_compressed(
            file, images=images, conditions=conditions, channels=np.array(channels)
        ),
        mode="wb",
    )
    for index in range(len(images)):
        figure = plot_contact_sheet(images[index : index + 1], [goes_class], channels)
        save_figure(figure, out / f"sample_{index:03d}.png")
    save_figure(
        plot_contact_sheet(images, [goes_class] * len(images), channels),
        out / "contact_sheet.png",
    )
    write_json_atomic(
        out / "sampling.json",
        {
            "run": str(run),
            "goes_class": goes_class,
            "condition": value,
            "n": int(n),
            "sampler": sampler,
            "guidance_scale": guidance_scale,
            "seed": seed,
            "channels": channels,
            **timing,
        },
    )
    return out
