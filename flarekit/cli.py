"""The `flarekit` command line.

    flarekit run network_models/xray_flux_forecast/starting_point [--smoke] [--set k=v]
    flarekit build synthetic_sun/active_region [--data-dir DIR] [--beam-options OPTS]
    flarekit report runs/xray_flux_forecast/starting_point/<time>
    flarekit explain --run RUN [--n 8]
    flarekit compare runs/ [--output DIR]
    flarekit labels --events LIST --samples CSV --output CSV [--columns MAP]
    flarekit predict --run RUN FILE_OR_FOLDER... [--channel-map MAP] [--output CSV] [--strict]
    flarekit serve --run RUN [--port 8000] [--allow-host NAME]

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
        from flarekit import experiments

        network = Path(args.experiment) / "network.py"
        if not network.exists():
            raise SystemExit(f"flarekit run: no network.py in {args.experiment}")
        # Config errors: one line and exit status 2 (--debug: traceback).
        experiments.main(network, args.rest)

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


def _sampler_name(name: str) -> str:
    """A registered sampler name (read from `flarekit.diffusion`'s registry when
    the `sample` command is parsed, so other commands do not import Keras)."""
    from flarekit import diffusion

    if name not in diffusion.sampler_names():
        raise argparse.ArgumentTypeError(
            f"unknown sampler {name!r}; known: {', '.join(diffusion.sampler_names())}"
        )
    return name


@register("sample", "generate images of one GOES class from a trained generative run")
def _sample(parser):
    parser.add_argument("--run", required=True, help="a diffusion or cvae run folder")
    parser.add_argument("--goes-class", default="M", help='e.g. "quiet", "M", "M2.5"')
    parser.add_argument("--n", type=int, default=16, help="number of images")
    parser.add_argument(
        "--sampler", default="dpmpp", type=_sampler_name,
        help="a registered sampler: ddpm, ddim, dpmpp, dpmpp_sde, ...",
    )
    parser.add_argument("--steps", type=int, default=20, help="sampling steps")
    parser.add_argument("--guidance", type=float, default=2.0, help="1 = no guidance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="output folder")

    def handle(args):
        from flarekit.experiments.generation import sample_to_folder

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
    parser.add_argument("--max-nonfinite", type=float, default=None,
                        help="largest fraction of NaN/infinite pixels on the disk "
                             "(default 0.05); above it a file is refused")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when any file is refused")

    def handle(args):
        import numpy as np

        from flarekit.serving.predict import (
            DEFAULT_MAX_NONFINITE_FRACTION,
            InputError,
            predict_files,
        )

        fraction = (DEFAULT_MAX_NONFINITE_FRACTION if args.max_nonfinite is None
                    else args.max_nonfinite)
        try:
            frame, path, skipped = predict_files(
                args.run, args.paths, args.channel_map, args.output,
                max_nonfinite_fraction=fraction)
        except InputError as error:  # a channel map no file could satisfy
            raise SystemExit(f"flarekit predict: {error}") from None
        ok = frame["status"] == "ok"
        for row in frame.to_dict("records"):
            outcome = (f"p={row['probability']:.3f} {row['class']}"
                       if row["status"] == "ok" else row["status"])
            print(f"{row['path']}: {outcome}")
        for entry in skipped:
            print(f"skipped (not an image file): {entry}")
        seconds = frame.loc[ok, "seconds"].astype(float)
        if len(seconds):
            rest = (f", median of the rest {np.median(seconds.iloc[1:]):.3f} s"
                    if len(seconds) > 1 else "")
            print(f"time per prediction: first {seconds.iloc[0]:.3f} s (includes the "
                  f"model's warm-up){rest}")
        refused = int((~ok).sum())
        print(f"{int(ok.sum())} forecast(s), {refused} refused, {len(skipped)} "
              f"skipped; CSV: {path}")
        if refused and args.strict:
            raise SystemExit(1)

    return handle


@register("serve", "web page for live forecasts from uploaded images (127.0.0.1)")
def _serve(parser):
    parser.add_argument("--run", required=True, help="a finished run folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-upload-mb", type=float, default=32.0)
    parser.add_argument("--allow-host", action="append", default=[],
                        help="a Host name to answer besides the bound address's "
                             "(127.0.0.1, localhost); repeatable")
    parser.add_argument("--max-concurrent", type=int, default=8,
                        help="connections (requests) handled at once; more get 503")
    parser.add_argument("--request-timeout", type=float, default=10.0,
                        help="seconds a read from a client may wait (then 408)")
    parser.add_argument("--max-nonfinite", type=float, default=None,
                        help="largest fraction of NaN/infinite pixels on the disk "
                             "(default 0.05)")

    def handle(args):
        from flarekit.serving.serve import serve

        serve(args.run, host=args.host, port=args.port,
              max_upload_bytes=int(args.max_upload_mb * 2**20),
              allowed_hosts=args.allow_host, max_concurrent=args.max_concurrent,
              request_timeout_s=args.request_timeout,
              max_nonfinite_fraction=args.max_nonfinite)

    return handle


@register("labels", "label samples (timestamp, region) from a flare event list")
def _labels(parser):
    parser.add_argument("--events", required=True,
                        help="flare list: SWPC/Hayes CSV, SWPC edited events, NCEI "
                             "reports, HEK, or any CSV with --columns")
    parser.add_argument("--samples", required=True, help="CSV with timestamp, region")
    parser.add_argument("--output", required=True, help="labelled CSV to write")
    parser.add_argument("--layout", default="auto")
    parser.add_argument("--columns", default=None,
                        help='column map, e.g. "class=Flare Class,start=Start Time,'
                             'peak=Peak Time,end=End Time,region=Active Region Number"')
    parser.add_argument("--skip-bad-rows", action="store_true")
    parser.add_argument("--horizon-hours", type=float, default=24.0)
    parser.add_argument("--threshold", default="M1.0")
    parser.add_argument("--window", default="peak")
    parser.add_argument("--boundaries", default="(]")
    parser.add_argument("--scale", default=None)
    parser.add_argument("--harp-map", default=None)
    parser.add_argument("--time-scale", default="utc", help="utc or tai")
    parser.add_argument("--skip-bad-times", action="store_true")

    def handle(args):
        import json

        from flarekit.data.events import label_sample_file

        threshold = args.threshold
        try:
            threshold = float(threshold)  # a flux; otherwise a class such as M1.0
        except ValueError:
            pass
        try:
            summary = label_sample_file(
                args.samples, args.events, args.output, layout=args.layout,
                harp_map_path=args.harp_map, columns=args.columns,
                skip_bad_rows=args.skip_bad_rows, horizon_hours=args.horizon_hours,
                threshold=threshold, window=args.window,
                boundaries=args.boundaries, scale=args.scale,
                time_scale=args.time_scale, skip_bad_times=args.skip_bad_times)
        except (ValueError, FileNotFoundError) as error:
            raise SystemExit(f"flarekit labels: {error}") from None
        print(json.dumps(summary, indent=2, default=str))

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
