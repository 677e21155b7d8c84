"""Per-epoch spectral features (``spectral-v1``), the input of the shipped feature models.

The definition is fixed by the model contract (``docs/model-contract.md``) and reproduces
the reference features of the real Sleep-EDF nights to 1e-12, so it must not drift: any change is
a new feature set with a new name.
"""

from __future__ import annotations

import numpy as np

# The per-channel columns and log offset live with the other shared constants, where the
# networks (which import nothing else of the package) read them too.
from sleepscore.stages import FEATURES_PER_CHANNEL, LOG_OFFSET
from sleepscore.threads import run_in_threads

BANDS_HZ = ((0.5, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0), (30.0, 50.0))
#: Welch segment length (samples) of the band powers.
WELCH_NPERSEG = 256
# Epochs per block: a block's temporaries (~3 MB for two channels) stay in the CPU caches.
_BLOCK_EPOCHS = 32


class _Workspace:
    """The temporaries of one block, allocated once and reused for every block.

    Allocating them afresh per block costs more than the arithmetic on them: each large
    allocation is new memory that the kernel maps and zero-fills. Reusing them took the features
    of a 22-h two-channel night from 0.30 s to 0.11 s (``benchmarks/clinical_vs_peers.py`` times it).
    """

    def __init__(self, shape: tuple[int, ...], nperseg: int) -> None:
        self.segments, self.spectrum = _welch_buffers(shape, nperseg)
        self.signal = np.empty(shape)

    def first(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segments, spectrum and signal buffers for the first ``n`` rows (a shorter last block)."""
        return self.segments[:n], self.spectrum[:n], self.signal[:n]


def _welch_step(nperseg: int) -> int:
    return nperseg - nperseg // 2


def _welch_buffers(shape: tuple[int, ...], nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Empty segment and spectrum arrays for the Welch PSD of an array of ``shape``."""
    n_segments = (shape[-1] - nperseg) // _welch_step(nperseg) + 1
    return (np.empty((*shape[:-1], n_segments, nperseg)),
            np.empty((*shape[:-1], n_segments, nperseg // 2 + 1), dtype=np.complex128))


def _hann(nperseg: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nperseg) / nperseg)


def welch_psd(x: np.ndarray, fs: float = 100.0, nperseg: int = WELCH_NPERSEG) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density along the last axis, as ``scipy.signal.welch(x, fs,
    nperseg=nperseg)`` computes it with its defaults (periodic Hann window, 50 % overlap,
    constant detrend, one-sided density, mean of the segments).

    Written with numpy rather than called from scipy because importing ``scipy.signal`` costs
    about 0.6 s, more than scoring a whole night, and because scipy allocates every temporary
    afresh (see :class:`_Workspace`); the test suite checks it against scipy.

    Examples
    --------
    >>> freqs, psd = welch_psd(np.random.default_rng(0).normal(size=(4, 3000)))
    >>> float(freqs[1]), psd.shape
    (0.390625, (4, 129))
    """
    x = np.asarray(x, dtype=np.float64)
    return np.fft.rfftfreq(nperseg, 1 / fs), _welch_into(x, fs, nperseg, *_welch_buffers(x.shape, nperseg))


def _welch_into(x: np.ndarray, fs: float, nperseg: int, segments: np.ndarray, spectrum: np.ndarray) -> np.ndarray:
    """:func:`welch_psd` of ``x`` computed in the given ``segments`` and ``spectrum`` buffers."""
    window = _hann(nperseg)
    overlapping = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=-1)[..., ::_welch_step(nperseg), :]
    np.subtract(overlapping, overlapping.mean(axis=-1, keepdims=True), out=segments)
    segments *= window
    np.fft.rfft(segments, axis=-1, out=spectrum)
    # |X|^2 = re^2 + im^2, squared in place on the float view, summed over the segments first: the
    # pair sums then run on an array 22 times smaller.
    squares = spectrum.view(np.float64)
    np.square(squares, out=squares)
    summed = squares.sum(axis=-2)
    psd = (summed[..., 0::2] + summed[..., 1::2]) / (segments.shape[-2] * fs * (window ** 2).sum())
    # One-sided: every bin but DC (and Nyquist for an even length) carries its negative twin.
    psd[..., 1:(nperseg + 1) // 2] *= 2
    return psd


def _variance_into(values: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """``values.var(axis=-1)`` with numpy's own steps (so bit for bit the same), its temporary
    held in ``scratch`` (which may be ``values``) rather than in a new array."""
    n = values.shape[-1]
    np.subtract(values, np.add.reduce(values, axis=-1, keepdims=True) / n, out=scratch)
    np.multiply(scratch, scratch, out=scratch)
    return np.add.reduce(scratch, axis=-1) / n


def feature_names(channels: list[str]) -> list[str]:
    """Column names of :func:`spectral_features`, channel-major (``"EEG Fpz-Cz:delta"``, ...)."""
    return [f"{ch}:{name}" for ch in channels for name in FEATURES_PER_CHANNEL]


def spectral_features(epochs: np.ndarray, fs: float = 100.0, threads: int = 1) -> np.ndarray:
    """Compute the ``spectral-v1`` features of every epoch.

    Parameters
    ----------
    epochs : np.ndarray
        ``[n_epochs, n_channels, n_samples]`` in volts (30-s epochs at ``fs``).
    fs : float
        Sampling rate in Hz (100 for the contract).
    threads : int
        Threads sharing the epochs (long nights only); the values do not change. numpy releases
        the GIL in the FFT and array arithmetic: a 22-h two-channel night took 0.58 s on one
        thread and 0.32 s on two cores (``python -m benchmarks.features_threads``).

    Returns
    -------
    np.ndarray
        float64 ``[n_epochs, 9 * n_channels]``, channel-major: for each channel the log band
        powers (delta, theta, alpha, beta, gamma) of the Welch PSD, the theta/alpha and
        alpha/delta ratios of those log powers, the log variance and the Hjorth mobility.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> spectral_features(rng.normal(0, 20e-6, (4, 2, 3000))).shape
    (4, 18)
    """
    x = np.asarray(epochs, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"epochs must be [n_epochs, n_channels, n_samples], got shape {x.shape}")
    n_epochs, n_channels, n_samples = x.shape
    features = np.empty((n_epochs, n_channels, len(FEATURES_PER_CHANNEL)))
    freqs = np.fft.rfftfreq(WELCH_NPERSEG, 1 / fs)
    # Each band is a run of neighbouring bins: a slice reads them in place, where a boolean mask
    # would copy them first.
    bands = []
    for lo, hi in BANDS_HZ:
        bins = np.flatnonzero((freqs >= lo) & (freqs <= hi))
        bands.append(slice(bins[0], bins[-1] + 1))

    def run(rows: slice) -> None:
        workspace = _Workspace((min(_BLOCK_EPOCHS, rows.stop - rows.start), n_channels, n_samples), WELCH_NPERSEG)
        for first in range(rows.start, rows.stop, _BLOCK_EPOCHS):
            block = slice(first, min(first + _BLOCK_EPOCHS, rows.stop))
            _block_features(x[block], fs, bands, workspace, features[block])

    run_in_threads(run, n_epochs, threads, min_rows=4 * _BLOCK_EPOCHS, align=_BLOCK_EPOCHS)
    return features.reshape(n_epochs, -1)


def _block_features(x: np.ndarray, fs: float, bands: list[slice], workspace: _Workspace, out: np.ndarray) -> None:
    """Write the features of the epochs ``x`` into ``out`` ``[n_epochs, n_channels, 9]``;
    ``bands`` are the PSD bins of :data:`BANDS_HZ`."""
    segments, spectrum, scratch = workspace.first(len(x))
    psd = _welch_into(x, fs, WELCH_NPERSEG, segments, spectrum)
    for column, band in enumerate(bands):
        out[..., column] = np.log(psd[..., band].mean(axis=-1) + LOG_OFFSET)
    delta, theta, alpha = out[..., 0], out[..., 1], out[..., 2]
    out[..., 5] = theta / (alpha + LOG_OFFSET)
    out[..., 6] = alpha / (delta + LOG_OFFSET)
    variance = _variance_into(x, scratch)
    steps = np.subtract(x[..., 1:], x[..., :-1], out=scratch[..., 1:])
    out[..., 7] = np.log(variance + LOG_OFFSET)
    out[..., 8] = np.sqrt(_variance_into(steps, steps) / (variance + LOG_OFFSET))
