"""Per-epoch spectral features (``spectral-v1``), the input of the shipped feature models.

The definition is fixed by the model contract (``shared/docs/model-contract.md``) and reproduces
the reference features of the real Sleep-EDF nights to 1e-12, so it must not drift: any change is
a new feature set with a new name.
"""

from __future__ import annotations

import numpy as np

FEATURE_SET = "spectral-v1"
FEATURES_PER_CHANNEL = ("delta", "theta", "alpha", "beta", "gamma",
                        "theta_alpha", "alpha_delta", "log_var", "hjorth_mobility")
BANDS_HZ = ((0.5, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0), (30.0, 50.0))
#: The contract's offset inside every log and ratio (``ln(P + LOG_OFFSET)``).
LOG_OFFSET = 1e-10
#: Welch segment length (samples) of the band powers.
WELCH_NPERSEG = 256
# Epochs per block: bounds the Welch segments in memory (~12 MB a block) on a 22-h night.
_BLOCK_EPOCHS = 128


def welch_psd(x: np.ndarray, fs: float = 100.0, nperseg: int = WELCH_NPERSEG) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density along the last axis, as ``scipy.signal.welch(x, fs,
    nperseg=nperseg)`` computes it with its defaults (periodic Hann window, 50 % overlap,
    constant detrend, one-sided density, mean of the segments).

    Written with numpy rather than called from scipy because importing ``scipy.signal`` costs
    about 0.6 s, more than scoring a whole night; the test suite checks it against scipy.
    """
    step = nperseg - nperseg // 2
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nperseg) / nperseg)
    segments = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=-1)[..., ::step, :]
    segments = segments - segments.mean(axis=-1, keepdims=True)
    segments *= window
    spectrum = np.fft.rfft(segments, axis=-1)
    power = spectrum.real ** 2
    power += spectrum.imag ** 2
    # Scaled after averaging the segments: the same result on an array 22 times smaller.
    psd = power.mean(axis=-2) / (fs * (window ** 2).sum())
    # One-sided: every bin but DC (and Nyquist for an even length) carries its negative twin.
    psd[..., 1:(nperseg + 1) // 2] *= 2
    return np.fft.rfftfreq(nperseg, 1 / fs), psd


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
    blocks = [_block_features(x[i:i + _BLOCK_EPOCHS], fs) for i in range(0, len(x), _BLOCK_EPOCHS)]
    return np.concatenate(blocks) if blocks else np.empty((0, len(FEATURES_PER_CHANNEL) * x.shape[1]))


def _block_features(x: np.ndarray, fs: float) -> np.ndarray:
    freqs, psd = welch_psd(x, fs=fs)
    band_logs = [np.log(psd[..., (freqs >= lo) & (freqs <= hi)].mean(axis=-1) + LOG_OFFSET)
                 for lo, hi in BANDS_HZ]
    delta, theta, alpha = band_logs[0], band_logs[1], band_logs[2]
    variance = x.var(axis=-1)
    mobility = np.sqrt(np.diff(x, axis=-1).var(axis=-1) / (variance + LOG_OFFSET))
    per_channel = np.stack(
        band_logs + [theta / (alpha + LOG_OFFSET), alpha / (delta + LOG_OFFSET), np.log(variance + LOG_OFFSET), mobility],
        axis=-1,
    )  # [n_epochs, n_channels, 9]
    return per_channel.reshape(x.shape[0], -1)
