"""Files written by `flarekit.io`'s atomic writers get the mode a plain open()
would give them (the user's umask), not mkstemp's private 0600."""

import os
import stat

import pytest

from flarekit.io import write_text_atomic


@pytest.fixture
def umask():
    """Set the process umask for one test, and put the old one back."""
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize(
    "mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)]
)
def test_new_files_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    path = write_text_atomic(tmp_path / "report.md", "text\n")
    assert stat.S_IMODE(path.stat().st_mode) == expected
    plain = tmp_path / "plain.txt"
    plain.write_text("text\n")
    assert stat.S_IMODE(plain.stat().st_mode) == expected  # what open() gives


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    path = tmp_path / "metrics.json"
    path.write_text("{}")
    path.chmod(0o640)
    write_text_atomic(path, "{}\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
