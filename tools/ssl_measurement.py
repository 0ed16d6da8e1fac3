"""The SimCLR measurement of issue 4 on a CPU: pretrain, then label efficiency.

    nice -n 10 python tools/ssl_measurement.py --output runs/ssl_measurement

1. SimCLR pretraining (network_models/ssl/simclr_pretrain) on the full-disk
   training split, with the sizes below: pretraining images/s is measured.
2. The label-efficiency grid (network_models/ssl/finetune_binary): label
   fractions x {pretrained, scratch} x seeds, same encoder architecture and
   resolution on both sides.

The sizes are chosen so the whole measurement takes about a quarter of an
hour on two CPU cores: 32 x 32 inputs, the baseline CNN (16, 32, 64), batch 64.
"""

import argparse
import json
import time
from pathlib import Path

from flarekit import experiments
from flarekit.io import write_json_atomic
from flarekit.studies.label_efficiency import run_label_efficiency

ARCHITECTURE = dict(image_size=32, backbone="cnn", filters=(16, 32, 64))
PRETRAIN = dict(batch_size=64, epochs=25, warmup_epochs=3, tsne_examples=500)
FINETUNE = dict(
    batch_size=64,
    epochs=2,  # the pretrained arm: 1 epoch head only, then 1 epoch of everything
    freeze_epochs=1,
    min_steps_per_epoch=20,  # 1 % and 10 % subsets repeated up to 20 steps an epoch
    bootstrap_samples=200,
    normalization_samples=1024,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="runs/ssl_measurement")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--pretrained-run",
        default="",
        help="reuse this finished pretraining run folder",
    )
    args = parser.parse_args(argv)
    output = Path(args.output).resolve()
    started = time.perf_counter()
    if args.pretrained_run:
        pretrain_dir = Path(args.pretrained_run).resolve()
    else:
        pretrain_dir = experiments.run_experiment(
            "network_models/ssl/simclr_pretrain",
            fresh=True,
            output_dir=str(output / "pretrain"),
            **ARCHITECTURE,
            **PRETRAIN,
        )
    pretrain_s = time.perf_counter() - started
    grid_started = time.perf_counter()
    folder = run_label_efficiency(
        pretrain_dir / "encoder.keras",
        "ssl/finetune_binary",
        args.fractions,
        args.seeds,
        output_dir=output,
        **FINETUNE,
    )
    pretraining = json.loads((pretrain_dir / "metrics.json").read_text())["pretraining"]
    timings = {
        "pretrain_run_dir": str(pretrain_dir),
        # A reused pretraining run's own time is in pretraining.timings.train_s.
        "pretrain_reused": bool(args.pretrained_run),
        "pretrain_wall_s": pretrain_s,
        "grid_wall_s": time.perf_counter() - grid_started,
        "total_wall_s": time.perf_counter() - started,
        "pretraining": pretraining,
    }
    write_json_atomic(folder / "measurement.json", timings)
    print(f"measurement done in {timings['total_wall_s'] / 60:.1f} min: {folder}")


if __name__ == "__main__":
    main()
