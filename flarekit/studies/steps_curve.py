"""Sample quality against network evaluations for a trained diffusion model.

For each (sampler, spacing, steps) of a grid and each sample seed, the
generator is asked for the conditions of the class-matched floor set F
(`flarekit.studies.generative.scoring_setup`) and the images are scored with
every FID extractor of the generative study (the real-trained ladder
classifier and, when there is one, the SimCLR encoder), against the rest of
the real test split R. The real-vs-real floor FID(F, R) is at the same set
size as every generated set, so the distance of a setting from the floor is
its own, not the set size's.

The reference is DDPM at 1000 steps (the grid's DDPM setting with the most
steps). The question the study answers (issue: "<= 20 network evaluations
within 5 % of DDPM 1000's FID") is read off `best_setting`; when no setting
meets it, the exact-denoiser oracle (`tools/sampler_oracle.py`,
docs/results/diffusion/oracle.md) tells whether the gap is the sampler's or
the network's.

A seed draws the initial noise and the stochastic samplers' noise; every
setting gets the same seeds, so FID ratios to the reference are paired per
seed. Each finished (setting, seed) point is written at once, atomically, to
`steps_curve.json`; a rerun with the same output folder skips finished
points and reuses the saved extractor classifier, so a study of hours on a
CPU can run across sessions. `tools/fid_vs_steps.py` is the command line.

Example:
    >>> path = run_steps_curve("runs/fid_vs_steps",
    ...                        "runs/generation/conditional_diffusion/2026...")
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

RESULTS_FILE = "steps_curve.json"
REPORT_FILE = "steps_curve.md"
FIGURE_FILE = "figures/fid_vs_nfe.png"
CLASSIFIER_FILE = "extractor_classifier.keras"
# The label of the classifier's FID beside the extra extractors' labels.
CLASSIFIER_LABEL = "classifier"
SPACINGS = ("uniform", "log_snr", "karras")
# The goal: some setting with at most this many network evaluations
# whose FID is within this fraction of the reference's.
MAX_NFE = 20
TOLERANCE = 0.05


@dataclasses.dataclass(frozen=True)
class SamplerSetting:
    """One point of the grid: sampler, timestep spacing, steps, and eta for the
    samplers that take it (None: the sampler's default).

    Example:
        >>> SamplerSetting("ddim", "uniform", 10, eta=1.0).key
        'ddim+eta=1/uniform/10'
    """

    sampler: str
    spacing: str
    steps: int
    eta: float | None = None

    @property
    def label(self) -> str:
        """The sampler with its eta, e.g. "ddim" or "ddim+eta=1"."""
        return self.sampler + ("" if self.eta is None else f"+eta={self.eta:g}")

    @property
    def key(self) -> str:
        return f"{self.label}/{self.spacing}/{self.steps}"

    def generate_options(self) -> dict:
        """Keyword arguments of `DiffusionModel.generate`."""
        options = {
            "sampler": self.sampler,
            "spacing": self.spacing,
            "num_steps": self.steps,
        }
        if self.eta is not None:
            options["eta"] = self.eta
        return options

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def default_grid(spacings=SPACINGS) -> tuple:
    """The issue's grid: DDPM 1000 (uniform; the reference), DDIM {10, 20, 50}
    and DPM-Solver++ {5, 10, 20} with every spacing, and the two stochastic
    samplers, DPM-Solver++(2M) SDE (log-SNR) and DDIM with eta = 1 (uniform),
    at {10, 20, 50}, each with its default spacing."""
    grid = [SamplerSetting("ddpm", "uniform", 1000)]
    grid += [
        SamplerSetting("ddim", spacing, steps)
        for spacing in spacings
        for steps in (10, 20, 50)
    ]
    grid += [
        SamplerSetting("dpmpp", spacing, steps)
        for spacing in spacings
        for steps in (5, 10, 20)
    ]
    grid += [SamplerSetting("dpmpp_sde", "log_snr", steps) for steps in (10, 20, 50)]
    grid += [
        SamplerSetting("ddim", "uniform", steps, eta=1.0) for steps in (10, 20, 50)
    ]
    return tuple(grid)


# A grid that runs in seconds on the smoke model (checking the tool).
SMOKE_GRID = (
    SamplerSetting("ddpm", "uniform", 50),
    SamplerSetting("ddim", "uniform", 4),
    SamplerSetting("dpmpp", "log_snr", 4),
)


def parse_grid(tokens) -> tuple:
    """Grid settings from `SAMPLER[+eta=E]:SPACING:STEPS[,STEPS...]` tokens.

    SPACING is a spacing name, "all" (every one of `SPACINGS`) or "default"
    (the sampler's own).

    Raises:
        ValueError: a malformed token, or an unknown sampler, spacing or eta.

    Example:
        >>> [s.key for s in parse_grid(["ddpm:uniform:1000", "ddim+eta=1:default:10"])]
        ['ddpm/uniform/1000', 'ddim+eta=1/uniform/10']
    """
    from flarekit import diffusion

    grid = []
    for token in tokens:
        parts = str(token).split(":")
        if len(parts) != 3:
            raise ValueError(
                f"Grid item {token!r} is not SAMPLER[+eta=E]:SPACING:STEPS[,STEPS]."
            )
        name, spacing, steps = parts
        sampler, _, option = name.partition("+")
        eta = None
        if option:
            key, _, value = option.partition("=")
            if key != "eta" or not value:
                raise ValueError(
                    f"Grid item {token!r}: the only sampler option is eta=E, "
                    f"got {option!r}."
                )
            eta = float(value)
        options = {} if eta is None else {"eta": eta}
        # Checks the name, the option and eta's range, and gives the default
        # spacing.
        default = diffusion.get_sampler(sampler, "cosine", "velocity", **options)
        if spacing == "all":
            spacings = SPACINGS
        elif spacing == "default":
            spacings = (default.spacing,)
        elif spacing in diffusion.spacing_names():
            spacings = (spacing,)
        else:
            raise ValueError(
                f"Grid item {token!r}: unknown spacing {spacing!r}; expected one of "
                f"{diffusion.spacing_names()}, 'all' or 'default'."
            )
        try:
            step_counts = [int(value) for value in steps.split(",")]
        except ValueError:
            raise ValueError(
                f"Grid item {token!r}: steps must be integers, got {steps!r}."
            ) from None
        if min(step_counts) < 1:
            raise ValueError(f"Grid item {token!r}: steps must be >= 1.")
        grid += [
            SamplerSetting(sampler, s, n, eta) for s in spacings for n in step_counts
        ]
    return tuple(grid)


def reference_setting(grid) -> SamplerSetting | None:
    """The grid's DDPM setting with the most steps (DDPM 1000 in the default
    grid), or None when it has no DDPM setting."""
    ddpm = [setting for setting in grid if setting.sampler == "ddpm"]
    return max(ddpm, key=lambda setting: setting.steps) if ddpm else None


# ---- the measurement ------------------------------------------------------------
def run_steps_curve(
    out_dir,
    diffusion_run,
    grid=None,
    seeds=(0, 1, 2),
    per_class: int | None = None,
    min_images: int = 256,
    guidance_scale: float = 1.0,
    batch_size: int | None = 64,
    classifier_options=None,
    simclr_encoder="auto",
    require_second_extractor: bool = True,
    data_dir: str | None = None,
    max_nfe: int = MAX_NFE,
    tolerance: float = TOLERANCE,
    log=print,
) -> Path:
    """Score every (setting, seed) point of the grid; resumable.

    Args:
        out_dir: where steps_curve.json, steps_curve.md, the figure and the
            extractor classifier go. A folder with a steps_curve.json is
            resumed: finished points are skipped.
        diffusion_run: a finished diffusion run folder.
        grid: `SamplerSetting`s (default `default_grid()`).
        seeds: sample seeds; every setting gets all of them.
        per_class: floor-set images per GOES class; None (default): the
            smallest number giving at least `min_images` images.
        guidance_scale: classifier-free guidance w of every point (1: the
            conditional model, one network evaluation per step; otherwise two).
        batch_size: images per compiled sampling call (bounds memory; the
            stochastic samplers' noise depends on it, so a resumed study
            must keep it).
        classifier_options: keyword arguments of `train_classifier`.
        simclr_encoder: the second extractor, as `scoring_setup`.
        require_second_extractor: raise when there is no SimCLR encoder
            (the issue asks for FID with both extractors).
        max_nfe, tolerance: the goal `best_setting` reports against.

    Returns:
        The path of steps_curve.md.

    Raises:
        ValueError: a resumed folder whose set-up (generator weights, set
            size and images, extractors, guidance, batch size) differs; or no
            second extractor while one is required.
    """
    from flarekit.experiments.generation import load_generator
    from flarekit.io import write_json_atomic
    from flarekit.studies.generative import study_scoring_setup, weights_digest

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grid = tuple(default_grid() if grid is None else grid)
    results_path = out_dir / RESULTS_FILE
    previous = json.loads(results_path.read_text()) if results_path.exists() else None
    if previous is not None:
        log(
            f"flarekit: resuming {results_path} ({len(previous['points'])} points done)"
        )
        # Options that need no data first: a mismatch fails in seconds.
        _check_same_setup(
            previous["settings"],
            {"guidance_scale": float(guidance_scale), "batch_size": batch_size},
            results_path,
        )
    setup = study_scoring_setup(
        out_dir,
        diffusion_run,
        previous,
        CLASSIFIER_FILE,
        per_class=per_class,
        simclr_encoder=simclr_encoder,
        require_second_extractor=require_second_extractor,
        min_images=min_images,
        classifier_options=classifier_options,
        data_dir=data_dir,
        log=log,
    )
    generator = load_generator(diffusion_run)
    scorer, test, floor = setup["scorer"], setup["test"], setup["floor"]
    conditions = test["goes_class"][floor]
    extractors = {CLASSIFIER_LABEL: scorer.extractor} | {
        label: name for label, (name, _) in setup["extra_extractors"].items()
    }
    settings = {
        "diffusion_run": str(Path(diffusion_run).resolve()),
        # The generator's identity: its folder may move between sessions.
        "generator_digest": weights_digest(generator),
        "dataset": setup["config"]["dataset"],
        "channels": list(setup["channels"]),
        "generated_size": list(test["images"].shape[1:3]),
        "guidance_scale": float(guidance_scale),
        "batch_size": batch_size,
        "per_class": setup["per_class"],
        "n_images": len(floor),
        "n_reference": len(setup["reference"]),
        "floor_digest": hashlib.sha1(np.asarray(floor, "int64").tobytes()).hexdigest()[
            :10
        ],
        "extractors": extractors,
        "simclr_encoder": None
        if setup["simclr_encoder"] is None
        else str(setup["simclr_encoder"]),
    }
    if previous is not None:
        _check_same_setup(previous["settings"], settings, results_path)
    real = scorer.score(test["images"][floor], conditions)
    results = previous or {"points": {}, "sessions": []}
    results["settings"] = settings
    results["floor"] = {
        CLASSIFIER_LABEL: real["fid_floor"],
        **{label: value["fid_floor"] for label, value in real["extra_fid"].items()},
    }
    results["floor_consistency_macro_f1"] = real["consistency"]["macro_f1"]
    results["floor_counts"] = _class_counts(conditions)
    results["grid"] = [setting.to_json() for setting in grid]
    reference = reference_setting(grid)
    results["reference"] = None if reference is None else reference.key
    results["seeds"] = [int(seed) for seed in seeds]
    results["goal"] = {"max_nfe": int(max_nfe), "tolerance": float(tolerance)}
    session = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "load_before": os.getloadavg()[0],
        "setup_s": time.perf_counter() - started,
        "points": 0,
        "wall_s": time.perf_counter() - started,
    }
    results["sessions"].append(session)
    log(
        f"flarekit: {len(floor)} images a point ({setup['per_class']} per GOES "
        f"class at most); floor FID "
        + ", ".join(f"{k} {_text(v)}" for k, v in results["floor"].items())
    )

    todo = [
        (setting, int(seed))
        for setting in grid
        for seed in seeds
        if point_key(setting, seed) not in results["points"]
    ]
    log(f"flarekit: {len(todo)} of {len(grid) * len(seeds)} points to do")
    for number, (setting, seed) in enumerate(todo, 1):
        log(f"flarekit: [{number}/{len(todo)}] {setting.key}, seed {seed} ...")
        point = score_point(
            generator, scorer, conditions, setting, seed, guidance_scale, batch_size
        )
        results["points"][point_key(setting, seed)] = point
        session["points"] += 1
        session["wall_s"] = time.perf_counter() - started
        session["load_after"] = os.getloadavg()[0]
        write_json_atomic(results_path, results)
        write_steps_curve(out_dir, results, figure=False)
        log(
            f"flarekit: {setting.key}, seed {seed}: {point['network_evaluations']} "
            f"NFE, {point['wall_s']:.1f} s, FID "
            + ", ".join(f"{k} {_text(v)}" for k, v in point["fid"].items())
        )
    session["wall_s"] = time.perf_counter() - started
    write_json_atomic(results_path, results)
    return write_steps_curve(out_dir, results)


def _check_same_setup(previous: dict, settings: dict, results_path) -> None:
    """Raise when a resumed study's set-up differs from the one its points
    were measured with (the run's path and the encoder's path may move)."""
    changed = [
        key
        for key in settings
        if key not in ("diffusion_run", "simclr_encoder")
        and previous.get(key) != settings[key]
    ]
    if changed:
        raise ValueError(
            f"{results_path} was measured with another set-up: "
            + "; ".join(
                f"{key} was {previous.get(key)!r}, now {settings[key]!r}"
                for key in changed
            )
            + ". Use a new output folder, or the same options."
        )


def machine_description() -> str:
    """'<CPU model>, N cores, flags ..., GPU ...': where a session's wall
    times were measured (CPU speed depends on its flags, DESIGN.md)."""
    import tensorflow as tf

    from flarekit.studies.split_trap import machine_settings

    machine = machine_settings()
    flags = machine["bf16_flags"] + (["avx512"] if machine["avx512"] else [])
    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    return (
        f"{machine['cpu']}, {machine['cores']} cores"
        + (f", {' '.join(flags)}" if flags else "")
        + (f", GPUs {', '.join(gpus)}" if gpus else ", no GPU")
    )


def point_key(setting: SamplerSetting, seed: int) -> str:
    return f"{setting.key}/seed{int(seed)}"


def score_point(
    generator, scorer, conditions, setting, seed, guidance_scale=1.0, batch_size=None
) -> dict:
    """Generate F's conditions with one setting and seed, and score them.

    Returns:
        {"setting", "seed", "n_images", "nonfinite_images", "steps",
        "network_evaluations", "wall_s", "compile_s", "score_s",
        "fid": {extractor label: FID}, "consistency_macro_f1", "cluster_error"};
        FIDs are None when any image is not finite (counted, not scored).
    """
    images, timing = generator.timed_generate(
        conditions,
        guidance_scale=guidance_scale,
        seed=int(seed),
        batch_size=batch_size,
        **setting.generate_options(),
    )
    started = time.perf_counter()
    finite = np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    point = {
        "setting": setting.to_json(),
        "seed": int(seed),
        "n_images": len(images),
        "nonfinite_images": int((~finite).sum()),
        **timing,
    }
    if finite.all():
        scores = scorer.score(images, conditions)
        point["fid"] = {CLASSIFIER_LABEL: scores["fid"]} | {
            label: value["fid"] for label, value in scores["extra_fid"].items()
        }
        point["consistency_macro_f1"] = scores["consistency"]["macro_f1"]
        point["cluster_error"] = scores["cluster_error"]
    else:
        # A diverged sampler: its FID is undefined, and scoring only the
        # finite images would flatter it.
        point["fid"] = {label: None for label in (CLASSIFIER_LABEL, *scorer.extra)}
        point["consistency_macro_f1"] = point["cluster_error"] = None
    point["score_s"] = time.perf_counter() - started
    return point


def _class_counts(conditions) -> dict:
    from flarekit.data import goes

    counts = np.bincount(np.asarray(conditions), minlength=len(goes.GOES_CLASSES))
    return {name: int(count) for name, count in zip(goes.GOES_CLASSES, counts)}


# ---- summaries ------------------------------------------------------------------
def summarize(results: dict) -> list[dict]:
    """One row per grid setting with at least one finished seed.

    Returns:
        [{"setting" (a `SamplerSetting`), "key", "nfe", "n_seeds",
        "wall_s" (mean per point), "fid": {label: {"mean", "sd", "n"}},
        "ratio": {label: {"mean", "sd", "n"}} (FID / the reference's FID,
        paired by seed; None without a reference)}], in grid order.
    """
    from flarekit.metrics import aggregate_runs

    points = results["points"]
    labels = list(results["settings"]["extractors"])
    seeds = results["seeds"]
    reference = results.get("reference")
    rows = []
    for setting_json in results["grid"]:
        setting = SamplerSetting(**setting_json)
        done = [
            points[point_key(setting, seed)]
            for seed in seeds
            if point_key(setting, seed) in points
        ]
        if not done:
            continue
        fid = aggregate_runs(done, [f"fid.{label}" for label in labels])
        ratios = None
        if reference is not None:
            paired = []
            for point in done:
                base = points.get(f"{reference}/seed{point['seed']}")
                if base is not None:
                    paired.append(
                        {
                            label: _ratio(point["fid"][label], base["fid"][label])
                            for label in labels
                        }
                    )
            if paired:
                ratios = aggregate_runs(paired, labels)
        rows.append(
            {
                "setting": setting,
                "key": setting.key,
                "nfe": int(done[0]["network_evaluations"]),
                "n_seeds": len(done),
                "nonfinite_images": sum(point["nonfinite_images"] for point in done),
                "wall_s": float(np.mean([point["wall_s"] for point in done])),
                "fid": {label: fid[f"fid.{label}"] for label in labels},
                "ratio": None
                if ratios is None
                else {label: ratios[label] for label in labels},
            }
        )
    return rows


def _ratio(value, base):
    if value is None or base is None or not base:
        return None
    return float(value) / float(base)


def best_setting(
    rows, label, reference_key, n_seeds, max_nfe=MAX_NFE, tolerance=TOLERANCE
) -> dict | None:
    """The setting with the lowest mean FID (extractor `label`) among those
    with at most `max_nfe` network evaluations and all `n_seeds` seeds done,
    and whether its mean FID is within `tolerance` of the reference's.

    Returns:
        {"row", "reference_row", "ratio_of_means", "within"} (reference_row,
        ratio_of_means and within are None while the reference is not
        finished), or None when no such setting is finished.

    Example:
        >>> best_setting(summarize(results), "classifier", "ddpm/uniform/1000", 3)
    """
    by_key = {row["key"]: row for row in rows}
    candidates = [
        row
        for row in rows
        if row["key"] != reference_key
        and row["nfe"] <= max_nfe
        and row["n_seeds"] == n_seeds
        and np.isfinite(row["fid"][label]["mean"])
        and row["fid"][label]["n"] == n_seeds
    ]
    if not candidates:
        return None
    best = min(candidates, key=lambda row: row["fid"][label]["mean"])
    reference = by_key.get(reference_key)
    if reference is None or reference["n_seeds"] < n_seeds:
        return {
            "row": best,
            "reference_row": None,
            "ratio_of_means": None,
            "within": None,
        }
    ratio = best["fid"][label]["mean"] / reference["fid"][label]["mean"]
    return {
        "row": best,
        "reference_row": reference,
        "ratio_of_means": float(ratio),
        "within": bool(ratio <= 1.0 + tolerance),
    }


def _text(value, digits: int = 4) -> str:
    """A number to `digits` significant digits (FIDs span 0.01 to 100s), or
    "n/a" for None / NaN."""
    if value is None or not np.isfinite(float(value)):
        return "n/a"
    return f"{float(value):.{digits}g}"


def _mean_sd(stats, digits: int = 4) -> str:
    """ "mean ± sd"; the sd left out for one seed."""
    if stats is None or stats["mean"] is None or not np.isfinite(stats["mean"]):
        return "n/a"
    if stats["sd"] is None or not np.isfinite(stats["sd"]):
        return _text(stats["mean"], digits)
    return f"{_text(stats['mean'], digits)} ± {_text(stats['sd'], 2)}"


def steps_curve_markdown(results: dict) -> str:
    """The study as markdown: settings, one table and one goal sentence per
    extractor, the figure."""
    settings = results["settings"]
    rows = summarize(results)
    seeds = results["seeds"]
    reference = results.get("reference")
    goal = results.get("goal", {"max_nfe": MAX_NFE, "tolerance": TOLERANCE})
    reference_name = _setting_name(reference) if reference else "none"
    total_points = len(results["grid"]) * len(seeds)
    wall_s = sum(session["wall_s"] for session in results["sessions"])
    machines = sorted({session["machine"] for session in results["sessions"]})
    height, width = settings["generated_size"]
    counts = ", ".join(
        f"{name} {count}" for name, count in results["floor_counts"].items() if count
    )
    lines = [
        (
            f"# FID against network evaluations: {settings['dataset']}, "
            f"{'+'.join(settings['channels'])}, {height}x{width} px"
        ),
        "",
        f"- diffusion run: {settings['diffusion_run']}",
        (
            f"- set size: {settings['n_images']} generated images a point, the "
            f"GOES classes of the real floor set F ({counts}; at most "
            f"{settings['per_class']} per class, never more than half of one); "
            f"reference R: the other {settings['n_reference']} real test images"
        ),
        (
            f"- seeds: {', '.join(str(s) for s in seeds)} (initial noise and the "
            "stochastic samplers' noise; the same for every setting, so ratios to "
            "the reference are paired by seed)"
        ),
        f"- guidance w = {settings['guidance_scale']:g}"
        + (
            " (one network evaluation per step)"
            if settings["guidance_scale"] == 1.0
            else " (two network evaluations per step)"
        )
        + f"; sampling batch {settings['batch_size']}",
        "- extractors: "
        + "; ".join(
            f"{label} = {name}" for label, name in settings["extractors"].items()
        )
        + (
            f" (SimCLR encoder {settings['simclr_encoder']})"
            if settings.get("simclr_encoder")
            else ""
        ),
        f"- reference: {reference_name}",
        f"- points done: {sum(row['n_seeds'] for row in rows)} of {total_points}",
        (
            f"- wall time: {wall_s / 3600:.2f} h over "
            f"{len(results['sessions'])} session(s) ({'; '.join(machines)})"
        ),
        "",
    ]
    for label, extractor in settings["extractors"].items():
        floor = results["floor"][label]
        lines += [
            f"## FID, {label} extractor ({extractor})",
            "",
            (
                f"Real-vs-real floor FID(F, R) at {settings['n_images']} images: "
                f"{_text(floor)}."
            ),
            "",
            (
                "| sampler | spacing | steps | NFE | FID (mean ± sd) | "
                f"FID / {reference_name} | floor | seeds | wall s / point |"
            ),
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            setting = row["setting"]
            failed = (
                f" ({row['nonfinite_images']} non-finite images)"
                if row["nonfinite_images"]
                else ""
            )
            lines.append(
                f"| {setting.label} | {setting.spacing} | {setting.steps} | "
                f"{row['nfe']} | {_mean_sd(row['fid'][label])}{failed} | "
                f"{_ratio_text(row['ratio'], label)} "
                f"| {_text(floor)} | {row['n_seeds']} | {_text(row['wall_s'], 3)} |"
            )
        lines += ["", goal_sentence(rows, label, reference, len(seeds), goal), ""]
    lines += [f"![FID against network evaluations]({FIGURE_FILE})", ""]
    return "\n".join(lines)


def _ratio_text(ratio, label) -> str:
    if ratio is None:
        return "n/a"
    stats = ratio[label]
    if not np.isfinite(stats["mean"]):
        return "n/a"
    sd = "" if not np.isfinite(stats["sd"]) else f" ± {stats['sd']:.3f}"
    return f"{stats['mean']:.3f}{sd}"


def goal_sentence(rows, label, reference_key, n_seeds, goal) -> str:
    """Names the best setting within the NFE budget and whether it is within
    the tolerance of the reference."""
    max_nfe, tolerance = goal["max_nfe"], goal["tolerance"]
    best = best_setting(rows, label, reference_key, n_seeds, max_nfe, tolerance)
    if best is None:
        return (
            f"No setting with <= {max_nfe} network evaluations has an FID for all "
            f"{n_seeds} seeds (yet)."
        )
    row = best["row"]
    text = (
        f"Best with <= {max_nfe} network evaluations ({label}): "
        f"{_setting_name(row['key'])} ({row['nfe']} NFE), FID "
        f"{_mean_sd(row['fid'][label])}"
    )
    if best["within"] is None:
        return text + f"; {_setting_name(reference_key)} is not finished yet."
    text += (
        f" against {_mean_sd(best['reference_row']['fid'][label])} for "
        f"{_setting_name(reference_key)}: ratio of mean FIDs "
        f"{best['ratio_of_means']:.3f}, "
    )
    if best["within"]:
        return text + f"within {tolerance * 100:g} %."
    return text + (
        f"not within {tolerance * 100:g} %. No setting within the budget reaches the "
        "reference: whether the gap is the sampler's or the network's is what the "
        "exact-denoiser oracle separates (docs/results/diffusion/oracle.md: the "
        "same samplers and spacings with a perfect network)."
    )


def _setting_name(key) -> str:
    """'ddpm/uniform/1000' -> 'ddpm 1000 (uniform)'."""
    label, spacing, steps = str(key).split("/")
    return f"{label} {steps} ({spacing})"


# Colour per sampler, line style and marker per spacing: 25 lines stay apart.
SPACING_STYLES = {"uniform": ("-", "o"), "log_snr": ("--", "s"), "karras": (":", "^")}


def plot_steps_curve(results: dict):
    """FID against network evaluations (log x), one panel per extractor, one
    line per sampler and spacing (mean ± sd over seeds), the reference as a
    star and a dotted line with its tolerance band above it, and the real
    floor as a thick grey line.

    Returns:
        A matplotlib Figure.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    rows = summarize(results)
    labels = list(results["settings"]["extractors"])
    reference = results.get("reference")
    tolerance = results.get("goal", {}).get("tolerance", TOLERANCE)
    by_key = {row["key"]: row for row in rows}
    lines = {}
    for row in rows:
        if row["key"] != reference:
            lines.setdefault((row["setting"].label, row["setting"].spacing), []).append(
                row
            )
    samplers = sorted({sampler for sampler, _ in lines})
    colours = {
        sampler: colormaps["tab10"](index % 10)
        for index, sampler in enumerate(samplers)
    }
    figure = Figure(figsize=(6.0 * len(labels), 4.6))
    axes_list = figure.subplots(1, len(labels), squeeze=False)[0]
    for axes, label in zip(axes_list, labels):
        for (sampler, spacing), members in lines.items():
            members = sorted(members, key=lambda row: row["nfe"])
            linestyle, marker = SPACING_STYLES.get(spacing, ("-.", "D"))
            axes.errorbar(
                [row["nfe"] for row in members],
                [row["fid"][label]["mean"] for row in members],
                yerr=[np.nan_to_num(row["fid"][label]["sd"]) for row in members],
                color=colours[sampler],
                linestyle=linestyle,
                marker=marker,
                markersize=4,
                capsize=2,
                label=f"{sampler} ({spacing})",
            )
        if reference in by_key:
            row = by_key[reference]
            mean = row["fid"][label]["mean"]
            axes.errorbar(
                [row["nfe"]],
                [mean],
                yerr=[np.nan_to_num(row["fid"][label]["sd"])],
                color="black",
                marker="*",
                markersize=10,
                capsize=2,
                label=_setting_name(reference),
            )
            axes.axhline(mean, color="black", linestyle=":", linewidth=1)
            axes.axhspan(
                mean,
                mean * (1 + tolerance),
                color="black",
                alpha=0.08,
                label=f"within {tolerance * 100:g} % of it",
            )
        axes.axhline(
            results["floor"][label],
            color="grey",
            linewidth=3,
            alpha=0.5,
            label="real floor FID(F, R)",
        )
        axes.set_xscale("log")
        axes.set_xlabel("network evaluations per image")
        axes.set_ylabel(f"FID ({label})")
        axes.set_title(results["settings"]["extractors"][label], fontsize=9)
    axes_list[-1].legend(fontsize=6, loc="upper right", ncol=2)
    figure.tight_layout()
    return figure


def write_steps_curve(out_dir, results: dict, figure: bool = True) -> Path:
    """steps_curve.md (and, with `figure`, figures/fid_vs_nfe.png) from the
    results; returns the markdown's path."""
    from flarekit.io import save_figure, write_text_atomic

    out_dir = Path(out_dir)
    if figure:
        save_figure(plot_steps_curve(results), out_dir / FIGURE_FILE)
    return write_text_atomic(out_dir / REPORT_FILE, steps_curve_markdown(results))
