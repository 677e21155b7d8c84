"""score_night keeps what the hypnogram readers warn about with the night's own warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from edf_factory import Channel, sine, write_psg
from sleepscore.model import ANY_EEG_MODEL, shipped_models_dir
from sleepscore.scoring import score_night


@pytest.mark.skipif(not (shipped_models_dir() / ANY_EEG_MODEL).is_file(), reason="shipped model not built")
def test_a_hypnogram_overhang_is_a_night_warning_not_a_stray_one(tmp_path: Path) -> None:
    psg = write_psg(tmp_path / "night.edf", [Channel("C4-M1", sine(100, 600, 10.0, 30.0), 100)])
    hypnogram = tmp_path / "night.txt"
    hypnogram.write_text("\n".join(["W"] * 10 + ["N2"] * 11) + "\n")  # 21 labels for 20 epochs
    with warnings.catch_warnings(record=True) as stray:
        warnings.simplefilter("always")
        night = score_night(psg, hypnogram=hypnogram)
    assert len(night.expert) == 20
    assert any("night.txt" in w for w in night.warnings), night.warnings
    assert not [w for w in stray if "night.txt" in str(w.message)]
