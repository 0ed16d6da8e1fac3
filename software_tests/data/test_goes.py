"""GOES class strings, class indices and flux-scale conversions (flarekit.data.goes)."""

import re

import numpy as np
import pytest

from flarekit.data import goes


@pytest.mark.parametrize(
    ("text", "flux"),
    [("M2.5", 2.5e-5), ("X10", 1e-3), ("c1.0", 1e-6), ("B7.3", 7.3e-7), ("A1", 1e-8),
     (" X1.1 ", 1.1e-4)],
)
def test_class_to_flux(text, flux):
    assert goes.class_to_flux(text) == pytest.approx(flux, rel=1e-12)


def test_bare_letter_means_magnitude_one():
    assert goes.class_to_flux("M") == pytest.approx(1e-5)
    assert goes.class_to_flux("x") == pytest.approx(1e-4)


def test_quiet_is_the_contract_flux():
    assert goes.class_to_flux("quiet") == goes.QUIET_FLUX == 1e-9
    assert goes.flux_to_class(goes.QUIET_FLUX) == "quiet"
    assert goes.flux_to_class(9.9e-9) == "quiet"


@pytest.mark.parametrize("text", ["M2.5.1", "Z1.0", "", "2.5", "M-1", "flare", "M0"])
def test_malformed_class_raises_naming_the_string(text):
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        goes.class_to_flux(text)


def test_non_string_class_raises():
    with pytest.raises(ValueError, match="2.5e-05"):
        goes.class_to_flux(2.5e-5)


@pytest.mark.parametrize(
    ("flux", "text"),
    [(2.5e-5, "M2.5"), (1e-5, "M1.0"), (9.96e-6, "M1.0"), (1.2e-3, "X12.0"),
     (1e-8, "A1.0"), (3.39e-6, "C3.4")],
)
def test_flux_to_class(flux, text):
    assert goes.flux_to_class(flux) == text


def test_round_trip_over_the_ladder():
    for text in ("A1.0", "B2.2", "C3.3", "M2.5", "X8.2", "X17.0"):
        assert goes.flux_to_class(goes.class_to_flux(text)) == text


def test_flux_to_class_rejects_negative_and_nan():
    with pytest.raises(ValueError, match="-1e-06"):
        goes.flux_to_class(-1e-6)
    with pytest.raises(ValueError, match="nan"):
        goes.flux_to_class(float("nan"))


def test_class_index_scalar_and_array():
    assert goes.flux_to_class_index(2.5e-5) == goes.GOES_CLASSES.index("M")
    fluxes = np.array([1e-9, 5e-8, 5e-7, 5e-6, 1e-5, 2e-4])
    np.testing.assert_array_equal(goes.flux_to_class_index(fluxes), [0, 1, 2, 3, 4, 5])
    assert goes.class_index("M2.5") == 4 and goes.class_index("quiet") == 0
    with pytest.raises(ValueError, match="'Y'"):
        goes.class_index("Y")


def test_scale_conversions_by_hand():
    # An SWPC M1.0 (GOES 8-15 before 2020) is a true M1.43.
    assert goes.convert_flux(1e-5, "swpc", "science") == pytest.approx(1e-5 / 0.7)
    assert goes.convert_flux(1e-5, "science", "swpc") == pytest.approx(0.7e-5)
    # SDO-Benchmark stores SWPC flux / 0.85.
    assert goes.convert_flux(0.85e-5, "swpc", "sdo_benchmark") == pytest.approx(1e-5)
    assert goes.convert_flux(1e-5, "goes_r", "science") == pytest.approx(1e-5)
    np.testing.assert_allclose(
        goes.convert_flux(np.array([0.7e-5, 0.7e-4]), "swpc", "goes_r"), [1e-5, 1e-4]
    )
    # The X8.2 of 2017-09-10 on the SWPC scale is X11.7 in true flux.
    true_flux = goes.convert_flux(goes.class_to_flux("X8.2"), "swpc", "science")
    assert goes.flux_to_class(true_flux) == "X11.7"


def test_unknown_scale_raises_listing_the_known_ones():
    with pytest.raises(ValueError, match="'ops'.*goes_r"):
        goes.convert_flux(1e-5, "ops", "science")


def test_threshold_flux():
    assert goes.threshold_flux("M1.0") == pytest.approx(1e-5)
    assert goes.threshold_flux(1e-6) == 1e-6
    with pytest.raises(ValueError, match="positive flux"):
        goes.threshold_flux(0)
