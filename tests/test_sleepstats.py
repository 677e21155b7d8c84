"""Sleep statistics on hand-built hypnograms and on real Sleep-EDF expert scorings."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sleepscore.errors import DataError
from sleepscore.sleepstats import sleep_statistics

W, N1, N2, N3, REM, UNS = 0, 1, 2, 3, 4, -1


def test_textbook_night() -> None:
    # 2 W, 3 N1, 3 N2, 3 N3, 1 N2, 2 N3, 4 REM, 2 W; 30-s epochs, so one epoch = 0.5 min.
    hypnogram = np.array([W, W, N1, N1, N1, N2, N2, N2, N3, N3, N3, N2, N3, N3,
                          REM, REM, REM, REM, W, W])
    stats = sleep_statistics(hypnogram)
    assert stats["TIB_min"] == 10.0          # 20 epochs
    assert stats["SOL_min"] == 1.0           # 2 wake epochs before the first N1
    assert stats["SPT_min"] == 8.0           # epochs 2..17
    assert stats["TST_min"] == 8.0
    assert stats["WASO_min"] == 0.0          # the final 2 W follow the last sleep epoch
    assert stats["W_min"] == 2.0
    assert stats["SE_pct"] == pytest.approx(80.0)
    assert stats["SME_pct"] == pytest.approx(100.0)
    assert stats["REM_latency_min"] == 6.0   # epoch 14 - epoch 2 = 12 epochs
    stage_minutes = (stats["N1_min"], stats["N2_min"], stats["N3_min"], stats["REM_min"])
    assert stage_minutes == (1.5, 2.0, 2.5, 2.0)
    assert stats["N1_pct"] == pytest.approx(100 * 1.5 / 8)
    assert stats["N3_pct"] == pytest.approx(100 * 2.5 / 8)
    assert stats["unscored_min"] == 0.0


def test_waso_and_unscored_inside_the_sleep_period() -> None:
    hypnogram = np.array([UNS, W, W, N2, N2, W, W, UNS, N2, N3, REM, W, W, W])
    stats = sleep_statistics(hypnogram)
    assert stats["TIB_min"] == 7.0           # unscored epochs count in bed time
    assert stats["SOL_min"] == 1.5           # sleep starts at epoch 3
    assert stats["SPT_min"] == 4.0           # epochs 3..10
    assert stats["TST_min"] == 2.5           # 5 sleep epochs
    assert stats["WASO_min"] == 1.0          # epochs 5, 6; the unscored epoch 7 is not wake
    assert stats["W_min"] == 3.5             # 2 before, 2 during, 3 after
    assert stats["unscored_min"] == 1.0
    assert stats["REM_latency_min"] == 3.5   # epoch 10 - epoch 3
    assert stats["SE_pct"] == pytest.approx(100 * 2.5 / 7)
    assert stats["SME_pct"] == pytest.approx(62.5)
    assert stats["N2_pct"] == pytest.approx(60.0)


def test_night_without_sleep_has_undefined_latencies() -> None:
    stats = sleep_statistics(np.array([W] * 8 + [UNS] * 2))
    assert stats["TST_min"] == 0.0 and stats["SPT_min"] == 0.0 and stats["WASO_min"] == 0.0
    assert stats["SOL_min"] is None and stats["REM_latency_min"] is None
    assert stats["SE_pct"] == 0.0
    assert stats["SME_pct"] is None and stats["N2_pct"] is None
    assert stats["W_min"] == 4.0


def test_night_without_rem() -> None:
    stats = sleep_statistics(np.array([W, N1, N2, N2, W]))
    assert stats["SOL_min"] == 0.5
    assert stats["REM_latency_min"] is None
    assert stats["REM_pct"] == 0.0


def test_epoch_length_scales_minutes() -> None:
    stats = sleep_statistics(np.array([W, W, W, N2, REM, W]), epoch_s=20.0)
    assert stats["TIB_min"] == pytest.approx(2.0)
    assert stats["SOL_min"] == pytest.approx(1.0)
    assert stats["REM_latency_min"] == pytest.approx(20 / 60)


def test_empty_hypnogram() -> None:
    stats = sleep_statistics(np.array([], dtype=np.int64))
    assert stats["TIB_min"] == 0.0 and stats["SE_pct"] is None and stats["SOL_min"] is None


@pytest.mark.parametrize("hypnogram, fragment", [
    (np.array([0, 5, 2]), "stage code 5"),
    (np.array([0, -2]), "stage code -2"),
    (np.zeros((2, 3), dtype=int), "shape"),
])
def test_bad_codes_raise_data_error(hypnogram: np.ndarray, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment):
        sleep_statistics(hypnogram)


# --- real Sleep-EDF scorings -------------------------------------------------------------------

CODES = {"Sleep stage W": W, "Sleep stage 1": N1, "Sleep stage 2": N2, "Sleep stage 3": N3,
         "Sleep stage 4": N3, "Sleep stage R": REM, "Sleep stage ?": UNS, "Movement time": UNS}
NIGHTS = ["SC4001E0", "SC4022E0", "SC4121E0", "SC4192E0"]


def read_runs(path: Path) -> list[tuple[float, float, int]]:
    """(onset s from the first annotation, duration s, stage code) per line of a scoring text."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    start = datetime.fromisoformat(rows[0]["Onset"][:19])
    return [((datetime.fromisoformat(r["Onset"][:19]) - start).total_seconds(),
             float(r["Duration"]), CODES[r["Annotation"]]) for r in rows]


@pytest.mark.parametrize("night", NIGHTS)
def test_real_scoring_against_run_arithmetic(sleep_edf_dir: Path, night: str) -> None:
    """Epoch-wise statistics equal the same quantities summed over the annotation runs."""
    runs = read_runs(sleep_edf_dir / "hypnograms-sc78" / f"{night}.txt")
    hypnogram = np.concatenate([np.full(int(duration // 30), code) for _, duration, code in runs])
    stats = sleep_statistics(hypnogram)

    sleep_runs = [(onset, duration) for onset, duration, code in runs if code > W]
    first_sleep, last_sleep_end = sleep_runs[0][0], sleep_runs[-1][0] + sleep_runs[-1][1]
    first_rem = next(onset for onset, _, code in runs if code == REM)
    wake_in_period = sum(d for o, d, c in runs if c == W and first_sleep <= o < last_sleep_end)
    assert stats["TIB_min"] == sum(d for _, d, _ in runs) / 60
    assert stats["TST_min"] == sum(d for _, d in sleep_runs) / 60
    assert stats["SOL_min"] == first_sleep / 60
    assert stats["SPT_min"] == (last_sleep_end - first_sleep) / 60
    assert stats["WASO_min"] == wake_in_period / 60
    assert stats["REM_latency_min"] == (first_rem - first_sleep) / 60
    assert stats["N3_min"] == sum(d for _, d, c in runs if c == N3) / 60
    assert stats["unscored_min"] == sum(d for _, d, c in runs if c == UNS) / 60


@pytest.mark.parametrize("night", NIGHTS)
def test_matches_yasa_when_installed(sleep_edf_dir: Path, night: str) -> None:
    yasa = pytest.importorskip("yasa")
    runs = read_runs(sleep_edf_dir / "hypnograms-sc78" / f"{night}.txt")
    hypnogram = np.concatenate([np.full(int(duration // 30), code) for _, duration, code in runs])
    ours = sleep_statistics(hypnogram)
    theirs = yasa.sleep_statistics(hypnogram, sf_hyp=1 / 30)
    pairs = {"TIB_min": "TIB", "SPT_min": "SPT", "TST_min": "TST", "WASO_min": "WASO",
             "SOL_min": "SOL", "SE_pct": "SE", "SME_pct": "SME", "N1_min": "N1", "N2_min": "N2",
             "N3_min": "N3", "REM_min": "REM", "N1_pct": "%N1", "REM_pct": "%REM"}
    for key, yasa_key in pairs.items():
        assert ours[key] == pytest.approx(theirs[yasa_key]), key
    # YASA's Lat_REM counts from the start of the record; ours (AASM) from sleep onset.
    assert ours["SOL_min"] + ours["REM_latency_min"] == pytest.approx(theirs["Lat_REM"])
