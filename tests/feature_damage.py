"""Real spectral-v1 features changed as damage would change them, for tests of the shipped models."""

from __future__ import annotations

import numpy as np

from sleepscore.training.augment import band_powers, set_band_powers


def as_50_hz_file(x: np.ndarray) -> np.ndarray:
    """``x`` as a file sampled at 50 Hz gives it: no 30-50 Hz power, beta above 25 Hz lost (beta
    x0.8), every channel, the other columns recomputed as the extractor would
    (``benchmarks.robustness``' "50-Hz file")."""
    out = np.array(x, dtype=np.float64)
    for start in range(0, out.shape[1], 9):
        power = band_powers(out[:, start:start + 9])
        power[:, 3] *= 0.8
        power[:, 4] *= 1e-6
        set_band_powers(out[:, start:start + 9], power)
    return out
