"""Experiment configs: load `config.py`, merge the trainer's defaults, validate.

A config is checked whole before any run folder exists: every key must be
known (a common key, a key of the trainer's `DEFAULTS`, or a key the config
file itself defines for its network), keep the type of its default, and
satisfy its rule (`RULES`: batch_size >= 1, learning_rate > 0, ...). The
resolved config, defaults included, is what `config.json` records.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

# Keys every experiment has, whatever its trainer and network.
COMMON_DEFAULTS = {
    "trainer": "supervised",
    "data_dir": "",
    "channels": (),
    "threshold": "M1.0",
    "classes": ("quiet", "C", "M", "X"),
    "oversample": 0.0,
    "class_weight": "none",
    # "auto": bfloat16 only where the hardware computes it natively
    # (flarekit.experiments.precision); an explicit policy name wins.
    "mixed_precision": "auto",
    "strategy": "default",
    "deterministic": True,
    "seed": 0,
    "normalization_samples": 2048,
    # Stop when the monitored validation loss has not improved for this many
    # epochs (the best checkpoint is evaluated); 0 = train every epoch.
    "early_stopping_patience": 0,
    "bootstrap_samples": 1000,
    "output_dir": "runs",
    "verbose": "auto",
}
REQUIRED_KEYS = ("dataset", "task", "batch_size", "epochs", "learning_rate")

# Config key `trainer` -> "module:Class" of the Experiment subclass that runs it.
TRAINERS = {
    "supervised": "flarekit.experiments.runner:Experiment",
    "feature_class": "flarekit.experiments.feature_class:FeatureClassExperiment",
    "sequence_kfold": "flarekit.experiments.sequence_kfold:SequenceKFoldExperiment",
    "simclr": "flarekit.experiments.self_supervised:SimCLRExperiment",
    "finetune": "flarekit.experiments.self_supervised:FinetuneExperiment",
    "diffusion": "flarekit.experiments.generation:DiffusionExperiment",
    "cvae": "flarekit.experiments.generation:CVAEExperiment",
}

PRECISION_VALUES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


class ConfigError(ValueError):
    """A config key that does not exist, a value of the wrong type or out of
    range, or a protocol the trainer refuses. `flarekit.experiments.main`
    prints it as one line and exits with status 2."""


class Config(dict):
    """The resolved configuration of one experiment: a dict with attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"Config has no key {name!r}; keys are {sorted(self)}."
            ) from None

    def to_json(self) -> dict:
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in self.items()
        }


def trainer_class(name: str):
    """The Experiment class registered for config key `trainer`.

    Raises:
        ConfigError: an unknown trainer, listing the known ones.
    """
    if name not in TRAINERS:
        raise ConfigError(
            f"config key 'trainer' is {name!r}; expected one of {sorted(TRAINERS)}."
        )
    module, _, attribute = TRAINERS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def _is_config_value(name: str, value) -> bool:
    return (
        not name.startswith("_")
        and name == name.lower()
        and name != "smoke"
        and isinstance(value, (bool, int, float, str, tuple, list, type(None)))
    )


def _coerce(key: str, old, new, source: str):
    """`new` converted to the type of `old`, or ConfigError."""
    if old is None or new is None:
        return new
    if key == "mixed_precision" and isinstance(new, bool):
        # Configs written before the "auto" policy said True / False.
        return "mixed_bfloat16" if new else "float32"
    if key == "verbose" and isinstance(new, (int, str)) and not isinstance(new, bool):
        return new  # "auto" or Keras' 0 / 1 / 2; RULES checks which
    if isinstance(old, bool) or isinstance(new, bool):
        if isinstance(old, bool) and isinstance(new, bool):
            return new
    elif isinstance(old, float) and isinstance(new, int):
        return float(new)
    elif isinstance(old, (tuple, list)) and isinstance(new, (tuple, list)):
        return tuple(new)
    elif type(old) is type(new):
        return new
    raise ConfigError(
        f"{source}: config key {key!r} is {type(old).__name__} ({old!r}); "
        f"got {type(new).__name__} ({new!r})."
    )


def apply_overrides(config: dict, overrides: dict, source: str) -> dict:
    """Apply overrides, rejecting unknown keys and type changes.

    Raises:
        ConfigError: naming the key, the source of the override, and the known keys.
    """
    result = dict(config)
    for key, value in overrides.items():
        if key not in result:
            raise ConfigError(
                f"{source}: unknown config key {key!r}. Known keys: {sorted(result)}."
            )
        result[key] = _coerce(key, result[key], value, source)
    return result


def parse_override(text: str) -> tuple:
    """'epochs=3' -> ('epochs', 3); values are Python literals or plain strings."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value.")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


# ---- value rules -------------------------------------------------------------
# key -> (test, what is allowed). A rule applies when the key is in the config.
def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _one_of(*allowed):
    return (lambda value: value in allowed), "one of " + ", ".join(map(repr, allowed))


RULES = {
    "batch_size": (_positive_int, "an integer >= 1"),
    "epochs": (_positive_int, "an integer >= 1"),
    "learning_rate": (lambda v: v > 0, "a number > 0"),
    "finetune_learning_rate": (lambda v: v > 0, "a number > 0"),
    "seed": (lambda v: v >= 0, "an integer >= 0"),
    "image_size": (_positive_int, "an integer >= 1"),
    "normalization_samples": (_positive_int, "an integer >= 1"),
    "bootstrap_samples": (lambda v: v >= 0, "an integer >= 0"),
    "early_stopping_patience": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "an integer >= 0 (epochs without improvement; 0 = off)",
    ),
    "oversample": (lambda v: 0 <= v < 1, "a share of positives in [0, 1); 0 = off"),
    "dropout": (lambda v: 0 <= v < 1, "a rate in [0, 1)"),
    "weight_decay": (lambda v: v >= 0, "a number >= 0"),
    "label_fraction": (lambda v: 0 < v <= 1, "a share in (0, 1]"),
    "class_weight": _one_of("none", "balanced"),
    "learning_rate_schedule": _one_of("constant", "cosine"),
    "ema_momentum": (lambda v: 0 <= v < 1, "a momentum in [0, 1); 0 = off"),
    "flip": _one_of("none", "hemisphere", "any"),
    "mixed_precision": _one_of(*PRECISION_VALUES),
    "strategy": _one_of(*STRATEGIES),
    "verbose": _one_of("auto", 0, 1, 2),
    "filters": (
        lambda v: len(v) >= 1 and all(_positive_int(f) for f in v),
        "a non-empty tuple of integers >= 1",
    ),
}


def _check_threshold(value) -> bool:
    from flarekit.data import goes

    try:
        goes.class_to_flux(value)
    except (ValueError, TypeError, KeyError):
        return False
    return True


RULES["threshold"] = (_check_threshold, "a GOES class such as 'M1.0' or 'C5'")


def _is_registered_task(value) -> bool:
    # Imported here, not at the top, so that reading a config stays light.
    from flarekit.data import tasks

    return value in tasks.TASKS


class _RegisteredTaskNames:
    """What the error message offers: the task names registered when it is
    shown, including any an experiment's network.py registered."""

    def __str__(self) -> str:
        from flarekit.data import tasks

        return "one of " + ", ".join(map(repr, tasks.registered_names()))


RULES["task"] = (_is_registered_task, _RegisteredTaskNames())


def _check_shapes(config: dict, source: str) -> None:
    """Sizes the networks need: a CNN halves the image once per filter block, a
    ViT cuts it into whole patches, a UNet halves the generated image once per
    level below the top."""
    size = config.get("image_size")
    if not isinstance(size, int):
        return
    generated = (
        size // config.get("bin_factor", 1) if config.get("bin_factor") else size
    )
    if config.get("bin_factor") and size % config["bin_factor"]:
        raise ConfigError(
            f"{source}: config key 'image_size' is {size}; expected a multiple of "
            f"'bin_factor' ({config['bin_factor']})."
        )
    checks = []
    if config.get("filters") and config.get("trainer", "supervised") in (
        "supervised",
        "simclr",
        "finetune",
    ):
        checks.append(("filters", 2 ** len(config["filters"]), generated))
    if isinstance(config.get("patch_size"), int) and config["patch_size"] > 0:
        checks.append(("patch_size", config["patch_size"], size))
    if config.get("widths") and config.get("trainer") == "diffusion":
        checks.append(("widths", 2 ** (len(config["widths"]) - 1), generated))
    for key, divisor, value in checks:
        if value % divisor or value < divisor:
            raise ConfigError(
                f"{source}: config key 'image_size' is {size}; with {key}="
                f"{config[key]!r} the network needs an image size divisible by "
                f"{divisor}."
            )


def validate(config: dict, source: str) -> None:
    """Every rule of `RULES` and the network's size rules, or ConfigError naming
    the file, the key, the value found and what is allowed."""
    for key, (test, allowed) in RULES.items():
        if key not in config or config[key] is None:
            continue
        value = config[key]
        try:
            ok = bool(test(value))
        except TypeError:
            ok = False
        if not ok:
            raise ConfigError(
                f"{source}: config key {key!r} is {value!r}; expected {allowed}."
            )
    _check_shapes(config, source)


def trainer_defaults(trainer: str) -> dict:
    """The defaults a trainer declares (its class's `DEFAULTS`, merged down its
    class hierarchy), beside the common ones."""
    defaults = {}
    for klass in reversed(trainer_class(trainer).__mro__):
        defaults.update(getattr(klass, "DEFAULTS", {}) or {})
    return defaults


def load_config(path, smoke: bool = False, overrides=None) -> Config:
    """Load an experiment's `config.py` and resolve it.

    Order: common defaults, the trainer's defaults, the file's values, its
    `smoke` overrides (when asked), then `overrides`; then every value is
    validated (`validate`).

    Args:
        path: the config file (or the experiment folder holding it).
        smoke: apply the file's `smoke` overrides (a CPU run of under a minute).
        overrides: dict of further overrides (e.g. from `--set key=value`).

    Returns:
        A `Config` with every default filled in and `smoke` recorded.

    Raises:
        ConfigError: a missing required key, an unknown key, a type change or
            a value out of its range, naming the file and the key.
        FileNotFoundError: no config file.

    Example:
        >>> config = load_config("network_models/xray_flux_forecast/starting_point",
        ...                      smoke=True, overrides={"epochs": 1})
    """
    path = Path(path)
    if path.is_dir():
        path = path / "config.py"
    if not path.exists():
        raise FileNotFoundError(f"No experiment config at {path}.")
    namespace = {}
    try:
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    except SyntaxError as error:
        raise ConfigError(
            f"{path}, line {error.lineno}: not valid Python ({error.msg})."
        ) from None
    values = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in namespace.items()
        if _is_config_value(key, value)
    }
    missing = [key for key in REQUIRED_KEYS if key not in values]
    if missing:
        raise ConfigError(f"{path}: required config keys {missing} are missing.")
    trainer = values.get("trainer", COMMON_DEFAULTS["trainer"])
    if not isinstance(trainer, str) or trainer not in TRAINERS:
        raise ConfigError(
            f"{path}: config key 'trainer' is {trainer!r}; expected one of "
            f"{sorted(TRAINERS)}."
        )
    defaults = {**COMMON_DEFAULTS, **trainer_defaults(trainer)}
    config = {**defaults, **values}
    for key, default in defaults.items():
        config[key] = _coerce(key, default, config[key], str(path))
    smoke_overrides = namespace.get("smoke", {})
    if not isinstance(smoke_overrides, dict):
        raise ConfigError(f"{path}: 'smoke' must be a dict of overrides.")
    if smoke:
        config = apply_overrides(config, smoke_overrides, f"{path} (smoke)")
    if overrides:
        overrides = dict(overrides)
        if "trainer" in overrides and overrides["trainer"] != trainer:
            raise ConfigError(
                f"override: config key 'trainer' cannot change ({trainer!r} in "
                f"{path}); copy the experiment folder instead."
            )
        config = apply_overrides(config, overrides, f"{path} (override)")
    validate(config, str(path))
    config["smoke"] = bool(smoke)
    return Config(config)
