"""Polyphase resampling by a rational factor, numerically the same as ``scipy.signal.resample_poly``.

Written with numpy rather than called from scipy because ``import scipy.signal`` costs ~0.9 s, more
than the whole rest of scoring an 8-h 256-Hz night, and every clinical file (128, 200, 256, 500,
512 Hz) needs resampling to the models' 100 Hz. The filter and the alignment are scipy's (a
Kaiser-windowed sinc, beta 5, ``10 * max(up, down)`` taps on each side, zero padding), so the
output matches ``resample_poly(x, up, down)`` to rounding; the test suite checks that over many
rates and lengths.

The arithmetic is arranged as a few large matrix products: every ``up`` output samples consume
exactly ``down`` input samples, so with the (zero-padded) input viewed as rows of ``down``
samples, each row of ``up`` outputs is the sum, over the few consecutive input rows the filter
reaches, of that row times a fixed ``[down, up]`` matrix of each output phase's taps. The input is
taken a block of rows at a time, and BLAS does each product far faster than a loop over taps.
"""

from __future__ import annotations

import math

import numpy as np

#: scipy's choices for resample_poly's default filter.
_KAISER_BETA = 5.0
_HALF_LENGTH_PER_FACTOR = 10
#: Input samples per block: the block's copy and products stay in the CPU cache, a night's signal
#: is never copied whole, and each product is small enough that OpenBLAS runs it on one thread.
#: From 2^15 it starts a second thread: alone on a quiet 2-core machine that is faster (8 h at
#: 256 Hz: 0.025 s at 2^16, 0.055 s here; benchmarks/results/resample_speed.md), but it takes the
#: core that a batch's other worker, or any other load, is using.
_BLOCK_SAMPLES = 1 << 14
#: Entries of the tap matrix built at once. Common ratios (256 Hz to 100 Hz: 2 x 64 x 25) fit in
#: one piece; a near-unit ratio with large factors (4096/4095) would need 2 x 4095 x 4096, so its
#: output phases are computed a group at a time.
_TAP_MATRIX_ENTRIES = 1 << 21


def lowpass_taps(up: int, down: int) -> np.ndarray:
    """The anti-aliasing filter ``resample_poly`` uses for ``up/down``, scaled by ``up``.

    A windowed-sinc low-pass at ``1 / max(up, down)`` of the Nyquist rate of the upsampled
    signal, Kaiser window with beta 5, normalised to unit gain at DC (as ``scipy.signal.firwin``
    with ``window=("kaiser", 5.0)`` builds it).
    """
    max_rate = max(up, down)
    half_length = _HALF_LENGTH_PER_FACTOR * max_rate
    offsets = np.arange(2 * half_length + 1) - half_length
    cutoff = 1.0 / max_rate
    taps = cutoff * np.sinc(cutoff * offsets) * np.kaiser(len(offsets), _KAISER_BETA)
    return taps * (up / taps.sum())


def resample_poly(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """Resample the 1-D signal ``x`` by ``up / down`` with a polyphase FIR filter.

    Parameters
    ----------
    x : np.ndarray
        1-D signal.
    up, down : int
        Positive upsampling and downsampling factors.

    Returns
    -------
    np.ndarray
        ``ceil(len(x) * up / down)`` float64 samples, as ``scipy.signal.resample_poly(x, up, down)``
        returns them (zero padding beyond both ends).

    Examples
    --------
    >>> x = np.sin(2 * np.pi * 10 * np.arange(2560) / 256)  # 10 s of 10 Hz at 256 Hz
    >>> y = resample_poly(x, 25, 64)  # to 100 Hz
    >>> y.shape
    (1000,)
    >>> bool(np.abs(y[100:-100] - np.sin(2 * np.pi * 10 * np.arange(100, 900) / 100)).max() < 1e-3)
    True
    """
    if up < 1 or down < 1:
        raise ValueError(f"resampling factors must be positive, not {up}/{down}")
    divisor = math.gcd(up, down)
    up, down = up // divisor, down // divisor
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"resample_poly takes one signal (1-D), not an array of shape {x.shape}")
    n_out = -(-len(x) * up // down)
    if up == down == 1:
        return x.copy()
    taps = lowpass_taps(up, down)
    half_length = (len(taps) - 1) // 2
    # Output sample j is sum_i x[i] * taps[j * down + half_length - i * up]: the upsampled signal
    # filtered, with the filter's delay removed (scipy's alignment). For j = p * up + s the input
    # indices involved are p * down + origin + r, r in [0, width), with the tap index
    # centre[s] - (origin + r) * up.
    centre = np.arange(up) * down + half_length
    origin = int((-(-(centre - (len(taps) - 1)) // up)).min())
    width = int((centre // up).max()) - origin + 1
    n_rows = -(-width // down)  # input rows of `down` samples one output row reaches
    n_periods = -(-n_out // up)
    out = np.empty((n_periods, up))
    offset = np.arange(n_rows * down)[:, None] + origin
    phases_per_group = max(1, _TAP_MATRIX_ENTRIES // (n_rows * down))
    periods_per_block = max(1, _BLOCK_SAMPLES // down)
    for first in range(0, up, phases_per_group):
        group = slice(first, first + phases_per_group)
        tap_index = centre[None, group] - offset * up
        inside = (tap_index >= 0) & (tap_index < len(taps))
        phase_taps = np.where(inside, taps[np.clip(tap_index, 0, len(taps) - 1)], 0.0)
        phase_taps = phase_taps.reshape(n_rows, down, -1)
        for start in range(0, n_periods, periods_per_block):
            stop = min(start + periods_per_block, n_periods)
            rows = _input_rows(x, start * down + origin, stop - start + n_rows - 1, down)
            block = out[start:stop, group]
            np.matmul(rows[:stop - start], phase_taps[0], out=block)
            for row in range(1, n_rows):
                block += rows[row:row + stop - start] @ phase_taps[row]
    return out.ravel()[:n_out]


def _input_rows(x: np.ndarray, begin: int, n_rows: int, down: int) -> np.ndarray:
    """``x[begin : begin + n_rows * down]`` as ``[n_rows, down]``, zeros outside the signal."""
    rows = np.zeros(n_rows * down)
    lo, hi = max(begin, 0), min(len(x), begin + len(rows))
    if hi > lo:
        rows[lo - begin:hi - begin] = x[lo:hi]
    return rows.reshape(n_rows, down)
