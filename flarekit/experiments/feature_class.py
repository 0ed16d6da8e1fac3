"""Experiment for classes read from a feature, e.g. the Mount Wilson class of a patch.

The supervised `Experiment` derives labels from the flare flux. Classifying
active regions by their Mount Wilson class (alpha, beta, beta-gamma,
beta-gamma-delta), as SDOVIS did with a ViT, needs labels from another
feature; this subclass reads them from `config.label_feature` with
`flarekit.data.tasks.feature_class`, scores accuracy, macro-F1, the
Gandin-Murphy-Gerrity score and the confusion matrix against climatology
(the most frequent training class), and, for a flarekit ViT, writes
attention-rollout maps of test patches into the run folder.

Registered as trainer "feature_class" in `flarekit.experiments.config.TRAINERS`.
Config keys beside the common ones: `label_feature`, `classes` (class names
in label order), `train_split` (a TFDS split string such as "train[:40%]",
to size a CPU run), `attention_samples` (test patches drawn in the figure).
"""

from __future__ import annotations

import numpy as np

from flarekit.experiments.distribute import replica_batch_size
from flarekit.experiments.runner import Experiment, predict_with_features
from flarekit.io import write_text_atomic


class FeatureClassExperiment(Experiment):
    """Train, evaluate and report a classifier of an integer feature (Mount Wilson)."""

    DEFAULTS = {
        "label_feature": "mount_wilson",
        "train_split": "train",
        "attention_samples": 6,
    }

    # ---- data -------------------------------------------------------------
    def prepare_data(self):

        from flarekit.data import pipeline, tasks

        config = self.config
        self.load_dataset()
        label_feature = self.config["label_feature"]
        if label_feature not in self.builder.info.features:
            raise ValueError(
                f"Config key 'label_feature' is {label_feature!r}, which dataset "
                f"{config.dataset} does not have; it has "
                f"{sorted(self.builder.info.features)}."
            )
        self.task = tasks.feature_class(
            label_feature,
            config.classes,
            channel_indices=tasks.channel_indices_for(
                config.channels, self.channel_names
            ),
        )
        self.train_split = self.config["train_split"]
        common = {
            "task": self.task,
            "batch_size": config.batch_size,
            "seed": config.seed,
        }
        # Several replicas: whole training batches (a ragged last batch splits
        # unevenly across replicas, which the ViT's patch ops refuse), and an
        # evaluation batch size that leaves no replica empty.
        self.train = pipeline.make_dataset(
            self.builder,
            self.train_split,
            shuffle=True,
            drop_remainder=self.replicas > 1,
            **common,
        )
        common["batch_size"] = replica_batch_size(
            self.builder.info.splits["validation"].num_examples,
            config.batch_size,
            self.replicas,
        )
        self.validation = pipeline.make_dataset(self.builder, "validation", **common)

    def train_base_rate(self):
        """Training class frequencies (what climatology forecasts)."""
        from flarekit.data import pipeline

        if not hasattr(self, "_train_labels"):
            column = self.task.label_feature
            values = pipeline.read_columns(self.builder, self.train_split, [column])[
                column
            ]
            self._train_labels = self.task.labels_from_features(values.to_numpy())
        return self.task.base_rate(self._train_labels)

    # ---- evaluation -------------------------------------------------------
    def predictions(self, model, split: str):
        """One row per sample of `split`: metadata, label and class probabilities."""
        import pandas as pd

        features = self.builder.info.features
        wanted = (
            "timestamp",
            "region",
            "peak_flux",
            "previous_peak_flux",
            "goes_class",
        )
        keep = [key for key in wanted if key in features] + [self.task.label_feature]
        data = self.prediction_data(split, keep)
        output, columns = predict_with_features(
            model, data, keep, len(self.task.class_names)
        )
        frame = pd.DataFrame({"split": split, **columns})
        labels = self.task.labels_from_features(frame.pop(self.task.label_feature))
        return self.task.prediction_columns(frame, output, labels)

    def settings(self) -> dict:
        settings = super().settings()
        feature = self.task.label_feature
        settings.update(
            task=f"{self.task.evaluation} ({feature})",
            threshold=None,
            horizon_hours=None,
            window_rule=None,
            label_definition=self.task.label_definition(None),
            train_split=self.train_split,
            class_names=list(self.task.class_names),
            architecture=self.config.get("architecture", "unstated"),
        )
        return settings

    def train_examples(self) -> int:
        return self.builder.info.splits[self.train_split].num_examples

    def finish(self, model) -> None:
        super().finish(model)
        self.write_attention_maps(model)

    def write_attention_maps(self, model) -> None:
        """Attention rollout of a few test patches (one per class first), for a ViT.

        Models without flarekit transformer blocks (the CNN baseline) get no
        figure, and the report says so.
        """
        from flarekit.interpret import attention
        from flarekit.io import save_figure
        from flarekit.models.vit import TransformerBlock

        lines = ["", "## Attention maps", ""]
        if not any(isinstance(layer, TransformerBlock) for layer in model.layers):
            lines.append(
                f"Model {model.name!r} has no attention layers: no attention maps."
            )
        else:
            images, labels = self._attention_samples(
                int(self.config["attention_samples"])
            )
            maps = attention.vit_attention_maps(model, images)
            predicted = np.argmax(model.predict_on_batch(images), axis=1)
            names = self.task.class_names
            titles = [f"{names[t]} -> {names[p]}" for t, p in zip(labels, predicted)]
            figure = attention.plot_vit_attention(
                images, maps, titles, channel=0, channel_name=self._channel_name(0)
            )
            save_figure(figure, self.run_dir / "figures" / "attention_rollout.png")
            lines += [
                (
                    "Attention rollout (Abnar & Zuidema 2020) of test patches; titles "
                    "are true -> predicted class. Brighter = more of the class token's "
                    "attention, through all layers, lands on that patch."
                ),
                "",
                "![attention rollout](figures/attention_rollout.png)",
            ]
        report = self.run_dir / "report.md"
        write_text_atomic(report, report.read_text() + "\n".join(lines) + "\n")

    def _channel_name(self, index: int) -> str:
        names = list(self.config.channels) or list(self.channel_names)
        return names[index] if index < len(names) else f"channel {index}"

    def _attention_samples(self, count: int):
        """Up to `count` test inputs, one of each class first (rare classes shown)."""
        from flarekit.data import pipeline

        data = pipeline.make_dataset(
            self.builder, "test", task=self.task, batch_size=None, cache=False
        )
        chosen, seen = [], set()
        spare = []
        for inputs, label in data.take(2000):
            label = int(label)
            if label not in seen:
                seen.add(label)
                chosen.append((inputs.numpy(), label))
            elif len(spare) < count:
                spare.append((inputs.numpy(), label))
            if len(seen) == self.task.num_outputs and len(spare) >= count:
                break
        chosen = (sorted(chosen, key=lambda pair: pair[1]) + spare)[:count]
        return np.stack([c[0] for c in chosen]), np.array([c[1] for c in chosen])
