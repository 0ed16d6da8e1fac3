"""The SimCLR measurement of issue 4 on a CPU: pretrain, probe, then label efficiency.

    nice -n 10 python tools/ssl_measurement.py --output runs/ssl_measurement
    # the gain-jitter arm of docs/results/ssl_label_efficiency:
    nice -n 10 python tools/ssl_measurement.py --output runs/ssl_gain_jitter \
        --pretrain-set brightness_dex=0.1 --pretrain-set contrast=0.2 --pretrain-set flip=none

1. SimCLR pretraining (network_models/ssl/simclr_pretrain, its defaults) on
   the 24,736 unlabelled active-region patches of the training period in
   `synthetic_sun/active_region_dense` (a patch of each region every 3.2 h;
   the same Sun, regions and splits as the labelled `active_region`), with the
   sizes below: pretraining images/s is measured. The online linear probe
   (a flare >= C1.0) is in the report.
2. A frozen linear probe (logistic regression on the encoder's features of
   every labelled training patch) against the same architecture with random
   weights: does the feature space hold the flare signal?
3. The label-efficiency grid (network_models/ssl/finetune_binary): label
   fractions x {pretrained, scratch} x seeds, same encoder architecture and
   resolution on both sides.

The sizes are chosen so the whole measurement takes about half an hour on two
CPU cores: 32 x 32 inputs, the baseline CNN (16, 32, 64); pretraining
batch 128 for 15 epochs (about 2,900 steps), fine-tuning 3 epochs.
"""

import argparse
import ast
import json
import time
from pathlib import Path

from flarekit import experiments
from flarekit.io import write_json_atomic
from flarekit.studies.label_efficiency import frozen_linear_probe, run_label_efficiency

# Pretraining uses the starter's own defaults (network_models/ssl/simclr_pretrain:
# active_region_dense, 32 px, CNN (16, 32, 64), batch 128, 15 epochs), so that
# this measurement and a plain run of the starter are the same run.
FINETUNE = dict(
    batch_size=64,
    epochs=3,  # the pretrained arm: 1 epoch head only, then 2 of everything
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
    parser.add_argument(
        "--pretrain-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a pretraining config key (Python literal), e.g. brightness_dex=0.0",
    )
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.pretrain_set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--pretrain-set wants KEY=VALUE, got {item!r}")
        try:
            overrides[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key.strip()] = value
    output = Path(args.output).resolve()
    started = time.perf_counter()
    if args.pretrained_run:
        pretrain_dir = Path(args.pretrained_run).resolve()
    else:
        pretrain_dir = experiments.run_experiment(
            "network_models/ssl/simclr_pretrain",
            fresh=True,
            output_dir=str(output / "pretrain"),
            **overrides,
        )
    pretrain_s = time.perf_counter() - started
    probe_started = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)
    probe = frozen_linear_probe(pretrain_dir / "encoder.keras", threshold="C1.0")
    probe["wall_s"] = time.perf_counter() - probe_started
    write_json_atomic(output / "probe.json", probe)
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
