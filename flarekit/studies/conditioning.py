"""Class- against log-flux-conditioned diffusion, asked for the same real images.

Two diffusion runs of one dataset, channels and grid, one conditioned on the
GOES class and one on log10 of the peak flux, are asked for the conditions
of the class-matched floor set F of the test split
(`flarekit.studies.generative.scoring_setup`): the class model for F's
classes, the flux model for F's own peak fluxes (log10, with the quiet floor
of 1e-9 W/m^2). Both sets are scored by one `Scorer` (FID with every
extractor against the rest of the test split R, with the real floor FID(F, R)
at the same size; ladder consistency), over several sample seeds.

A continuous condition can carry what a class cannot: where in its class a
flare is. `flux_response` measures it as Spearman's rank correlation between
the requested log flux and each image statistic (mean |B|, log mean EUV, the
judge's expected ladder class), over all images and within each of the C and
M classes. The real images' correlations, over F with its real fluxes and
over the whole test split, are the target: a generator cannot be asked to
follow the flux more closely than the real Sun does. A sweep over a grid of
log fluxes (`SWEEP`) draws the same statistics' medians against the
condition, beside the real test images binned by their flux.

Every finished (model, setting, seed) point is written at once to
`conditioning.json`; a rerun with the same folder skips it and reuses the
saved extractor classifier. `tools/conditioning_study.py` is the command line.

Example:
    >>> path = run_conditioning_study("runs/conditioning",
    ...     {"goes_class": "runs/generation/conditional_diffusion/2026...",
    ...      "log_flux": "runs/generation/conditional_diffusion/2026..."})
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

import numpy as np

from flarekit.data import goes
from flarekit.studies.steps_curve import (
    _check_same_setup,
    _mean_sd,
    machine_description,
)

RESULTS_FILE = "conditioning.json"
REPORT_FILE = "conditioning.md"
FIGURE_FILE = "figures/flux_response.png"
CLASSIFIER_FILE = "extractor_classifier.keras"
MODELS = ("goes_class", "log_flux")
MODEL_NAMES = {
    "goes_class": "class-conditioned",
    "log_flux": "log-flux-conditioned",
}
# (sampler, steps, guidance scale) of each scored point.
SETTINGS = (("dpmpp", 20, 1.0), ("dpmpp", 20, 2.0))
# Classes whose images are compared within the class.
WITHIN = ("C", "M")
# log10 peak fluxes of the sweep: the quiet floor, then A1 to X3 in half decades.
SWEEP = (-9.0, -8.0, -7.5, -7.0, -6.5, -6.0, -5.5, -5.0, -4.5, -4.0, -3.5)
SWEEP_HALF_WIDTH = 0.25


def flux_conditions(peak_flux) -> np.ndarray:
    """log10 of peak fluxes (W/m^2) with the quiet floor, as the generation
    task's `log_flux` condition (`tasks.base.log10_flux`).

    Example:
        >>> flux_conditions([0.0, 1e-5]).tolist()
        [-9.0, -5.0]
    """
    return np.log10(np.maximum(np.asarray(peak_flux, np.float64), goes.QUIET_FLUX))


def setting_key(setting) -> str:
    sampler, steps, scale = setting
    return f"{sampler}{int(steps)}_w{float(scale):g}"


def expected_ladder(probabilities) -> np.ndarray:
    """The judge's expected ladder index (0 quiet .. 3 X) of each image."""
    probabilities = np.asarray(probabilities, np.float64)
    return probabilities @ np.arange(probabilities.shape[1])


def flux_response(log_flux, goes_class, statistics: dict, within=WITHIN) -> dict:
    """Spearman's rho of each statistic with the log flux, over all images and
    within each class of `within` (NaN where fewer than 5 images or no spread).

    Args:
        log_flux: [n] log10 peak fluxes (requested, or the real ones).
        goes_class: [n] GOES class indices.
        statistics: {name: [n] values}.

    Returns:
        {"all" | class name: {statistic: rho}}.
    """
    from scipy.stats import spearmanr

    log_flux = np.asarray(log_flux, np.float64)
    goes_class = np.asarray(goes_class)
    groups = {"all": np.ones(log_flux.size, bool)} | {
        name: goes_class == goes.GOES_CLASSES.index(name) for name in within
    }
    response = {}
    for group, members in groups.items():
        response[group] = {}
        for key, values in statistics.items():
            values = np.asarray(values, np.float64)
            use = members & np.isfinite(values) & np.isfinite(log_flux)
            varied = (
                use.sum() >= 5
                and np.unique(log_flux[use]).size > 1
                and np.unique(values[use]).size > 1
            )
            response[group][key] = (
                float(spearmanr(log_flux[use], values[use])[0]) if varied else None
            )
    return response


def image_summaries(scorer, images, channels) -> dict:
    """`image_statistics` and the judge's expected ladder class of each image."""
    from flarekit.studies.generative import _predict, image_statistics

    return image_statistics(images, channels) | {
        "judge_ladder": expected_ladder(_predict(scorer.classifier, images))
    }


def _check_compatible(configs: dict) -> None:
    keys = ("dataset", "channels", "image_size", "bin_factor")
    first = configs[MODELS[0]]
    for model in MODELS:
        if configs[model].get("condition", "goes_class") != model:
            raise ValueError(
                f"The {model} run must be conditioned on {model!r}; its config.json "
                f"says condition={configs[model].get('condition')!r}."
            )
        differ = [key for key in keys if configs[model].get(key) != first.get(key)]
        if differ:
            raise ValueError(
                "The two diffusion runs must share "
                + ", ".join(keys)
                + "; they differ in "
                + ", ".join(
                    f"{key} ({first.get(key)!r} vs {configs[model].get(key)!r})"
                    for key in differ
                )
                + "."
            )


def run_conditioning_study(
    out_dir,
    runs: dict,
    settings=SETTINGS,
    seeds=(0, 1, 2),
    per_class: int | None = None,
    min_images: int = 256,
    sweep=SWEEP,
    sweep_images: int = 32,
    batch_size: int | None = 64,
    classifier_options=None,
    simclr_encoder="auto",
    data_dir: str | None = None,
    log=print,
) -> Path:
    """Score both generators on F's conditions and sweep the flux; resumable.

    Args:
        out_dir: where conditioning.json, conditioning.md, the figure and the
            extractor classifier go; a folder with results is resumed.
        runs: {"goes_class": run folder, "log_flux": run folder}.
        settings: (sampler, steps, guidance scale) of each point.
        seeds: sample seeds; every (model, setting) gets all of them.
        per_class, min_images: the size of F, as `scoring_setup`.
        sweep: log10 fluxes of the response sweep (one seed, the first).
        sweep_images: images per sweep value.
        batch_size: images per compiled sampling call.
        classifier_options: keyword arguments of `train_classifier`.
        simclr_encoder: the second extractor, as `scoring_setup`.

    Returns:
        The path of conditioning.md.

    Raises:
        ValueError: runs that are missing, not conditioned as named, or not of
            one dataset, channels and grid; a resumed folder measured with
            other runs or another F.
    """
    from flarekit.experiments.generation import load_generator
    from flarekit.io import write_json_atomic
    from flarekit.studies.generative import study_scoring_setup, weights_digest

    started = time.perf_counter()
    missing = [model for model in MODELS if model not in runs]
    if missing:
        raise ValueError(f"runs needs a run for each of {MODELS}; missing {missing}.")
    configs = {}
    for model in MODELS:
        path = Path(runs[model]) / "config.json"
        if not path.exists():
            raise ValueError(f"{runs[model]} is not a finished run: no config.json.")
        configs[model] = json.loads(path.read_text())
    _check_compatible(configs)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / RESULTS_FILE
    previous = json.loads(results_path.read_text()) if results_path.exists() else None
    if previous is not None:
        log(f"flarekit: resuming {results_path} ({len(previous['points'])} points)")
    setup = study_scoring_setup(
        out_dir,
        runs["goes_class"],
        previous,
        CLASSIFIER_FILE,
        per_class=per_class,
        simclr_encoder=simclr_encoder,
        min_images=min_images,
        classifier_options=classifier_options,
        data_dir=data_dir,
        log=log,
    )
    generators = {model: load_generator(runs[model]) for model in MODELS}
    scorer, test, floor = setup["scorer"], setup["test"], setup["floor"]
    channels = setup["channels"]
    goes_class = test["goes_class"][floor]
    log_flux = flux_conditions(test["peak_flux"][floor])
    conditions = {"goes_class": goes_class, "log_flux": log_flux}
    run_settings = {
        "runs": {model: str(Path(runs[model]).resolve()) for model in MODELS},
        "generator_digests": {
            model: weights_digest(generator) for model, generator in generators.items()
        },
        "dataset": configs["goes_class"]["dataset"],
        "channels": list(channels),
        "generated_size": list(test["images"].shape[1:3]),
        "epochs": {model: configs[model].get("epochs") for model in MODELS},
        "batch_size": batch_size,
        "per_class": setup["per_class"],
        "n_images": len(floor),
        "n_reference": len(setup["reference"]),
        "extractors": {"classifier": scorer.extractor}
        | {label: name for label, (name, _) in setup["extra_extractors"].items()},
        "simclr_encoder": None
        if setup["simclr_encoder"] is None
        else str(setup["simclr_encoder"]),
    }
    if previous is not None:
        _check_same_setup(
            {**previous["settings"], "runs": None},
            {**run_settings, "runs": None},
            results_path,
        )
    results = previous or {"points": {}, "sweep": {}, "sessions": []}
    results["settings"] = run_settings
    results["seeds"] = [int(seed) for seed in seeds]
    results["grid"] = [setting_key(setting) for setting in settings]

    real_scores = scorer.score(test["images"][floor], goes_class)
    real_stats = image_summaries(scorer, test["images"][floor], channels)
    all_log_flux = flux_conditions(test["peak_flux"])
    all_stats = image_summaries(scorer, test["images"], channels)
    results["real"] = {
        "fid_floor": {"classifier": real_scores["fid_floor"]}
        | {label: v["fid_floor"] for label, v in real_scores["extra_fid"].items()},
        "consistency_macro_f1": real_scores["consistency"]["macro_f1"],
        "response_floor": flux_response(log_flux, goes_class, real_stats),
        "response_test_split": flux_response(
            all_log_flux, test["goes_class"], all_stats
        ),
        "within_counts": {
            "floor": {
                name: int((goes_class == goes.GOES_CLASSES.index(name)).sum())
                for name in WITHIN
            },
            "test_split": {
                name: int((test["goes_class"] == goes.GOES_CLASSES.index(name)).sum())
                for name in WITHIN
            },
        },
        "sweep": _binned_medians(all_log_flux, all_stats, sweep),
    }
    session = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "load_before": os.getloadavg()[0],
        "setup_s": time.perf_counter() - started,
        "points": 0,
    }
    results["sessions"].append(session)
    write_json_atomic(results_path, results)

    for model in MODELS:
        for setting in settings:
            sampler, steps, scale = setting
            for seed in seeds:
                key = f"{model}/{setting_key(setting)}/seed{int(seed)}"
                if key in results["points"]:
                    continue
                log(f"flarekit: {key} ...")
                images, timing = generators[model].timed_generate(
                    conditions[model],
                    sampler=sampler,
                    num_steps=int(steps),
                    guidance_scale=float(scale),
                    seed=int(seed),
                    batch_size=batch_size,
                )
                point = {"model": model, "setting": setting_key(setting)}
                point |= {"seed": int(seed), "n_images": len(images), **timing}
                point |= _score(scorer, images, goes_class, log_flux, channels)
                results["points"][key] = point
                session["points"] += 1
                session["wall_s"] = time.perf_counter() - started
                session["load_after"] = os.getloadavg()[0]
                write_json_atomic(results_path, results)
                log(
                    f"flarekit: {key}: {timing['wall_s']:.1f} s, FID "
                    + ", ".join(f"{k} {v:.3g}" for k, v in point["fid"].items())
                )
    sweep_conditions = np.repeat(np.asarray(sweep, np.float64), int(sweep_images))
    for model in MODELS:
        if model in results["sweep"]:
            continue
        asked = (
            goes.flux_to_class_index(10.0**sweep_conditions)
            if model == "goes_class"
            else sweep_conditions
        )
        images, timing = generators[model].timed_generate(
            np.asarray(asked),
            sampler=settings[0][0],
            num_steps=int(settings[0][1]),
            guidance_scale=float(settings[0][2]),
            seed=int(seeds[0]),
            batch_size=batch_size,
        )
        stats = image_summaries(scorer, images, channels)
        results["sweep"][model] = {
            "setting": setting_key(settings[0]),
            "wall_s": timing["wall_s"],
            **_medians_at(sweep_conditions, stats, sweep),
        }
        session["wall_s"] = time.perf_counter() - started
        write_json_atomic(results_path, results)
    session["wall_s"] = time.perf_counter() - started
    write_json_atomic(results_path, results)
    return write_conditioning(out_dir, results)


def _score(scorer, images, goes_class, log_flux, channels) -> dict:
    finite = np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    if not finite.all():
        # A diverged sampler: FID and ranks of a subset would flatter it.
        return {"nonfinite_images": int((~finite).sum()), "fid": {}, "response": {}}
    scores = scorer.score(images, goes_class)
    stats = image_summaries(scorer, images, channels)
    return {
        "nonfinite_images": 0,
        "fid": {"classifier": scores["fid"]}
        | {label: value["fid"] for label, value in scores["extra_fid"].items()},
        "consistency_macro_f1": scores["consistency"]["macro_f1"],
        "response": flux_response(log_flux, goes_class, stats),
        "medians": {key: float(np.nanmedian(v)) for key, v in stats.items()},
    }


def _medians_at(log_flux, statistics: dict, sweep) -> dict:
    """Median and quartiles of each statistic at each sweep value (exact match)."""
    out = {"log_flux": [float(v) for v in sweep], "n": [], "statistics": {}}
    for value in sweep:
        members = np.isclose(log_flux, value)
        out["n"].append(int(members.sum()))
    for key, values in statistics.items():
        values = np.asarray(values, np.float64)
        out["statistics"][key] = [
            _quartiles(values[np.isclose(log_flux, value)]) for value in sweep
        ]
    return out


def _binned_medians(log_flux, statistics: dict, sweep) -> dict:
    """The same for real images: those within +-SWEEP_HALF_WIDTH of each value
    (the quiet floor exactly)."""
    log_flux = np.asarray(log_flux, np.float64)
    quiet = np.log10(goes.QUIET_FLUX)
    masks = [
        np.isclose(log_flux, quiet)
        if np.isclose(value, quiet)
        else (np.abs(log_flux - value) < SWEEP_HALF_WIDTH)
        for value in sweep
    ]
    return {
        "log_flux": [float(v) for v in sweep],
        "n": [int(mask.sum()) for mask in masks],
        "statistics": {
            key: [_quartiles(np.asarray(values, np.float64)[m]) for m in masks]
            for key, values in statistics.items()
        },
    }


def _quartiles(values) -> list | None:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return [float(q) for q in np.percentile(values, (25, 50, 75))]


# ---- summaries ------------------------------------------------------------------
def summarize(results: dict) -> list[dict]:
    """One row per (model, setting) with at least one finished seed: mean and
    sd over seeds (`aggregate_runs`) of each FID, consistency and response."""
    from flarekit.metrics import aggregate_runs

    labels = list(results["settings"]["extractors"])
    fid_keys = [f"fid.{label}" for label in labels]
    response_keys = [
        f"response.{group}.{key}"
        for group in ("all", *WITHIN)
        for key in _statistic_keys(results)
    ]
    rows = []
    for model in MODELS:
        for setting in results["grid"]:
            points = [
                point
                for point in results["points"].values()
                if point["model"] == model and point["setting"] == setting
            ]
            if not points:
                continue
            stats = aggregate_runs(
                points, ["wall_s", "consistency_macro_f1", *fid_keys, *response_keys]
            )
            rows.append(
                {
                    "model": model,
                    "setting": setting,
                    "seeds": len(points),
                    "n_images": points[0]["n_images"],
                    "nfe": points[0]["network_evaluations"],
                    "nonfinite": sum(p["nonfinite_images"] for p in points),
                    "wall_s": stats["wall_s"],
                    "consistency": stats["consistency_macro_f1"],
                    "fid": {label: stats[f"fid.{label}"] for label in labels},
                    "response": {key: stats[key] for key in response_keys},
                }
            )
    return rows


def _statistic_keys(results: dict) -> list[str]:
    return list(results["real"]["response_floor"]["all"])


def _rho(value) -> str:
    """A rank correlation, signed, or "n/a"."""
    return "n/a" if value is None or not np.isfinite(value) else f"{value:+.2f}"


def _rho_stats(stats) -> str:
    """ "mean ± sd" of a rank correlation over seeds, signed like `_rho`."""
    text = _rho(stats["mean"])
    if text != "n/a" and np.isfinite(stats["sd"]):
        text += f" ± {stats['sd']:.2f}"
    return text


STATISTIC_NAMES = {
    "mean_abs_b": "mean |B|",
    "judge_ladder": "judge's class",
}


def _statistic_name(key: str, markdown: bool = False) -> str:
    name = STATISTIC_NAMES.get(key) or (
        key.replace("log_", "log ") if key.startswith("log_") else key
    )
    # A bare "|" would end a markdown table cell.
    return name.replace("|", "\\|") if markdown else name


def conditioning_markdown(results: dict) -> str:
    settings = results["settings"]
    labels = list(settings["extractors"])
    rows = summarize(results)
    real = results["real"]
    keys = _statistic_keys(results)
    lines = [
        "# Class- vs log-flux-conditioned diffusion on the same real conditions",
        "",
        (
            f"- Dataset {settings['dataset']}, channels {', '.join(settings['channels'])}, "
            f"{settings['generated_size'][0]} x {settings['generated_size'][1]} px."
        ),
        "- Runs: "
        + "; ".join(
            f"{MODEL_NAMES[m]} `{Path(settings['runs'][m]).name}` "
            f"({settings['epochs'][m]} epochs, weights {settings['generator_digests'][m]})"
            for m in MODELS
        )
        + ".",
        (
            f"- Asked for F: {settings['n_images']} real test images, up to "
            f"{settings['per_class']} per GOES class. The class model gets their classes; "
            "the flux model gets their own log10 peak fluxes (quiet: 1e-9 W/m^2). "
            f"FID against the other {settings['n_reference']} test images (R)."
        ),
        "- Extractors: "
        + "; ".join(
            f"{label}: {name}" for label, name in settings["extractors"].items()
        )
        + ".",
        f"- Sample seeds {results['seeds']}; every cell is mean ± sd over them.",
        "",
        "## Quality and class consistency",
        "",
        "| model | sampler | NFE | seeds | "
        + " | ".join(f"FID ({label})" for label in labels)
        + " | consistency macro-F1 | wall s |",
        "|---|---|---|---|" + "---|" * len(labels) + "---|---|",
        "| real images F (floor) | - | - | - | "
        + " | ".join(f"{real['fid_floor'][label]:.3g}" for label in labels)
        + f" | {real['consistency_macro_f1']:.3f} | - |",
    ]
    for row in rows:
        lines.append(
            f"| {MODEL_NAMES[row['model']]} | {row['setting']} | {row['nfe']} | "
            f"{row['seeds']} | "
            + " | ".join(_mean_sd(row["fid"][label], 3) for label in labels)
            + f" | {_mean_sd(row['consistency'], 3)} | {_mean_sd(row['wall_s'], 3)} |"
        )
    counts = real["within_counts"]
    lines += [
        "",
        "## Does the image follow the flux?",
        "",
        "Spearman's rho of each image statistic with the log10 peak flux asked for "
        "(real rows: the image's own flux), over all images and within a class "
        "(F has "
        + ", ".join(f"{counts['floor'][n]} {n}" for n in WITHIN)
        + "; the test split "
        + ", ".join(f"{counts['test_split'][n]} {n}" for n in WITHIN)
        + "). Within a class the class model gets one condition, so its rho is "
        "noise about 0: only a continuous condition can carry it.",
        "",
        "| images | sampler | "
        + " | ".join(
            f"{_statistic_name(key, markdown=True)}, {group}"
            for group in ("all", *WITHIN)
            for key in keys
        )
        + " |",
        "|---|---|" + "---|" * (len(keys) * (1 + len(WITHIN))),
    ]
    for name, response in (
        ("real test split", real["response_test_split"]),
        ("real images F", real["response_floor"]),
    ):
        lines.append(
            f"| {name} | - | "
            + " | ".join(
                _rho(response[group][key]) for group in ("all", *WITHIN) for key in keys
            )
            + " |"
        )
    for row in rows:
        lines.append(
            f"| {MODEL_NAMES[row['model']]} | {row['setting']} | "
            + " | ".join(
                _rho_stats(row["response"][f"response.{group}.{key}"])
                for group in ("all", *WITHIN)
                for key in keys
            )
            + " |"
        )
    if results.get("sweep"):
        lines += [
            "",
            (
                f"The sweep (figure `{FIGURE_FILE}`): the median of each statistic of "
                "images asked for each log flux, against the real test images within "
                f"±{SWEEP_HALF_WIDTH} dex of it."
            ),
        ]
    lines += ["", "## Cost", ""]
    for session in results["sessions"]:
        lines.append(
            f"- {session['started']}: {session.get('points', 0)} points, "
            f"{session.get('wall_s', 0):.0f} s wall, on {session['machine']}, "
            f"load {session['load_before']:.1f} before"
            + (
                f", {session['load_after']:.1f} after"
                if "load_after" in session
                else ""
            )
            + "."
        )
    return "\n".join(lines) + "\n"


def plot_flux_response(results: dict):
    """Median (and quartiles) of each statistic against the log flux: real
    test images binned by flux, and each model's sweep."""
    from matplotlib.figure import Figure

    keys = _statistic_keys(results)
    figure = Figure(figsize=(4.2 * len(keys), 3.8))
    axes_list = figure.subplots(1, len(keys), squeeze=False)[0]
    curves = {"real test images": results["real"]["sweep"]} | {
        MODEL_NAMES[m]: results["sweep"][m] for m in MODELS if m in results["sweep"]
    }
    styles = {"real test images": ("black", "o")}
    colours = iter(("tab:blue", "tab:orange"))
    for axes, key in zip(axes_list, keys):
        for name, curve in curves.items():
            colour, marker = styles.get(name) or (next(colours, "tab:green"), "s")
            styles[name] = (colour, marker)
            x, low, mid, high = [], [], [], []
            for value, quartiles in zip(curve["log_flux"], curve["statistics"][key]):
                if quartiles is not None:
                    x.append(value)
                    low.append(quartiles[0])
                    mid.append(quartiles[1])
                    high.append(quartiles[2])
            axes.plot(x, mid, color=colour, marker=marker, markersize=4, label=name)
            axes.fill_between(x, low, high, color=colour, alpha=0.12)
        axes.set_xlabel("log10 peak flux asked for (W/m^2)")
        axes.set_ylabel(_statistic_name(key))
    axes_list[0].legend(fontsize=7)
    figure.tight_layout()
    return figure


def write_conditioning(out_dir, results: dict, figure: bool = True) -> Path:
    from flarekit.io import save_figure, write_text_atomic

    out_dir = Path(out_dir)
    if figure and results.get("sweep"):
        save_figure(plot_flux_response(results), out_dir / FIGURE_FILE)
    return write_text_atomic(out_dir / REPORT_FILE, conditioning_markdown(results))
