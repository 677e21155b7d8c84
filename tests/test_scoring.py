"""score_night keeps what the hypnogram readers warn about with the night's own warnings, and warns
of muscle where the model says it discounted it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from edf_factory import Channel, sine, write_psg
from sleepscore.model import ANY_EEG_MODEL, Prediction, SleepModel, shipped_models_dir
from sleepscore.scoring import muscle_share, score_night


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


@pytest.mark.skipif(not (shipped_models_dir() / ANY_EEG_MODEL).is_file(), reason="shipped model not built")
@pytest.mark.parametrize("gated_share, warned", [(0.3, True), (0.1, False)])
def test_a_night_whose_sleep_the_muscle_gate_discounts_is_warned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  gated_share: float, warned: bool) -> None:
    psg = write_psg(tmp_path / "night.edf", [Channel("C4-M1", sine(100, 1200, 10.0, 30.0), 100)])
    probs = np.eye(5, dtype=np.float32)[[0] * 10 + [2] * 30]
    excess = np.zeros(40, dtype=np.float32)
    excess[:10] = 1  # wake with muscle is not what the warning is about
    excess[10:10 + round(gated_share * 30)] = 1
    monkeypatch.setattr(SleepModel, "predict", lambda self, x: Prediction(probs, None, excess))
    night = score_night(psg)
    assert muscle_share(night.probs, night.gamma_excess) == pytest.approx(round(gated_share * 30) / 30)
    assert any("night.edf" in w and "30-50 Hz" in w for w in night.warnings) == warned
