"""Per-epoch spectral features (``spectral-v1``), the input of the shipped feature models.

The definition is fixed by the model contract (``shared/docs/model-contract.md``) and reproduces
the reference features of the real Sleep-EDF nights to 1e-12, so it must not drift: any change is
a new feature set with a new name.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import welch

FEATURE_SET = "spectral-v1"
FEATURES_PER_CHANNEL = ("delta", "theta", "alpha", "beta", "gamma",
                        "theta_alpha", "alpha_delta", "log_var", "hjorth_mobility")
BANDS_HZ = ((0.5, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0), (30.0, 50.0))
_EPS = 1e-10
_NPERSEG = 256


def feature_names(channels: list[str]) -> list[str]:
    """Column names of :func:`spectral_features`, channel-major (``"EEG Fpz-Cz:delta"``, ...)."""
    return [f"{ch}:{name}" for ch in channels for name in FEATURES_PER_CHANNEL]


def spectral_features(epochs: np.ndarray, fs: float = 100.0) -> np.ndarray:
    """Compute the ``spectral-v1`` features of every epoch.

    Parameters
    ----------
    epochs : np.ndarray
        ``[n_epochs, n_channels, n_samples]`` in volts (30-s epochs at ``fs``).
    fs : float
        Sampling rate in Hz (100 for the contract).

    Returns
    -------
    np.ndarray
        float64 ``[n_epochs, 9 * n_channels]``, channel-major: for each channel the log band
        powers (delta, theta, alpha, beta, gamma) of the Welch PSD, the theta/alpha and
        alpha/delta ratios of those log powers, the log variance and the Hjorth mobility.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> spectral_features(rng.normal(0, 20e-6, (4, 2, 3000))).shape
    (4, 18)
    """
    x = np.asarray(epochs, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"epochs must be [n_epochs, n_channels, n_samples], got shape {x.shape}")
    freqs, psd = welch(x, fs=fs, nperseg=_NPERSEG, axis=-1)
    band_logs = [np.log(psd[..., (freqs >= lo) & (freqs <= hi)].mean(axis=-1) + _EPS)
                 for lo, hi in BANDS_HZ]
    delta, theta, alpha = band_logs[0], band_logs[1], band_logs[2]
    variance = x.var(axis=-1)
    mobility = np.sqrt(np.diff(x, axis=-1).var(axis=-1) / (variance + _EPS))
    per_channel = np.stack(
        band_logs + [theta / (alpha + _EPS), alpha / (delta + _EPS), np.log(variance + _EPS), mobility],
        axis=-1,
    )  # [n_epochs, n_channels, 9]
    return per_channel.reshape(x.shape[0], -1)
