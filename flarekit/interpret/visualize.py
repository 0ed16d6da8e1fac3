"""Figures for looking at solar data: channels, the butterfly diagram, a region's
life (the synthetic Sun), and real observations (solar images with their disk,
GOES days with flares; notebook 03).

Functions return a matplotlib Figure made without pyplot's global state, so
they work headless (papermill, CI) and in notebooks alike (a Figure is shown
inline when it is a cell's last value).
"""

from __future__ import annotations

import numpy as np


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _channel_limits(name: str, image: np.ndarray):
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return None, None, "gray"
    if name == "magnetogram":
        limit = max(float(np.percentile(np.abs(finite), 99.5)), 1.0)
        return -limit, limit, "gray"
    return float(np.percentile(finite, 1)), float(np.percentile(finite, 99.7)), "inferno"


def plot_channels(image, channel_names, units=(), title: str = ""):
    """One panel per channel of an [H, W, C] image, each with its own scale.

    Magnetograms are shown grey, symmetric about 0 G; intensities with a
    percentile stretch. NaN (off the limb) shows as blank.
    """
    image = np.asarray(image, dtype=np.float64)
    names = list(channel_names)
    units = list(units) + [""] * (len(names) - len(units))
    figure = _figure(3.2 * len(names), 3.4)
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for index, (axis, name) in enumerate(zip(axes, names)):
        low, high, cmap = _channel_limits(name, image[..., index])
        shown = axis.imshow(image[..., index], cmap=cmap, vmin=low, vmax=high, origin="lower")
        axis.set_title(name)
        axis.set_xticks([])
        axis.set_yticks([])
        figure.colorbar(shown, ax=axis, shrink=0.8, label=units[index])
    if title:
        figure.suptitle(title)
    return figure


def plot_butterfly(emergence_day, latitude, leading_polarity=None, start_year: float = 0.0):
    """Emergence latitude against time: the butterfly diagram.

    Colour shows the leading polarity, so Hale's law (opposite in the two
    hemispheres, flipping each cycle) is visible at a glance.
    """
    figure = _figure(9, 3.6)
    axis = figure.subplots()
    years = start_year + np.asarray(emergence_day) / 365.25
    colours = "k" if leading_polarity is None else np.where(np.asarray(leading_polarity) > 0, "tab:red", "tab:blue")
    axis.scatter(years, latitude, s=6, c=colours, alpha=0.7)
    axis.axhline(0, color="0.6", lw=0.8)
    axis.set_xlabel("time (years)")
    axis.set_ylabel("emergence latitude (deg)")
    axis.set_title("Butterfly diagram (red: leading polarity +, blue: -)")
    return figure


def plot_class_balance(goes_class_index, class_names):
    """Bar chart of samples per GOES class, with the share of each."""
    counts = np.bincount(np.asarray(goes_class_index, dtype=int), minlength=len(class_names))
    figure = _figure(6, 3.2)
    axis = figure.subplots()
    bars = axis.bar(list(class_names), counts, color="tab:orange")
    for bar, count in zip(bars, counts):
        axis.annotate(f"{100 * count / max(counts.sum(), 1):.1f} %", (bar.get_x() + bar.get_width() / 2, count),
                      ha="center", va="bottom", fontsize=8)
    axis.set_yscale("log")
    axis.set_ylabel("samples")
    axis.set_title("Largest flare in the next window, per sample")
    return figure


def plot_flare_distribution(peak_flux, minimum: float = 1e-8):
    """Cumulative number of flares above each peak flux, log-log (a power law is straight)."""
    flux = np.sort(np.asarray(peak_flux, dtype=np.float64))
    flux = flux[flux >= minimum]
    figure = _figure(5, 3.6)
    axis = figure.subplots()
    axis.loglog(flux[::-1], np.arange(1, flux.size + 1), drawstyle="steps-post")
    for edge, letter in zip([1e-8, 1e-7, 1e-6, 1e-5, 1e-4], "ABCMX"):
        axis.axvline(edge, color="0.8", lw=0.8)
        axis.text(edge * 1.1, 1, letter, color="0.4")
    axis.set_xlabel("peak flux (W/m$^2$)")
    axis.set_ylabel("flares with larger peak flux")
    return figure


def plot_region_evolution(frames, timestamps, channel: int = 0, series=None, title: str = ""):
    """A region's patches over its life (one channel), and optional time series below.

    Args:
        frames: [N, H, W, C] patches, oldest first.
        timestamps: Unix seconds of each frame.
        channel: channel shown.
        series: optional dict name -> (times, values) plotted under the frames,
            each relative to its own maximum so quantities of any unit share an axis.
    """
    frames = np.asarray(frames)
    figure = _figure(2.2 * len(frames), 2.4 + (2.4 if series else 0))
    grid = figure.add_gridspec(2 if series else 1, len(frames), height_ratios=[1, 1] if series else [1])
    limit = np.nanpercentile(np.abs(frames[..., channel]), 99.5) or 1.0
    start = float(timestamps[0])
    for index, frame in enumerate(frames):
        axis = figure.add_subplot(grid[0, index])
        axis.imshow(frame[..., channel], cmap="gray", vmin=-limit, vmax=limit, origin="lower")
        axis.set_title(f"day {(timestamps[index] - start) / 86400:.1f}", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    if series:
        axis = figure.add_subplot(grid[1, :])
        for name, (times, values) in series.items():
            values = np.asarray(values, dtype=np.float64)
            peak = np.nanmax(values) if np.any(values > 0) else 1.0
            axis.plot((np.asarray(times) - start) / 86400, values / peak, label=f"{name} (max {peak:.3g})")
        axis.set_ylabel("relative to maximum")
        axis.set_xlabel("days")
        axis.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return figure


# ---- real observations ------------------------------------------------------


def _axes(axes, size=(5, 5)):
    if axes is not None:
        return axes
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)[1]


def plot_solar_image(image, axes=None, log: bool = True, title: str | None = None):
    """An image in FITS orientation with the computed limb drawn over it.

    Args:
        image: a `flarekit.data.fits.SolarImage`.
        axes: matplotlib axes; a new figure when None.
        log: show log10 of positive values (EUV); False for signed fields.
        title: defaults to the instrument, time and geometry.

    Returns:
        The axes.
    """
    from matplotlib.patches import Circle

    axes = _axes(axes)
    data = np.log10(np.clip(image.data, 1e-3, None)) if log else image.data
    limit = np.nanpercentile(np.abs(data), 99.5)
    style = {} if log else {"cmap": "gray", "vmin": -limit, "vmax": limit}
    axes.imshow(data, origin="lower", **style)
    if image.geometry is not None:
        geometry = image.geometry
        axes.add_patch(Circle((geometry.centre_x, geometry.centre_y), geometry.radius,
                              fill=False, color="cyan", linewidth=1))
        title = title or (f"{image.instrument} {image.observation_time:%Y-%m-%d %H:%M} UTC\n"
                          f"r = {geometry.radius:.1f} px (RSUN_OBS / CDELT1)")
    axes.set_title(title or image.instrument, fontsize=9)
    return axes


def plot_goes_flares(series, flares=None, axes=None):
    """A GOES XRS-B light curve on the class ladder, with detected flares marked.

    Args:
        series: a `flarekit.data.goes.XRSSeries`.
        flares: the table of `detect_flares` (drawn as start-end spans and a
            class label at the peak); None draws the curve only.
        axes: matplotlib axes; a new figure when None.

    Returns:
        The axes.
    """
    axes = _axes(axes, size=(9, 3.5))
    minutes = series.one_minute()
    axes.semilogy(minutes.times, minutes.flux, color="black", linewidth=0.8)
    for flux, letter in zip((1e-8, 1e-7, 1e-6, 1e-5, 1e-4), "ABCMX"):
        axes.axhline(flux, color="grey", linewidth=0.4)
        axes.text(minutes.times[0], flux * 1.15, letter, fontsize=8, color="grey")
    for flare in ([] if flares is None else flares.itertuples()):
        axes.axvspan(flare.start, flare.end, color="orange", alpha=0.25)
        axes.annotate(flare.goes_class, (flare.peak, flare.peak_flux), fontsize=8,
                      xytext=(0, 4), textcoords="offset points", ha="center")
    axes.set_ylabel(f"1-8 A flux, W/m$^2$ ({series.scale} scale)")
    axes.set_title(f"GOES-{series.satellite} XRS, {series.product}", fontsize=9)
    return axes
