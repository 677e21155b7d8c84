"""50-Hz mains interference: found in a channel's own spectrum and notched out before resampling.

Why 50 Hz and not 60: the models read 30-50 Hz (gamma) power at 100 Hz. Resampling a 128-512 Hz
channel to 100 Hz low-passes it at the new Nyquist frequency, 50 Hz, where the filter still passes
half the amplitude: 20 uV of 50-Hz mains in a 256-Hz file raises the gamma power of every epoch
about 16-fold, which the models read as wake (or muscle). 60-Hz mains and every harmonic lie in
the filter's stop band and never reach the features (checked at 128, 200, 256, 500 and 512 Hz).
A channel stored at 100 Hz or less has its mains at or above its own Nyquist frequency, where no
notch can separate it from the EEG, so it is left alone.

The notch is applied only when the channel's spectrum shows a 50-Hz peak (:data:`PEAK_RATIO`
times the neighbouring spectrum), so a clean file, or one already notched by its amplifier, is
read exactly as before.
"""

from __future__ import annotations

import numpy as np

from .features import welch_psd

MAINS_HZ = 50.0
#: Power at 50 Hz, relative to the median of 44-48 and 52-56 Hz, above which the channel is
#: notched. EEG and muscle spectra are smooth there (ratio ~1.0 averaged over a night). On a 1/f
#: test signal at 256 Hz a peak of 10x adds ~5 % to the 100-Hz gamma power, about what the notch
#: itself takes away (~4 %); above it the notch does less harm than the mains, and at 180x (5 uV)
#: the mains alone adds 90 %.
PEAK_RATIO = 10.0
#: Quality factor of the notch: -3 dB from 49.2 to 50.8 Hz, so the 30-50 Hz band keeps its shape.
NOTCH_Q = 30.0
# 2-s windows give 0.5-Hz bins; a night is sampled by at most this many windows, spread evenly,
# so that the check costs milliseconds and a few megabytes whatever the recording's length.
_WINDOW_S = 2.0
_MAX_WINDOWS = 512
_PEAK_HZ = (49.5, 50.5)
_REFERENCE_HZ = ((44.0, 48.0), (52.0, 56.0))


def mains_peak_ratio(signal: np.ndarray, fs: float) -> float | None:
    """Power at 50 Hz relative to the neighbouring spectrum (1 for a smooth spectrum).

    Parameters
    ----------
    signal : np.ndarray
        One channel, 1-D.
    fs : float
        Its sampling rate in Hz.

    Returns
    -------
    float or None
        None when the rate leaves no spectrum above 56 Hz to compare with (at most 112 Hz), or the
        signal is shorter than one 2-s window.

    Examples
    --------
    >>> fs = 256.0
    >>> t = np.arange(int(fs * 600)) / fs
    >>> eeg = np.random.default_rng(0).normal(0, 10e-6, t.size)
    >>> round(mains_peak_ratio(eeg, fs))
    1
    >>> mains_peak_ratio(eeg + 20e-6 * np.sin(2 * np.pi * 50 * t), fs) > 100
    True
    """
    if fs / 2 <= _REFERENCE_HZ[1][1]:
        return None
    window = int(round(_WINDOW_S * fs))
    n_windows = len(signal) // window
    if n_windows == 0:
        return None
    windows = signal[:n_windows * window].reshape(n_windows, window)
    windows = windows[np.linspace(0, n_windows - 1, min(n_windows, _MAX_WINDOWS)).round().astype(int)]
    # One Welch segment per window (the extractor's numpy Welch: no scipy import on this path).
    freqs, psd = welch_psd(windows, fs, nperseg=window)
    power = psd.mean(axis=0)
    peak = power[(freqs >= _PEAK_HZ[0]) & (freqs <= _PEAK_HZ[1])].max()
    reference = np.median(np.concatenate([power[(freqs >= lo) & (freqs <= hi)] for lo, hi in _REFERENCE_HZ]))
    return float(peak / reference) if reference > 0 else float("inf")


def remove_mains(signal: np.ndarray, fs: float) -> tuple[np.ndarray, float | None]:
    """``signal`` with 50-Hz mains notched out when its spectrum shows it.

    Parameters
    ----------
    signal : np.ndarray
        One channel, 1-D, at its recorded rate.
    fs : float
        That rate in Hz.

    Returns
    -------
    signal : np.ndarray
        The input itself when no peak was found, else a zero-phase notched copy.
    ratio : float or None
        The 50-Hz peak ratio that triggered the notch, None when none was applied.
    """
    ratio = mains_peak_ratio(signal, fs)
    if ratio is None or ratio <= PEAK_RATIO:
        return signal, None
    from scipy.signal import filtfilt, iirnotch

    b, a = iirnotch(MAINS_HZ, NOTCH_Q, fs=fs)
    return filtfilt(b, a, signal), ratio
