"""The measurements of issue 5, sized for a 2-core CPU: ViT vs CNN on Mount Wilson
classes, and the factorised video transformer vs the last-frame CNN on >= M1.0
within 24 h and 48 h (5-fold hybrid split), then the oversampling variants.

    python tools/run_transformer_comparison.py [--smoke]
        [--only mount_wilson|sequences_24h|sequences_48h|variants]
    python tools/run_transformer_comparison.py --throughput 10

Writes <runs>/transformer_comparison_<studies>.md (tables) and .json (run
folders). Each run
is an ordinary starter run (its own report.md); an interrupted run resumes.
"""

import argparse
import json
import time
from pathlib import Path

from flarekit import experiments as fx
from flarekit import io, report
from flarekit.experiments.sequence_kfold import kfold_comparison_table

ROOT = Path(__file__).resolve().parents[1] / "network_models"
VIT, VIDEO = ROOT / "active_regions" / "vit", ROOT / "sequences" / "video_transformer"
# CPU sizing (a 2-core CPU shared by several users): a 20 % pseudo-random subset of
# the training patches, trained until 4 epochs pass without a lower validation
# loss (at most 30); the CNN at (16, 32, 64) filters (the (32, 64, 128)
# one trains at ~30 img/s there); a two-block video transformer on 4 x 16 tubelet
# tokens; 5 folds, each trained until 4 epochs pass without a higher validation
# AUC (at most 30; `SequenceKFoldExperiment.monitor`), its best epoch scored.
MOUNT_WILSON = {
    "train_split": "train[:20%]",
    "epochs": 30,
    "early_stopping_patience": 4,
    "filters": (16, 32, 64),
    "bootstrap_samples": 300,
}
SEQUENCES = {
    "n_folds": 5,
    "epochs": 30,
    "early_stopping_patience": 4,
    "tubelet_size": (4, 8, 8),
    "hidden_dim": 32,
    "num_layers": 2,
    "num_heads": 4,
    "mlp_dim": 64,
    "filters": (16, 32, 64),
    "bootstrap_samples": 200,
}
# Each sequence network's settings beyond SEQUENCES (VideoSwin's windows need
# smaller tubelets: 8 x 8 x 8 tokens in windows of 4 x 4 x 4).
ARCHITECTURES = {
    "factorised": {"architecture": "factorised"},
    "video_swin": {"architecture": "video_swin", "tubelet_size": (2, 4, 4)},
    "frame_cnn": {"architecture": "frame_cnn"},
}
HORIZONS = {"24h": "synthetic_sun/sequence", "48h": "synthetic_sun/sequence_48h"}
STUDIES = {
    "mount_wilson": [
        (VIT, {**MOUNT_WILSON, "architecture": architecture})
        for architecture in ("vit", "cnn")
    ],
    **{
        f"sequences_{horizon}": [
            (VIDEO, {**SEQUENCES, "dataset": dataset, **ARCHITECTURES[architecture]})
            for architecture in ("factorised", "video_swin", "frame_cnn")
        ]
        for horizon, dataset in HORIZONS.items()
    },
    "variants": [
        (VIDEO, {**SEQUENCES, "architecture": "frame_cnn", "oversampling": variant})
        for variant in ("none", "train_and_validation")
    ],
}


# (title, study, index in the study) of the networks timed by --throughput.
THROUGHPUT = [
    ("ViT, Mount Wilson", "mount_wilson", 0),
    ("CNN, Mount Wilson", "mount_wilson", 1),
    ("factorised video transformer", "sequences_24h", 0),
    ("VideoSwin", "sequences_24h", 1),
    ("last-frame CNN", "sequences_24h", 2),
]


def throughput(steps: int) -> dict:
    """Training samples/s of each network at its study's sizes, back to back."""
    from flarekit.studies.benchmarks import model_training_throughput

    networks = [(title, *STUDIES[study][index]) for title, study, index in THROUGHPUT]
    results = {}
    for title, folder, overrides in networks:
        config = fx.load_config(folder, overrides=overrides)
        network = fx._import_network(folder / "network.py").build_network(config)
        shape = tuple(network.input_shape[1:])
        multiclass = config.task == "multiclass"
        loss = (
            "sparse_categorical_crossentropy" if multiclass else "binary_crossentropy"
        )
        result = model_training_throughput(network, shape, steps=steps, loss=loss)
        results[title] = {"input_shape": list(shape), **result}
        print(title, json.dumps(results[title]), flush=True)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny datasets and models")
    parser.add_argument("--only", choices=sorted(STUDIES), action="append")
    parser.add_argument("--output-dir", default="",
                        help="runs root (default: each starter's output_dir)")
    parser.add_argument(
        "--throughput",
        type=int,
        metavar="STEPS",
        default=0,
        help="only time STEPS training steps of each network",
    )
    args = parser.parse_args(argv)
    if args.throughput:
        results = throughput(args.throughput)
        root = fx.runs_root(fx.load_config(VIT), VIT)
        io.write_json_atomic(root / "transformer_throughput.json", results)
        return
    import keras

    done, seconds = {}, {}
    for study in args.only or list(STUDIES):
        for folder, overrides in STUDIES[study]:
            if args.smoke:
                overrides = {
                    k: v
                    for k, v in overrides.items()
                    if k in ("architecture", "oversampling")
                }
            if args.output_dir:
                overrides = {**overrides, "output_dir": args.output_dir}
            started = time.perf_counter()
            run_dir = fx.run_experiment(folder, smoke=args.smoke, **overrides)
            seconds[str(run_dir)] = round(time.perf_counter() - started, 1)
            done.setdefault(study, []).append(str(run_dir))
            keras.backend.clear_session()
    lines = ["# Transformer comparison (tools/run_transformer_comparison.py)", ""]
    if "mount_wilson" in done:
        table = report.comparison_table(done["mount_wilson"])
        lines += [
            "## Mount Wilson classes",
            "",
            "```",
            table.to_string(index=False),
            "```",
            "",
        ]
    for study in ("sequences_24h", "sequences_48h", "variants"):
        if study in done:
            table = kfold_comparison_table(done[study])
            lines += [f"## {study}", "", "```", table.to_string(index=False), "```", ""]
    lines += ["## Wall time per run (s)", "", json.dumps(seconds, indent=2), ""]
    root = Path(args.output_dir) if args.output_dir else fx.runs_root(fx.load_config(VIT), VIT)
    name = "transformer_comparison_" + "_".join(done) + ("_smoke" if args.smoke else "")
    io.write_text_atomic(root / f"{name}.md", "\n".join(lines))
    io.write_json_atomic(root / f"{name}.json", {"runs": done, "seconds": seconds})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
