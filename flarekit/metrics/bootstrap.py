"""Bootstrap intervals that resample whole groups (active regions), not samples.

Consecutive observations of one active region are nearly the same sample, so
resampling single observations treats them as independent and gives
intervals that are too narrow. A cluster (block) bootstrap draws whole
regions with replacement and keeps every observation of a drawn region
(SCIENCE.md, "Uncertainty"). Intervals are percentile intervals.

References:
    Efron, B. & Tibshirani, R. J. 1993, An Introduction to the Bootstrap,
    ch. 13 (percentile intervals).
    Field, C. A. & Welsh, A. H. 2007, J. R. Stat. Soc. B 69, 369 (bootstrapping
    clustered data).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


class GroupResampler:
    """Draws bootstrap resamples of sample indices, whole groups at a time.

    Args:
        groups: group label of each sample (e.g. the region), shape [n]; None
            makes every sample its own group (the ordinary bootstrap).
        n_samples: number of samples, needed only when `groups` is None.
        seed: seed of the random generator; the same seed gives the same
            resamples.

    Raises:
        ValueError: no samples, or neither groups nor n_samples given.

    Example:
        >>> resampler = GroupResampler(["a", "a", "b"], seed=0)
        >>> sorted({len(resampler.draw()) for _ in range(50)})  # aa, ab or bb
        [2, 3, 4]
    """

    def __init__(self, groups, n_samples: int | None = None, seed: int = 0):
        if groups is None:
            if n_samples is None:
                raise ValueError("Give groups, or n_samples when groups is None.")
            codes = np.arange(int(n_samples))
        else:
            _, codes = np.unique(np.asarray(groups), return_inverse=True)
            codes = codes.ravel()
        if codes.size == 0:
            raise ValueError("Cannot bootstrap zero samples.")
        self.n_samples = codes.size
        self.n_groups = int(codes.max()) + 1
        # Samples sorted by group: group g owns order[starts[g]:starts[g]+sizes[g]].
        self.order = np.argsort(codes, kind="stable")
        self.sizes = np.bincount(codes, minlength=self.n_groups)
        self.starts = np.r_[0, np.cumsum(self.sizes)[:-1]]
        self.rng = np.random.default_rng(seed)

    def draw(self) -> np.ndarray:
        """Indices of one resample: n_groups groups drawn with replacement."""
        chosen = self.rng.integers(0, self.n_groups, size=self.n_groups)
        sizes = self.sizes[chosen]
        # Vectorised concatenation of the chosen groups' index ranges.
        offsets = np.repeat(np.cumsum(sizes) - sizes, sizes)
        firsts = np.repeat(self.starts[chosen], sizes)
        positions = np.arange(sizes.sum()) - offsets + firsts
        return self.order[positions]


def _as_arrays(arrays) -> tuple[np.ndarray, ...]:
    if isinstance(arrays, np.ndarray):
        arrays = (arrays,)
    arrays = tuple(np.asarray(a) for a in arrays)
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"Arrays to bootstrap differ in length: {sorted(lengths)}.")
    return arrays


def bootstrap_distribution(
    statistic: Callable[..., float | dict],
    arrays: Sequence,
    groups=None,
    n_boot: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, np.ndarray] | np.ndarray:
    """Values of `statistic` over group-resampled copies of `arrays`.

    Args:
        statistic: called as statistic(*resampled_arrays); returns a float,
            or a dict of floats to bootstrap several statistics on the same
            resamples (paired, and faster).
        arrays: one array or a sequence of arrays, all of length n.
        groups: group label of each sample, shape [n]; None for the
            ordinary per-sample bootstrap.
        n_boot: number of resamples.
        seed: random seed.
        progress: show a progress bar over the resamples (tqdm, on stderr);
            it is shown only when stderr is a terminal, so logs, CI and
            captured test output stay clean. False never shows it.

    Returns:
        array [n_boot] (float statistic) or dict name -> array [n_boot].

    Raises:
        ValueError: arrays or groups of different lengths, n_boot < 1.
    """
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot!r}.")
    arrays = _as_arrays(arrays)
    n_samples = len(arrays[0])
    if groups is not None and len(groups) != n_samples:
        raise ValueError(f"groups has {len(groups)} entries for {n_samples} samples.")
    resampler = GroupResampler(groups, n_samples=n_samples, seed=seed)
    values = []
    for _ in _progress_bar(int(n_boot), progress):
        indices = resampler.draw()
        values.append(statistic(*(a[indices] for a in arrays)))
    if isinstance(values[0], dict):
        return {
            name: np.array([v[name] for v in values], dtype=np.float64)
            for name in values[0]
        }
    return np.asarray(values, dtype=np.float64)


def _progress_bar(n_boot: int, progress: bool):
    """range(n_boot), wrapped in a tqdm bar when `progress` is true.

    tqdm's `disable=None` turns the bar off when stderr is not a terminal;
    `leave=False` removes it when done, so a finished bootstrap leaves no
    trace in a terminal either. tqdm comes with tensorflow-datasets and
    papermill, both flarekit dependencies.
    """
    if not progress:
        return range(n_boot)
    from tqdm import tqdm

    return tqdm(range(n_boot), desc="bootstrap", unit="resample", disable=None,
                leave=False)


def percentile_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """Central percentile interval of bootstrap values, ignoring NaN.

    A resample can make a statistic undefined (e.g. no events drawn, so no
    TSS); such resamples are dropped. If more than half are undefined the
    interval is (NaN, NaN), since what is left no longer describes the
    statistic's spread.

    Args:
        values: bootstrap values.
        confidence: coverage in (0, 1).

    Returns:
        (low, high) as floats.

    Raises:
        ValueError: `confidence` outside (0, 1).
    """
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.size < 0.5 * values.size:
        return (float("nan"), float("nan"))
    tail = 50.0 * (1.0 - float(confidence))
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return (float(low), float(high))


def bootstrap_interval(
    statistic: Callable[..., float], arrays: Sequence, groups=None, **options
) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic, resampling whole groups.

    The one-statistic case of `bootstrap_intervals`, which does the work.

    Args:
        statistic: called as statistic(*resampled_arrays) -> float.
        arrays: one array or a sequence of arrays, all of length n.
        groups: group (region) of each sample, shape [n]; None resamples
            single samples.
        **options: `n_boot`, `confidence`, `seed`, `progress`, as
            `bootstrap_intervals` takes them.

    Returns:
        (low, high); (NaN, NaN) if the statistic is undefined on most
        resamples.

    Raises:
        ValueError: see `bootstrap_distribution` and `percentile_interval`.

    Example:
        >>> y = np.array([1.0, 2.0, 3.0, 4.0])
        >>> low, high = bootstrap_interval(np.mean, [y], groups=[0, 0, 1, 1])
        >>> (low, high)
        (1.5, 3.5)
    """

    def as_dict(*resampled):
        return {"statistic": statistic(*resampled)}

    return bootstrap_intervals(as_dict, arrays, groups, **options)["statistic"]


def bootstrap_intervals(
    statistic: Callable[..., dict],
    arrays: Sequence,
    groups=None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of several statistics, resampling groups.

    All statistics are computed on the same resamples.

    Args:
        statistic: called as statistic(*resampled_arrays) -> dict of floats.
        arrays: one array or a sequence of arrays, all of length n.
        groups: group (region) of each sample, shape [n]; None resamples
            single samples.
        n_boot: number of resamples.
        confidence: coverage of the intervals.
        seed: random seed; the same seed gives the same intervals.
        progress: progress bar over the resamples, on a terminal only.

    Returns:
        dict name -> (low, high); (NaN, NaN) for a statistic undefined on
        most resamples.

    Raises:
        ValueError: a statistic that returns no dict; see also
            `bootstrap_distribution` and `percentile_interval`.

    Example:
        >>> y = np.array([1.0, 2.0, 3.0, 4.0])
        >>> bootstrap_intervals(lambda v: {"mean": np.mean(v)}, [y], [0, 0, 1, 1])
        {'mean': (1.5, 3.5)}
    """
    values = bootstrap_distribution(statistic, arrays, groups, n_boot, seed, progress)
    if not isinstance(values, dict):
        raise ValueError("statistic must return a dict for bootstrap_intervals.")
    return {name: percentile_interval(v, confidence) for name, v in values.items()}
