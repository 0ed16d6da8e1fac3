"""The `flarekit` command line.

    flarekit run network_models/xray_flux_forecast/starting_point [--smoke] [--set k=v]
    flarekit build synthetic_sun/active_region [--data-dir DIR]
    flarekit report runs/xray_flux_forecast/starting_point/<time>

Each sub-command is a thin shell over a library function; later capabilities
add theirs with `register`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_COMMANDS = {}


def register(name: str, help_text: str):
    """Decorator: `add_arguments(parser)` returns the command's handler."""

    def decorate(add_arguments):
        _COMMANDS[name] = (help_text, add_arguments)
        return add_arguments

    return decorate


@register("run", "train, evaluate and report an experiment folder")
def _run(parser):
    parser.add_argument("experiment", help="folder with config.py and network.py")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="--smoke, --set k=v, --fresh")

    def handle(args):
        from flarekit import experiment

        network = Path(args.experiment) / "network.py"
        if not network.exists():
            raise SystemExit(f"flarekit run: no network.py in {args.experiment}")
        experiment.run(network, args.rest)

    return handle


@register("build", "generate (prepare) a TFDS dataset")
def _build(parser):
    parser.add_argument("dataset", help='e.g. "synthetic_sun/active_region"')
    parser.add_argument("--data-dir", default=None)

    def handle(args):
        from flarekit.data import pipeline

        builder = pipeline.get_builder(args.dataset, args.data_dir)
        for name, split in builder.info.splits.items():
            print(f"{args.dataset} {name}: {split.num_examples} examples")

    return handle


@register("report", "re-render report.md and figures of a finished run")
def _report(parser):
    parser.add_argument("run_dir")

    def handle(args):
        import json

        import pandas as pd

        from flarekit import report

        run_dir = Path(args.run_dir)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        history = run_dir / "history.csv"
        report.write_report(
            run_dir,
            metrics,
            metrics.get("settings", {}),
            pd.read_csv(history) if history.exists() else None,
            pd.read_csv(run_dir / "predictions.csv"),
        )
        print(run_dir / "report.md")

    return handle


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="flarekit", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    handlers = {}
    for name, (help_text, add_arguments) in _COMMANDS.items():
        handlers[name] = add_arguments(commands.add_parser(name, help=help_text))
    args = parser.parse_args(argv)
    handlers[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
