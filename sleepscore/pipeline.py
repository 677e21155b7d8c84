"""Read → epochs → model input: the one recipe shared by predict, ``features``, training and benchmarks.

Writing it once keeps what a model is trained on and what it is served identical (no
train/serve skew): the same channel reading and resampling, the same epoch grid, the same
features.

Examples
--------
>>> model_input = read_model_input("SC4001E0-PSG.edf", ["EEG Fpz-Cz", "EEG Pz-Oz"])  # doctest: +SKIP
>>> model_input.x.shape  # doctest: +SKIP
(2650, 18)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io.edf import Recording, read_psg
from .epochs import EpochQuality, cut_epochs, epoch_quality
from .features import spectral_features
from .stages import EPOCH_S, TARGET_FS
from .threads import usable_cores


@dataclass
class ModelInput:
    """One recording made ready for a model.

    Attributes
    ----------
    recording : Recording
        The channels as read and resampled (their signals, rate, start time, warnings).
    epochs : np.ndarray
        ``[n_epochs, n_channels, samples_per_epoch]``.
    x : np.ndarray
        What the model takes: the spectral-v1 features ``[n_epochs, 9 * n_channels]`` for
        ``features`` models, ``epochs`` for ``raw`` ones.
    dropped_s : float
        Length of the trailing partial epoch left out.
    quality : EpochQuality or None
        Per-epoch flat/clipped/NaN flags, when asked for.
    """

    recording: Recording
    epochs: np.ndarray
    x: np.ndarray
    dropped_s: float
    quality: EpochQuality | None = None

    def channel(self, index: int) -> np.ndarray:
        """The model input of channel ``index`` alone, for a one-channel model."""
        return one_channel(self.x, index, len(self.recording.channels))


def one_channel(x: np.ndarray, index: int, n_channels: int) -> np.ndarray:
    """Channel ``index`` of a multi-channel model input: its block of the channel-major features
    ``[n_epochs, width * n_channels]``, or its epochs ``[n_epochs, 1, samples]`` of raw input
    ``[n_epochs, n_channels, samples]``.

    Examples
    --------
    >>> one_channel(np.arange(12).reshape(2, 6), 1, 3).tolist()
    [[2, 3], [8, 9]]
    >>> one_channel(np.zeros((2, 3, 100)), 2, 3).shape
    (2, 1, 100)
    """
    if x.ndim == 3:
        return x[:, index:index + 1]
    width = x.shape[1] // n_channels
    return x[:, index * width:(index + 1) * width]


def read_model_input(psg: str | Path, channels: Sequence[str], *, input_kind: str = "features",
                     unit: str = "V", fs: float = TARGET_FS, epoch_s: float = EPOCH_S,
                     quality: bool = False, threads: int | None = None,
                     on_step: Callable[[str], None] | None = None) -> ModelInput:
    """Read ``channels`` of ``psg`` and turn them into a model's input.

    Parameters
    ----------
    psg : str or Path
        EDF/EDF+/BDF recording.
    channels : sequence of str
        File channel labels, in the model's input order (matched as
        :func:`sleepscore.io.edf.match_channels` does).
    input_kind : {"features", "raw"}
        The contract's ``sleepscore.input``.
    unit, fs, epoch_s
        The contract's input unit, rate and epoch length.
    quality : bool
        Also flag flat, clipped and NaN epochs.
    threads : int, optional
        Threads of the quality flags and features (default: the cores this process may use).
    on_step : callable, optional
        Called with each step's name (``"read"``, ``"epochs"``, ``"quality"``, ``"features"``)
        as it ends, for profiles.

    Returns
    -------
    ModelInput
    """
    def done(step: str) -> None:
        if on_step is not None:
            on_step(step)

    recording = read_psg(psg, channels, unit=unit, fs=fs)
    done("read")
    epochs, dropped_s = cut_epochs(recording.signals, fs=fs, epoch_s=epoch_s)
    done("epochs")
    cores = threads or usable_cores()
    flags = None
    if quality:
        flags = epoch_quality(epochs, recording.physical_min, recording.physical_max, threads=cores)
        done("quality")
    x = epochs
    if input_kind == "features":
        x = spectral_features(epochs, fs=fs, threads=cores)
        done("features")
    return ModelInput(recording, epochs, x, dropped_s, flags)
