"""Cut a recording into 30-s epochs and flag the epochs whose signal cannot be trusted.

A short flat, clipped or NaN stretch inside a good night is scored and flagged, not fatal; only
a channel that is unusable for the whole night is an error, raised by :func:`sleepscore.io.edf.read_psg`.

Example
-------
>>> epochs, dropped_s = cut_epochs(recording.signals, recording.fs)
>>> quality = epoch_quality(epochs, recording.physical_min, recording.physical_max)
>>> quality.any.sum()  # epochs with at least one flagged channel
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike

from sleepscore.errors import DataError
from sleepscore.stages import EPOCH_S, TARGET_FS
from sleepscore.threads import run_in_threads

#: A sample-to-sample step below this fraction of the channel's physical range is no change:
#: 1e-6 is under one digital step of a 16-bit EDF (1/65535 of the range), yet above the ripple
#: that resampling puts on a constant stretch.
STILL_STEP_FRACTION_OF_RANGE = 1e-6
#: An epoch is flat when at least this fraction of its steps are still. Not all of them: a flat
#: stretch that starts at an epoch boundary carries the resampling filter's ringing into it.
FLAT_FRACTION = 0.5
#: A sample within this fraction of the range from the physical minimum or maximum counts as
#: at the rail; the margin absorbs the ripple that resampling puts on a clipped plateau.
RAIL_FRACTION_OF_RANGE = 0.01
#: Epochs judged at once, which bounds the temporaries to a few MB per channel for any night.
_EPOCHS_PER_CHUNK = 128


@dataclasses.dataclass(frozen=True)
class EpochQuality:
    """Per-epoch, per-channel flags, each a bool array ``[n_epochs, n_channels]``."""

    flat: np.ndarray
    clipped: np.ndarray
    nan: np.ndarray

    @property
    def any(self) -> np.ndarray:
        """``[n_epochs]``: True where any channel of the epoch is flagged."""
        return (~self.usable).any(axis=1)

    @property
    def usable(self) -> np.ndarray:
        """``[n_epochs, n_channels]``: True where the channel's epoch has no flag."""
        return ~(self.flat | self.clipped | self.nan)


def cut_epochs(
    signals: np.ndarray, fs: float = TARGET_FS, epoch_s: float = EPOCH_S
) -> tuple[np.ndarray, float]:
    """Split ``[n_channels, n_samples]`` signals into consecutive epochs from the first sample.

    Parameters
    ----------
    signals : np.ndarray
        ``[n_channels, n_samples]``.
    fs : float
        Sampling rate in Hz.
    epoch_s : float
        Epoch length in seconds; ``fs * epoch_s`` must be a whole number of samples.

    Returns
    -------
    epochs : np.ndarray
        ``[n_epochs, n_channels, fs * epoch_s]``, a view of ``signals`` (no copy).
    dropped_seconds : float
        Length of the trailing partial epoch left out.

    Raises
    ------
    DataError
        The signals are shorter than one epoch.

    Examples
    --------
    >>> epochs, dropped = cut_epochs(np.zeros((2, 9100)), fs=100.0, epoch_s=30.0)
    >>> epochs.shape, dropped
    ((3, 2, 3000), 1.0)
    """
    samples_per_epoch = round(fs * epoch_s)
    if not np.isclose(samples_per_epoch, fs * epoch_s, rtol=0, atol=1e-9):
        raise ValueError(f"{epoch_s} s at {fs} Hz is not a whole number of samples")
    n_channels, n_samples = signals.shape
    n_epochs = n_samples // samples_per_epoch
    if n_epochs == 0:
        raise DataError(f"recording lasts {n_samples / fs:g} s, shorter than one {epoch_s:g}-s epoch")
    # Splitting the time axis of the kept prefix is always expressible with strides, so this
    # reshape returns a view even though the prefix itself is not contiguous.
    kept = signals[:, : n_epochs * samples_per_epoch]
    epochs = kept.reshape(n_channels, n_epochs, samples_per_epoch).transpose(1, 0, 2)
    return epochs, (n_samples - n_epochs * samples_per_epoch) / fs


def epoch_quality(
    epochs: np.ndarray,
    physical_min: ArrayLike,
    physical_max: ArrayLike,
    clipped_fraction: float = 0.05,
    threads: int = 1,
) -> EpochQuality:
    """Flag flat, clipped and NaN epochs of each channel.

    Parameters
    ----------
    epochs : np.ndarray
        ``[n_epochs, n_channels, n_samples]``, e.g. from :func:`cut_epochs`.
    physical_min, physical_max : array_like
        ``[n_channels]`` recordable range of each channel, in the unit of ``epochs``
        (:class:`sleepscore.io.edf.Recording` carries both).
    clipped_fraction : float
        An epoch is clipped when at least this fraction of its samples sit at a rail.
    threads : int
        Threads sharing the epochs (long nights only); the flags do not change.

    Returns
    -------
    EpochQuality
        ``flat``: at least :data:`FLAT_FRACTION` of the steps change the value by less than
        :data:`STILL_STEP_FRACTION_OF_RANGE` of the range; ``clipped``: see
        ``clipped_fraction`` and :data:`RAIL_FRACTION_OF_RANGE`; ``nan``: any NaN sample.

    Examples
    --------
    >>> epochs = np.zeros((2, 1, 3000)); epochs[1, 0] = np.sin(np.arange(3000))
    >>> epoch_quality(epochs, [-2.0], [2.0]).flat[:, 0]
    array([ True, False])
    """
    low = np.asarray(physical_min, dtype=np.float64)[np.newaxis, :, np.newaxis]
    high = np.asarray(physical_max, dtype=np.float64)[np.newaxis, :, np.newaxis]
    span = np.abs(high - low)
    upper_rail = np.maximum(low, high) - RAIL_FRACTION_OF_RANGE * span
    lower_rail = np.minimum(low, high) + RAIL_FRACTION_OF_RANGE * span
    still_step = STILL_STEP_FRACTION_OF_RANGE * span
    n_epochs, n_channels, n_samples = epochs.shape
    flat, clipped, nan = (np.zeros((n_epochs, n_channels), dtype=bool) for _ in range(3))

    def run(part: slice) -> None:
        # Temporaries reused from chunk to chunk: fresh ones for every chunk cost more than the
        # comparisons (the kernel maps and zero-fills new memory each time).
        chunk_shape = (min(_EPOCHS_PER_CHUNK, part.stop - part.start), n_channels, n_samples)
        steps_buffer = np.empty((*chunk_shape[:2], n_samples - 1))
        mask_buffer, other_mask_buffer = np.empty(chunk_shape, dtype=bool), np.empty(chunk_shape, dtype=bool)
        for first in range(part.start, part.stop, _EPOCHS_PER_CHUNK):
            chunk = epochs[first : min(first + _EPOCHS_PER_CHUNK, part.stop)]
            rows = slice(first, first + len(chunk))
            mask, other_mask = mask_buffer[: len(chunk)], other_mask_buffer[: len(chunk)]
            nan[rows] = np.isnan(chunk, out=mask).any(axis=2)
            steps = np.subtract(chunk[..., 1:], chunk[..., :-1], out=steps_buffer[: len(chunk)])
            still = np.less(np.abs(steps, out=steps), still_step, out=mask[..., 1:])
            flat[rows] = np.count_nonzero(still, axis=2) / still.shape[2] >= FLAT_FRACTION
            at_rail = np.logical_or(np.greater_equal(chunk, upper_rail, out=mask),
                                    np.less_equal(chunk, lower_rail, out=other_mask), out=mask)
            clipped[rows] = np.count_nonzero(at_rail, axis=2) / n_samples >= clipped_fraction

    run_in_threads(run, n_epochs, threads, min_rows=2 * _EPOCHS_PER_CHUNK, align=_EPOCHS_PER_CHUNK)
    return EpochQuality(flat=flat, clipped=clipped, nan=nan)
