"""Scoring one night end to end: read the PSG, cut epochs, run the model, align the expert labels.

This is the library form of ``sleepscore predict``; the CLI only adds argument parsing and writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .edf import list_channels, match_channels, read_psg
from .epochs import EpochQuality, cut_epochs, epoch_quality
from .errors import DataError
from .features import spectral_features
from .hypnogram import epoch_labels, read_hypnogram
from .model import DEFAULT_MODEL, SINGLE_CHANNEL_MODEL, SleepModel, load_model, shipped_models_dir
from .output import ScoredNight, write_hypnogram_edf, write_scored_table
from .sleepstats import sleep_statistics


@dataclass(kw_only=True)
class NightScore(ScoredNight):
    """A scored night: what :class:`~sleepscore.output.ScoredNight` writes, and where it came from.

    Attributes
    ----------
    psg : Path
        The scored recording.
    channels : list[str]
        File channel labels used, in model input order.
    model : Path
        The model file that produced ``probs``.
    dropped_s : float
        Length of the trailing partial epoch that was not scored.
    warnings : list[str]
        Things the user should know (low sampling rate, dropped seconds, model fallback).
    """

    psg: Path
    channels: list[str]
    model: Path
    dropped_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def n_epochs(self) -> int:
        return int(len(self.probs))


def quality_flags(quality: EpochQuality, channels: Sequence[str]) -> np.ndarray:
    """One string per epoch naming its problems, e.g. ``"flat:EEG Pz-Oz"``; ``""`` when clean."""
    flags = np.full(quality.flat.shape[0], "", dtype=object)
    for name in ("flat", "clipped", "nan"):
        for epoch, channel in zip(*np.nonzero(getattr(quality, name))):
            item = f"{name}:{channels[channel]}"
            flags[epoch] = f"{flags[epoch]};{item}" if flags[epoch] else item
    return flags


def choose_model(psg: str | Path, model: SleepModel | str | Path | None,
                 channels: Sequence[str] | None, threads: int | None = None) -> SleepModel:
    """The model to score ``psg`` with.

    An explicit model is used as given. With none, the shipped two-channel model is used, or the
    shipped single-channel (Fpz-Cz) model when the file has Fpz-Cz but no Pz-Oz and no
    ``channels`` override was asked for. ``threads`` sets onnxruntime's threads of a model
    loaded here (1 in the workers of a process pool).
    """
    if isinstance(model, SleepModel):
        return model
    if model is not None:
        return load_model(model, threads=threads)
    default = shipped_model(DEFAULT_MODEL, threads)
    if channels is None:
        available = list_channels(psg)
        try:
            match_channels(default.info.channels, available, psg)
        except DataError:
            single = shipped_model(SINGLE_CHANNEL_MODEL, threads)
            match_channels(single.info.channels, available, psg)  # still an error if Fpz-Cz is missing too
            return single
    return default


@lru_cache(maxsize=None)
def shipped_model(name: str, threads: int | None = None) -> SleepModel:
    """A shipped model, loaded once per process (a cohort run scores many nights with it)."""
    return load_model(shipped_models_dir() / name, threads=threads)


def score_night(psg: str | Path, model: SleepModel | str | Path | None = None, *,
                channels: Sequence[str] | None = None, hypnogram: str | Path | None = None,
                label_map: dict[str, str] | None = None, threads: int | None = None) -> NightScore:
    """Score one night.

    Parameters
    ----------
    psg : str or Path
        EDF/EDF+/BDF recording.
    model : SleepModel, path or None
        The model; None picks a shipped one (see :func:`choose_model`).
    channels : sequence of str, optional
        File channels to feed the model, in its input order, instead of its declared ones
        (e.g. ``["C4-A1", "O2-A1"]`` for a recording without Fpz-Cz/Pz-Oz).
    hypnogram : str or Path, optional
        Expert hypnogram, aligned to the epochs for metrics.
    label_map : dict, optional
        Integer-code → stage map for hypnograms scored with numbers.
    threads : int, optional
        onnxruntime threads of a model loaded here (default: see :class:`~sleepscore.model.SleepModel`).

    Returns
    -------
    NightScore

    Examples
    --------
    >>> night = score_night("SC4001E0-PSG.edf")  # doctest: +SKIP
    >>> night.stages[:5]  # doctest: +SKIP
    array([0, 0, 0, 0, 0])
    """
    chosen = choose_model(psg, model, channels, threads)
    info = chosen.info
    wanted = list(channels) if channels is not None else info.channels
    if len(wanted) != len(info.channels):
        raise DataError(f"{chosen.path}: model takes {len(info.channels)} channel(s) "
                        f"{info.channels}, but {len(wanted)} were given: {wanted}")
    # The hypnogram is read before the signal so that a wrong label fails fast, before the heavy work.
    hyp = read_hypnogram(hypnogram, label_map=label_map) if hypnogram is not None else None
    recording = read_psg(psg, wanted, unit=info.unit, fs=info.fs)
    epochs, dropped_s = cut_epochs(recording.signals, fs=info.fs, epoch_s=info.epoch_s)
    quality = epoch_quality(epochs, recording.physical_min, recording.physical_max)
    x = spectral_features(epochs, fs=info.fs) if info.input == "features" else epochs
    probs = chosen.predict_proba(x)
    warnings = list(recording.warnings)
    if dropped_s > 0:
        warnings.append(f"{Path(psg).name}: the last {dropped_s:g} s do not fill a "
                        f"{info.epoch_s:g}-s epoch and were not scored")
    if chosen.path.name == SINGLE_CHANNEL_MODEL and model is None:
        warnings.append(f"{Path(psg).name}: no Pz-Oz channel, scored with the single-channel "
                        f"Fpz-Cz model {chosen.path.name}")
    expert = None
    if hyp is not None:
        expert = epoch_labels(hyp, len(probs), psg_start=recording.start, epoch_s=info.epoch_s)
    return NightScore(probs=probs, start=recording.start, epoch_s=info.epoch_s,
                      quality=quality_flags(quality, recording.channels), expert=expert,
                      psg=Path(psg), channels=recording.channels, model=chosen.path,
                      dropped_s=dropped_s, warnings=warnings)



OUTPUT_FORMATS = ("csv", "tsv", "edf")


def output_format(path: str | Path, fmt: str | None = None) -> str:
    """``fmt`` when given, else the format named by the output's extension (csv by default)."""
    return fmt or {".tsv": "tsv", ".edf": "edf"}.get(Path(path).suffix.lower(), "csv")


def save_night(night: NightScore, output: str | Path, fmt: str | None = None,
               force: bool = False) -> dict[str, float | None]:
    """Write a scored night atomically and return its sleep statistics.

    ``csv``/``tsv`` write the per-epoch table followed by the statistics; ``edf`` writes an
    EDF+ hypnogram (annotations only).
    """
    stats = sleep_statistics(night.stages, night.epoch_s)
    if output_format(output, fmt) == "edf":
        write_hypnogram_edf(output, night.stages, night.start, night.epoch_s, force=force)
    else:
        write_scored_table(output, night, stats, fmt=output_format(output, fmt), force=force)
    return stats
