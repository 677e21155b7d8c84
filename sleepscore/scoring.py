"""Scoring one night end to end: read the PSG, cut epochs, run the model, align the expert labels.

This is the library form of ``sleepscore predict``; the CLI only adds argument parsing and writing.
"""

from __future__ import annotations

import warnings as warnings_module
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .io.edf import match_channels, read_header
from .epochs import EpochQuality
from .errors import DataError
from .alignment import epoch_labels
from .io.hypnogram import EpochList, Hypnogram, HypnogramWarning, read_hypnogram
from .model import (ANY_EEG, ANY_EEG_MODEL, DEFAULT_MODEL, Prediction, SleepModel, combine_derivations,
                    declared_channels, load_model, shipped_models_dir)
from .montage import choose_eeg, derivation_key
from .io.writers import ScoredNight, write_hypnogram_edf, write_scored_table
from .metrics import expected_accuracy
from .pipeline import ModelInput, read_model_input
from .sleepstats import sleep_statistics
from .stages import STAGES

if TYPE_CHECKING:
    from .metrics import Agreement

#: Share of epochs beyond the model's training range above which a recording gets a warning. By
#: construction ~1 % of training epochs are beyond it; simulated nights give 0.5-0.7 % clean and
#: 100 % when sampled at 50 Hz (benchmarks/results/robustness.md). Not yet checked on other labs.
UNFAMILIAR_WARNING_SHARE = 0.25
#: What to make of :attr:`NightScore.expected_accuracy`. On held-out recordings of the derivations
#: the single-EEG recipe was trained on it was at or a little below the measured accuracy (pooled
#: 0.92 against 0.93-0.94 on whole recordings, 0.80 against 0.80 on 30-min ones with the
#: short-recording temperature); on a derivation the network never saw, up to 0.4 above it
#: (``models/levers.md``, 2026-12-07, eighth and ninth sessions).
EXPECTED_ACCURACY_CAVEAT = ("the mean confidence: close to the measured accuracy on held-out recordings "
                            "of the derivations the model was trained on, too high on some others")
#: Share of the epochs scored as sleep whose 30-50 Hz power the model's muscle gate half or more
#: discounts (``gamma_excess`` >= 0.5) above which a recording is warned of muscle artefact.
MUSCLE_WARNING_SHARE = 0.2


@dataclass(kw_only=True)
class NightScore(ScoredNight):
    """A scored night: what :class:`~sleepscore.io.writers.ScoredNight` writes, and where it came from.

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
        Things the user should know (low sampling rate, dropped seconds, inputs unlike the
        training data).
    notes : list[str]
        How the channels were chosen, when they were chosen automatically.
    distance : np.ndarray or None
        Per-epoch distance of the input to the model's training data, for models that report it.
    gamma_excess : np.ndarray or None
        Per-epoch 30-50 Hz power beyond what the lower bands predict (0-1, muscle), for models
        that report it.
    """

    psg: Path
    channels: list[str]
    model: Path
    dropped_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    distance: np.ndarray | None = None
    gamma_excess: np.ndarray | None = None

    @property
    def n_epochs(self) -> int:
        return int(len(self.probs))

    @property
    def expected_accuracy(self) -> float:
        """The accuracy against an expert that the model's calibrated confidence predicts (see
        :func:`sleepscore.metrics.expected_accuracy`)."""
        return expected_accuracy(self.probs)


def quality_flags(quality: EpochQuality, channels: Sequence[str]) -> np.ndarray:
    """One string per epoch naming its problems, e.g. ``"flat:EEG Pz-Oz"``; ``""`` when clean."""
    flags = np.full(quality.flat.shape[0], "", dtype=object)
    for name in ("flat", "clipped", "nan"):
        for epoch, channel in zip(*np.nonzero(getattr(quality, name))):
            item = f"{name}:{channels[channel]}"
            flags[epoch] = f"{flags[epoch]};{item}" if flags[epoch] else item
    return flags


@dataclass(frozen=True)
class ModelChoice:
    """The model a recording is scored with, the channels fed to it, and why.

    Attributes
    ----------
    model : SleepModel
    channels : list[str]
        Channel names to read, in the model's input order (matched as
        :func:`~sleepscore.io.edf.match_channels` does).
    notes : list[str]
        One line each for the user: which model and channel were picked, by which rule.
    """

    model: SleepModel
    channels: list[str]
    notes: list[str] = field(default_factory=list)


def muscle_share(probs: np.ndarray, gamma_excess: np.ndarray | None) -> float | None:
    """Share of the epochs scored as sleep that the muscle gate half or more discounts.

    None when the model reports no ``gamma_excess`` or scores no epoch as sleep.
    """
    sleep = probs.argmax(axis=1) != STAGES.index("W")
    if gamma_excess is None or not sleep.any():
        return None
    return float(np.mean(gamma_excess[sleep] >= 0.5))


def muscle_warning(probs: np.ndarray, gamma_excess: np.ndarray | None) -> str | None:
    """The muscle warning of a night (without its file name), or None when none is due: more than
    :data:`MUSCLE_WARNING_SHARE` of the epochs scored as sleep discounted by the muscle gate."""
    share = muscle_share(probs, gamma_excess)
    if share is None or share <= MUSCLE_WARNING_SHARE:
        return None
    return (f"{share:.0%} of the epochs scored as sleep have 30-50 Hz power far above what their lower "
            "bands predict (muscle or electrode artefact); they were scored mostly from the bands below 30 Hz")


def choose_model(psg: str | Path, model: SleepModel | str | Path | None,
                 channels: Sequence[str] | None, threads: int | None = None) -> ModelChoice:
    """The model and channels to score ``psg`` with.

    - ``channels`` given: they are used as given, with ``model`` or, without one, the shipped
      two-channel model when they are its own two derivations (Fpz-Cz, Pz-Oz, in that order) and
      the shipped single-EEG model otherwise, on each channel alone (see :func:`predict_input`).
    - No ``channels``, no ``model``: the shipped two-channel model when the file has its two
      channels, else the single-EEG model on the channels :func:`sleepscore.montage.choose_eeg`
      picks (the first of central, frontal and occipital derivations in that order, and one of
      the farthest other scalp region; never EOG, EMG or ECG), each scored alone.
    - No ``channels``, a ``model``: its declared channels, or for a model that takes any EEG
      derivation, those :func:`~sleepscore.montage.choose_eeg` picks.

    ``threads`` sets onnxruntime's threads of a model loaded here (1 in the workers of a process pool).
    """
    if channels is not None:
        if model is not None:
            chosen = model if isinstance(model, SleepModel) else load_model(model, threads=threads)
        elif [derivation_key(c) for c in channels] == [derivation_key(c) for c in shipped_channels(DEFAULT_MODEL)]:
            chosen = shipped_model(DEFAULT_MODEL, threads)
        else:
            chosen = shipped_model(ANY_EEG_MODEL, threads)
        return ModelChoice(chosen, list(channels))
    header = read_header(psg)
    signals = [signal for signal in header.signals if not header.is_annotation(signal)]
    labels = [signal.label for signal in signals]
    if model is None:
        try:
            matched = match_channels(shipped_channels(DEFAULT_MODEL), labels, psg)
        except DataError:
            chosen = shipped_model(ANY_EEG_MODEL, threads)
        else:
            return ModelChoice(shipped_model(DEFAULT_MODEL, threads), matched)
    else:
        chosen = model if isinstance(model, SleepModel) else load_model(model, threads=threads)
    if chosen.info.channels != [ANY_EEG]:
        return ModelChoice(chosen, chosen.info.channels)
    pick = choose_eeg(psg, labels, [float(header.sampling_rate(signal)) for signal in signals])
    return ModelChoice(chosen, pick.labels, [pick.reason])


def predict_input(model: SleepModel, model_input: ModelInput) -> Prediction:
    """What ``model`` says about a recording's input.

    A model that takes any one EEG derivation scores each channel of a multi-channel input alone,
    and their predictions are combined (:func:`sleepscore.model.combine_derivations`, each epoch's
    flat, clipped or missing channels left out of it); any other model takes the input whole.
    """
    n_channels = len(model_input.recording.channels)
    if model.info.channels != [ANY_EEG] or n_channels == 1:
        return model.predict(model_input.x)
    usable = model_input.quality.usable if model_input.quality is not None else None
    return combine_derivations([model.predict(model_input.channel(i)) for i in range(n_channels)], usable)


@lru_cache(maxsize=None)
def shipped_channels(name: str) -> tuple[str, ...]:
    """The channels a shipped model declares, read once per process without starting onnxruntime
    (a cohort run asks for them on every night)."""
    return tuple(declared_channels(shipped_models_dir() / name))


@lru_cache(maxsize=None)
def shipped_model(name: str, threads: int | None = None) -> SleepModel:
    """A shipped model, loaded once per process (a cohort run scores many nights with it)."""
    return load_model(shipped_models_dir() / name, threads=threads)


def score_night(psg: str | Path, model: SleepModel | str | Path | None = None, *,
                channels: Sequence[str] | None = None,
                hypnogram: str | Path | Hypnogram | EpochList | None = None,
                label_map: dict[str, str] | None = None, threads: int | None = None) -> NightScore:
    """Score one night.

    Parameters
    ----------
    psg : str or Path
        EDF/EDF+/BDF recording.
    model : SleepModel, path or None
        The model; None picks a shipped one (see :func:`choose_model`).
    channels : sequence of str, optional
        File channels to feed the model, in its input order, instead of its declared ones; a
        single-EEG model scores each alone and combines them (e.g. ``["C4-A1", "O2-A1"]``).
    hypnogram : str, Path, Hypnogram or EpochList, optional
        Expert hypnogram (a file, or one already read with
        :func:`~sleepscore.io.hypnogram.read_hypnogram`), aligned to the epochs for metrics.
    label_map : dict, optional
        Integer-code → stage map for hypnograms scored with numbers.
    threads : int, optional
        onnxruntime threads of a model loaded here (default: see :class:`~sleepscore.model.SleepModel`)
        and threads of the quality flags and spectral features (default: the cores this process
        may use; 1 in the workers of a process pool, which already fill the cores).

    Returns
    -------
    NightScore

    Examples
    --------
    >>> night = score_night("SC4001E0-PSG.edf")  # doctest: +SKIP
    >>> night.stages[:5]  # doctest: +SKIP
    array([0, 0, 0, 0, 0])
    """
    choice = choose_model(psg, model, channels, threads)
    chosen, wanted = choice.model, choice.channels
    info = chosen.info
    if info.channels != [ANY_EEG] and len(wanted) != len(info.channels):
        raise DataError(f"{chosen.path}: model takes {len(info.channels)} channel(s) "
                        f"{info.channels}, but {len(wanted)} were given: {wanted}")
    # The hypnogram is read before the signal so that a wrong label fails fast, before the heavy work.
    hyp = read_hypnogram(hypnogram, label_map=label_map) if hypnogram is not None else None
    model_input = read_model_input(psg, wanted, input_kind=info.input, unit=info.unit, fs=info.fs,
                                   epoch_s=info.epoch_s, quality=True, threads=threads)
    recording, dropped_s = model_input.recording, model_input.dropped_s
    probs, distance, gamma_excess = predict_input(chosen, model_input)
    warnings = list(recording.warnings)
    if dropped_s > 0:
        warnings.append(f"{Path(psg).name}: the last {dropped_s:g} s do not fill a "
                        f"{info.epoch_s:g}-s epoch and were not scored")
    unfamiliar = chosen.unfamiliar_share(distance)
    if unfamiliar is not None and unfamiliar > UNFAMILIAR_WARNING_SHARE:
        warnings.append(f"{Path(psg).name}: {unfamiliar:.0%} of the epochs have relative band powers "
                        "unlike any the model was trained on (beyond 99 % of its training epochs); "
                        "treat the stages with caution")
    muscle = muscle_warning(probs, gamma_excess)
    if muscle is not None:
        warnings.append(f"{Path(psg).name}: {muscle}")
    expert = None
    if hyp is not None:
        # Kept with the night's other warnings, so reports and batch outcomes show them too.
        with warnings_module.catch_warnings(record=True) as caught:
            warnings_module.simplefilter("always", HypnogramWarning)
            expert = epoch_labels(hyp, len(probs), psg_start=recording.start, epoch_s=info.epoch_s)
        warnings += [str(w.message) for w in caught if issubclass(w.category, HypnogramWarning)]
    return NightScore(probs=probs, start=recording.start, epoch_s=info.epoch_s,
                      quality=quality_flags(model_input.quality, recording.channels), expert=expert,
                      psg=Path(psg), channels=recording.channels, model=chosen.path,
                      dropped_s=dropped_s, warnings=warnings, notes=choice.notes,
                      distance=distance, gamma_excess=gamma_excess)



def night_metrics(night: NightScore, stats: dict[str, float | None],
                  result: Agreement | None) -> dict[str, object]:
    """What ``predict --metrics-json`` writes: the night's source, the accuracy its confidence
    predicts, its sleep statistics and, with an expert hypnogram, its agreement on the whole
    recording."""
    return {
        "psg": str(night.psg), "model": str(night.model), "channels": night.channels,
        "n_epochs": night.n_epochs, "protocol": "whole recording",
        "expected_accuracy": night.expected_accuracy,
        "sleep_statistics": stats,
        "agreement": result.to_dict() if result is not None else None,
    }


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
