"""The numpy polyphase resampler against scipy.signal.resample_poly, and the predict path without scipy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly as scipy_resample_poly

from edf_factory import Channel, sine, write_psg
from sleepscore.resample import lowpass_taps, resample_poly

# Every clinical rate to 100 Hz, upsampling, near-unit ratios with large factors, and the largest
# factor read_psg accepts (16384-Hz BDF).
RATIOS = [(25, 32), (1, 2), (2, 5), (25, 64), (1, 5), (1, 10), (25, 128), (25, 256), (25, 512),
          (2, 1), (5, 4), (3, 7), (100, 99), (25, 4096), (50, 100)]
LENGTHS = [1, 2, 7, 64, 129, 1000, 30_001]


@pytest.mark.parametrize("up,down", RATIOS)
def test_matches_scipy_for_every_length(up: int, down: int) -> None:
    rng = np.random.default_rng(up * 7919 + down)
    for n in LENGTHS:
        x = rng.normal(size=n) * 50e-6 + rng.normal() * 1e-4  # EEG-sized, with an offset
        expected = scipy_resample_poly(x, up, down)
        got = resample_poly(x, up, down)
        assert got.shape == expected.shape, (n, got.shape, expected.shape)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_filter_equals_scipy_firwin() -> None:
    from scipy.signal import firwin

    for up, down in ((25, 64), (1, 2), (7, 3)):
        max_rate = max(up, down)
        expected = firwin(20 * max_rate + 1, 1 / max_rate, window=("kaiser", 5.0)) * up
        np.testing.assert_allclose(lowpass_taps(up, down), expected, rtol=1e-12, atol=1e-15)


def test_near_unit_ratio_with_large_factors_matches_scipy() -> None:
    # 4096/4095: the tap matrix is built a group of output phases at a time; every group must
    # land in its own output columns.
    rng = np.random.default_rng(3)
    x = rng.normal(size=20_000)
    np.testing.assert_allclose(resample_poly(x, 4096, 4095), scipy_resample_poly(x, 4096, 4095),
                               rtol=0, atol=1e-12 * 4)


def test_rejects_non_positive_factors_and_arrays_of_signals() -> None:
    with pytest.raises(ValueError, match="positive"):
        resample_poly(np.ones(10), 0, 3)
    with pytest.raises(ValueError, match="1-D"):
        resample_poly(np.ones((2, 10)), 1, 2)


def test_scoring_a_256_hz_clinical_file_does_not_import_scipy(tmp_path: Path) -> None:
    # The point of the module: the 0.9-s scipy.signal import stays off the predict path. The EEG
    # has a broadband floor, as recorded EEG does: a pure sine's quantisation error repeats every
    # 0.5 s, a line at 50 Hz that the mains check would notch (importing scipy).
    eeg = sine(256, 300, 10.0, 40.0) + np.random.default_rng(0).normal(0, 5.0, 256 * 300)
    psg = write_psg(tmp_path / "clinic.edf", [
        Channel("EEG C4-M1", eeg, 256),
        Channel("EOG E1-M2", sine(256, 300, 1.0, 40.0), 256),
        Channel("EMG Chin", sine(256, 300, 40.0, 10.0), 256),
    ])
    code = (
        "import sys\n"
        "from sleepscore.cli import main\n"
        "try:\n"
        f"    main(['predict', {str(psg)!r}, '-o', {str(tmp_path / 'o.csv')!r}, '-q'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('SCIPY', sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "SCIPY []" in done.stdout, done.stdout + done.stderr
    assert (tmp_path / "o.csv").read_text().count("\n") >= 10  # header + 10 epochs scored
