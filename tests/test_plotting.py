"""Night plot: a real PNG with one panel per hypnogram plus the hypnodensity; clean failures."""

from __future__ import annotations

import struct
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepscore.errors import DataError, UsageError
from sleepscore.plotting import STAGE_COLOURS, plot_night

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which the PNG standard puts first."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def night(n: int = 960) -> tuple[np.ndarray, np.ndarray]:
    """First half confidently W, second half confidently REM."""
    stages = np.where(np.arange(n) < n // 2, 0, 4)
    probs = np.full((n, 5), 0.025)
    probs[np.arange(n), stages] = 0.9
    return probs, stages


def test_png_is_written_with_expert_panel(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    probs, stages = night()
    expert = stages.copy()
    expert[:40] = -1
    without, with_expert = tmp_path / "a.png", tmp_path / "b.png"
    plot_night(without, probs, stages)
    plot_night(with_expert, probs, stages, expert=expert, start=datetime(2024, 3, 1, 23, 0))
    width_a, height_a = png_size(without)
    width_b, height_b = png_size(with_expert)
    assert width_a == width_b > 600
    # Two panels versus three of equal height: the expert panel really was drawn.
    assert height_b / height_a == pytest.approx(3 / 2, rel=0.02)
    assert 10_000 < with_expert.stat().st_size < 2_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]  # no temp files left


def test_hypnodensity_colours_reach_the_image(tmp_path: Path) -> None:
    image_module = pytest.importorskip("matplotlib.image")
    probs, stages = night()
    out = tmp_path / "n.png"
    plot_night(out, probs, stages)
    pixels = (image_module.imread(out)[..., :3] * 255).round().astype(int).reshape(-1, 3)
    present = {tuple(p) for p in np.unique(pixels, axis=0)}
    for stage in ("W", "REM"):
        hex_colour = STAGE_COLOURS[stage].lstrip("#")
        rgb = tuple(int(hex_colour[i:i + 2], 16) for i in (0, 2, 4))
        assert rgb in present, stage


def test_missing_matplotlib_says_how_to_install(tmp_path: Path, monkeypatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    probs, stages = night(10)
    with pytest.raises(UsageError, match=r"pip install 'sleepscore\[plot\]'"):
        plot_night(tmp_path / "n.png", probs, stages)
    assert list(tmp_path.iterdir()) == []


def test_existing_png_needs_force(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "n.png"
    out.write_bytes(b"old")
    probs, stages = night(20)
    with pytest.raises(UsageError, match="--force"):
        plot_night(out, probs, stages)
    assert out.read_bytes() == b"old"
    plot_night(out, probs, stages, force=True)
    assert out.read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize("kwargs, fragment", [
    ({"stages": np.zeros(5, dtype=int)}, "predicted stages have 5 epochs"),
    ({"expert": np.full(20, 9)}, "expert: stage code 9"),
    ({"probs": np.full((20, 3), 0.3)}, "shape"),
])
def test_inconsistent_inputs_raise_data_error(tmp_path: Path, kwargs: dict, fragment: str) -> None:
    pytest.importorskip("matplotlib")
    probs, stages = night(20)
    arguments = {"probs": probs, "stages": stages} | kwargs
    with pytest.raises(DataError, match=fragment):
        plot_night(tmp_path / "n.png", **arguments)
