"""The `flarekit` command line.

    flarekit run network_models/xray_flux_forecast/starting_point [--smoke] [--set k=v]
    flarekit build synthetic_sun/active_region [--data-dir DIR] [--beam-options OPTS]
    flarekit report runs/xray_flux_forecast/starting_point/<time>
    flarekit explain --run RUN [--n 8]
    flarekit compare runs/ [--output DIR]
    flarekit predict --run RUN FILE_OR_FOLDER... [--channel-map MAP] [--output CSV]
    flarekit serve --run RUN [--port 8000]

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
    parser.add_argument("--beam-options", default=None,
                        help='build as an Apache Beam pipeline, e.g. "runner=DirectRunner"')
    parser.add_argument("--manual-dir", default=None, help="manually downloaded archives")

    def handle(args):
        from flarekit.data import pipeline

        if args.beam_options:
            builder = pipeline.build_with_beam(
                args.dataset, args.beam_options, args.data_dir, args.manual_dir)
        else:
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


@register("sample", "generate images of one GOES class from a trained generative run")
def _sample(parser):
    parser.add_argument("--run", required=True, help="a diffusion or cvae run folder")
    parser.add_argument("--goes-class", default="M", help='e.g. "quiet", "M", "M2.5"')
    parser.add_argument("--n", type=int, default=16, help="number of images")
    parser.add_argument("--sampler", default="dpmpp", choices=("ddpm", "ddim", "dpmpp"))
    parser.add_argument("--steps", type=int, default=20, help="sampling steps")
    parser.add_argument("--guidance", type=float, default=2.0, help="1 = no guidance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="output folder")

    def handle(args):
        from flarekit.generation_experiment import sample_to_folder

        out = sample_to_folder(
            args.run, args.goes_class, args.n, args.sampler, args.steps, args.out,
            guidance_scale=args.guidance, seed=args.seed,
        )
        print(out / "contact_sheet.png")

    return handle


@register("explain", "saliency figures of a run's test samples (figures/saliency.png)")
def _explain(parser):
    parser.add_argument("--run", required=True, help="a finished run folder")
    parser.add_argument("--n", type=int, default=8, help="samples to explain")
    parser.add_argument("--methods", default="",
                        help="comma-separated; default: all that apply")
    parser.add_argument("--split", default="test", help="dataset split to explain")
    parser.add_argument("--steps", type=int, default=32,
                        help="integrated-gradients steps")

    def handle(args):
        from flarekit.interpret import explain_run

        methods = [m for m in args.methods.split(",") if m] or None
        result = explain_run(args.run, n=args.n, methods=methods, split=args.split,
                             steps=args.steps)
        for method, seconds in result["seconds"].items():
            print(f"{method}: {seconds / args.n:.3f} s per sample")
        print(result["figure"])
        print(result["table"])

    return handle


@register("compare", "leaderboard of runs, ranked only within comparable settings")
def _compare(parser):
    parser.add_argument("paths", nargs="+", help="run folders or folders holding runs")
    parser.add_argument("--output", default=".", help="folder for leaderboard.md/.csv")

    def handle(args):
        from flarekit.compare import leaderboard, write_leaderboard

        board = leaderboard(args.paths)
        print(board.markdown)
        for path in write_leaderboard(board, args.output):
            print(path)

    return handle


@register("predict", "forecasts from FITS / JP2 / PNG / JPEG / .npy files or folders")
def _predict(parser):
    parser.add_argument("--run", required=True, help="a finished run folder")
    parser.add_argument("paths", nargs="+", help="image files or folders of them")
    parser.add_argument("--channel-map", default=None,
                        help="where each model channel comes from, e.g. "
                             "'euv_171=0,magnetogram=mean,continuum=mean,euv_94=mean'")
    parser.add_argument("--output", default=None,
                        help="CSV path (default predictions_<time>.csv)")

    def handle(args):
        import numpy as np

        from flarekit.predict import predict_files

        frame, path, skipped = predict_files(args.run, args.paths, args.channel_map,
                                             args.output)
        for row in frame.fillna({"error": ""}).to_dict("records"):
            outcome = row["error"] or f"p={row['probability']:.3f} {row['class']}"
            print(f"{row['path']}: {outcome}")
        for entry in skipped:
            print(f"skipped (not an image file): {entry}")
        seconds = frame.loc[frame["error"].fillna("") == "", "seconds"].astype(float)
        if len(seconds):
            rest = (f", median of the rest {np.median(seconds.iloc[1:]):.3f} s"
                    if len(seconds) > 1 else "")
            print(f"time per prediction: first {seconds.iloc[0]:.3f} s (includes the "
                  f"model's warm-up){rest}")
        failed = int((frame["error"].fillna("") != "").sum())
        print(f"{len(frame) - failed} forecast(s), {failed} failed, {len(skipped)} "
              f"skipped; CSV: {path}")
        if failed:
            raise SystemExit(1)

    return handle


@register("serve", "web page for live forecasts from uploaded images (127.0.0.1)")
def _serve(parser):
    parser.add_argument("--run", required=True, help="a finished run folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-upload-mb", type=float, default=32.0)

    def handle(args):
        from flarekit.serve import serve

        serve(args.run, host=args.host, port=args.port,
              max_upload_bytes=int(args.max_upload_mb * 2**20))

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
