"""FID (two extractors, with the real floor) against network evaluations for
each sampler and spacing of a trained diffusion model; resumable.

    python tools/fid_vs_steps.py --diffusion-run RUN --out runs/fid_vs_steps
        [--per-class N | --min-images 256] [--seeds 0 1 2] [--guidance 1.0]
        [--grid ddpm:uniform:1000 ddim:all:10,20,50 ddim+eta=1:uniform:10 ...]
        [--simclr-encoder auto|none|PATH] [--batch-size 64] [--smoke]
    python tools/fid_vs_steps.py --out runs/fid_vs_steps --render
        (rewrite steps_curve.md and the figure from steps_curve.json)

Rerunning with the same --out resumes: finished (setting, seed) points are
skipped. Without --diffusion-run, the newest finished run of
generation/conditional_diffusion (a smoke one with --smoke; with --smoke and
none, a smoke run is trained first). The default grid is DDPM 1000 (the
reference), DDIM {10, 20, 50} and DPM-Solver++ {5, 10, 20} with every
spacing, DPM-Solver++ SDE and DDIM eta = 1 at {10, 20, 50}; a grid item is
SAMPLER[+eta=E]:SPACING|all|default:STEPS[,STEPS]. Writes steps_curve.json,
steps_curve.md, figures/fid_vs_nfe.png and the extractor classifier. Logic:
`flarekit.studies.steps_curve`.
"""

import argparse
import json
import time
from pathlib import Path

from flarekit.studies import generative as generative_study
from flarekit.studies import steps_curve


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", required=True, help="folder for steps_curve.md/.json, figures/"
    )
    parser.add_argument(
        "--diffusion-run",
        default=None,
        help="a finished diffusion run folder (default: the newest one)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a smoke run, a 3-setting grid, 2 seeds and a few images",
    )
    parser.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="images per GOES class in each set (default: enough for --min-images)",
    )
    parser.add_argument("--min-images", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--guidance", type=float, default=1.0)
    parser.add_argument(
        "--grid",
        nargs="+",
        default=None,
        metavar="SAMPLER:SPACING:STEPS",
        help="settings instead of the default grid",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--classifier-epochs", type=int, default=None)
    parser.add_argument("--classifier-batch-size", type=int, default=64)
    parser.add_argument(
        "--simclr-encoder",
        default="auto",
        help="second FID extractor: 'auto' (newest SimCLR run on the same dataset "
        "and channels; required unless --smoke), 'none', or an encoder.keras / "
        "SimCLR run folder",
    )
    parser.add_argument("--max-nfe", type=int, default=steps_curve.MAX_NFE)
    parser.add_argument("--tolerance", type=float, default=steps_curve.TOLERANCE)
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite the markdown and figure from --out's steps_curve.json",
    )
    args = parser.parse_args(argv)

    if args.render:
        results = json.loads((Path(args.out) / steps_curve.RESULTS_FILE).read_text())
        print(steps_curve.write_steps_curve(args.out, results).read_text())
        return

    started = time.perf_counter()
    diffusion_run = args.diffusion_run
    if diffusion_run is None:
        diffusion_run = generative_study.latest_run(
            generative_study.DIFFUSION_EXPERIMENT, smoke=args.smoke
        )
    if diffusion_run is None and args.smoke:
        from flarekit.experiments import find_experiment, run_experiment

        diffusion_run = run_experiment(
            find_experiment(generative_study.DIFFUSION_EXPERIMENT),
            smoke=True,
            fresh=True,
        )
    if diffusion_run is None:
        parser.error(
            "no finished generation/conditional_diffusion run found; train one "
            "(python network_models/generation/conditional_diffusion/network.py) "
            "or pass --diffusion-run"
        )
    if args.grid:
        grid = steps_curve.parse_grid(args.grid)
    else:
        grid = steps_curve.SMOKE_GRID if args.smoke else steps_curve.default_grid()
    seeds = args.seeds or ([0, 1] if args.smoke else [0, 1, 2])
    min_images = args.min_images or (12 if args.smoke else 256)
    epochs = args.classifier_epochs or (1 if args.smoke else 3)
    path = steps_curve.run_steps_curve(
        args.out,
        diffusion_run,
        grid=grid,
        seeds=tuple(seeds),
        per_class=args.per_class,
        min_images=min_images,
        guidance_scale=args.guidance,
        batch_size=args.batch_size,
        classifier_options={"epochs": epochs, "batch_size": args.classifier_batch_size},
        simclr_encoder=None if args.simclr_encoder == "none" else args.simclr_encoder,
        require_second_extractor=not args.smoke and args.simclr_encoder != "none",
        max_nfe=args.max_nfe,
        tolerance=args.tolerance,
    )
    print(f"flarekit: written to {path} ({time.perf_counter() - started:.0f} s)")
    print(path.read_text())


if __name__ == "__main__":
    main()
