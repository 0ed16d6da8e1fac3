"""Train the conditional diffusion model and the CVAE, then measure them.

    python tools/generative_study.py --out runs/generative_study [--smoke]
        [--diffusion-run RUN --cvae-run RUN]   # score finished runs instead of training
        [--set-diffusion epochs=3] [--per-class 8] [--guidance 1.0] [--seeds 0 1 2]
        [--extra-per-class 256] [--simclr-encoder auto|none|PATH]

Writes `study.md` and `study.json` (the sampler table: DDPM 1000, DDIM 50 and
20, DPM-Solver++ 20 and 10 and the CVAE, with network evaluations, wall time,
FID + floor, cluster metrics and conditional consistency; the speed-up of
DPM-Solver++ 20 over DDPM 1000; a second FID from a SimCLR encoder
pretrained on the same dataset and channels when one exists; the rebalancing experiment, mean +- sd over
seeds) and contact sheets in `figures/`. Logic: `flarekit.studies.generative`.
"""

import argparse
import time

from flarekit.studies import generative as generative_study
from flarekit.experiments import parse_override


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", required=True, help="folder for study.md, study.json, figures/"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny data, models and steps"
    )
    parser.add_argument("--diffusion-run", default=None)
    parser.add_argument("--cvae-run", default=None)
    parser.add_argument(
        "--set-diffusion", action="append", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--set-cvae", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument(
        "--guidance",
        type=float,
        default=1.0,
        help="guidance scale of the sampler table's rows",
    )
    parser.add_argument(
        "--extra-guided-row",
        type=float,
        nargs="*",
        default=[2.0],
        help="also a DPM-Solver++ 20 row at each of these guidance scales (none: "
        "pass the flag without values)",
    )
    parser.add_argument("--rebalancing-guidance", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--extra-per-class", type=int, default=256)
    parser.add_argument("--classifier-epochs", type=int, default=3)
    parser.add_argument("--classifier-batch-size", type=int, default=64)
    parser.add_argument(
        "--ddpm-steps",
        type=int,
        default=1000,
        help="steps of the DDPM row (1000 is the reference)",
    )
    parser.add_argument(
        "--simclr-encoder",
        default="auto",
        help="second FID extractor: 'auto' (newest SimCLR run on the same dataset "
        "and channels), 'none', or an encoder.keras / SimCLR run folder",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    timings = {}
    diffusion_run, cvae_run = args.diffusion_run, args.cvae_run
    if diffusion_run is None or cvae_run is None:
        diffusion_run, cvae_run, timings = generative_study.train_generators(
            smoke=args.smoke,
            diffusion_overrides=dict(parse_override(t) for t in args.set_diffusion),
            cvae_overrides=dict(parse_override(t) for t in args.set_cvae),
        )
    settings = [("ddpm", args.ddpm_steps)] + list(generative_study.SAMPLER_SETTINGS[1:])
    settings += [("dpmpp", 20, scale) for scale in args.extra_guided_row if scale]
    path = generative_study.run_study(
        args.out,
        diffusion_run,
        cvae_run,
        per_class=args.per_class,
        guidance_scale=args.guidance,
        rebalancing_guidance=args.rebalancing_guidance,
        seeds=tuple(args.seeds),
        extra_per_class=args.extra_per_class,
        settings=settings,
        classifier_options={
            "epochs": args.classifier_epochs,
            "batch_size": args.classifier_batch_size,
        },
        timings=timings,
        simclr_encoder=None if args.simclr_encoder == "none" else args.simclr_encoder,
    )
    print(f"flarekit: study written to {path} ({time.perf_counter() - started:.0f} s)")
    print(path.read_text())


if __name__ == "__main__":
    main()
