"""Label efficiency of a pretrained encoder: fine-tuned vs from scratch.

    python tools/label_efficiency.py \
        --encoder runs/ssl/simclr_pretrain/<time>/encoder.keras \
        [--fractions 0.01 0.1 1.0] [--seeds 0 1 2] [--output runs/label_efficiency] \
        [--smoke] [--set key=value ...]

A thin shell over `flarekit.studies.label_efficiency.run_label_efficiency`.
"""

import argparse

from flarekit.experiments import parse_override
from flarekit.studies.label_efficiency import run_label_efficiency


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", required=True, help="pretrained encoder (.keras)")
    parser.add_argument("--experiment", default="ssl/finetune_binary")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", default="runs/label_efficiency")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    overrides = dict(parse_override(text) for text in args.set)
    folder = run_label_efficiency(
        args.encoder,
        args.experiment,
        args.fractions,
        args.seeds,
        output_dir=args.output,
        smoke=args.smoke,
        **overrides,
    )
    print(f"label efficiency report: {folder / 'label_efficiency.md'}")


if __name__ == "__main__":
    main()
