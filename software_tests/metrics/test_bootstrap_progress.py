"""The bootstrap's progress bar: on a terminal only, never with progress=False."""

import io
import sys

import numpy as np
import pytest

from flarekit.metrics import bootstrap_distribution, bootstrap_interval


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so tqdm draws to it."""

    def isatty(self):
        return True


@pytest.fixture
def stderr(monkeypatch):
    def use(stream):
        monkeypatch.setattr(sys, "stderr", stream)
        return stream

    return use


def test_bar_on_a_terminal(stderr):
    stream = stderr(_Terminal())
    values = bootstrap_distribution(np.mean, [np.arange(10.0)], n_boot=30, seed=0)
    assert values.shape == (30,)
    text = stream.getvalue()
    # leave=False: the bar is drawn, then wiped when the bootstrap ends.
    assert "bootstrap" in text and "/30" in text


def test_no_bar_when_asked_or_not_a_terminal(stderr):
    terminal = stderr(_Terminal())
    quiet = bootstrap_interval(
        np.mean, [np.arange(10.0)], n_boot=30, seed=0, progress=False
    )
    assert terminal.getvalue() == ""
    piped = stderr(io.StringIO())  # a log file or a pipe: isatty() is False
    shown = bootstrap_interval(np.mean, [np.arange(10.0)], n_boot=30, seed=0)
    assert piped.getvalue() == ""
    # The bar changes nothing in the result.
    assert quiet == shown
