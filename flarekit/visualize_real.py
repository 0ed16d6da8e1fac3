"""Figures of real observations: solar images with their disk, GOES days with flares.

Used by notebook 03 (prepare real data); each function draws on a given or
new matplotlib axes and returns it, so figures can be saved to a run folder.

Example:
    >>> axes = plot_solar_image(read_solar_image("aia_171_level1.fits"))
    >>> axes = plot_goes_flares(read_xrs("go1520110607.fits"))
"""

from __future__ import annotations

import numpy as np


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
