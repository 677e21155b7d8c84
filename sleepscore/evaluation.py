"""Agreement of a model with expert hypnograms over many nights (``sleepscore evaluate``).

Each night is scored on its whole recording, then the trimming protocol picks the epochs that
count: metrics depend strongly on it (a 22-h Sleep-EDF recording is mostly wake), so every result
carries the protocol's name.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .batch import one_line, run_many, worker_model
from .datasets import RecordingPair
from .errors import SleepscoreError
from .io.writers import atomic_path
from .alignment import trim_mask
from .io.hypnogram import read_hypnogram
from .io.lights import LightsTable
from .metrics import Agreement, Summary, agreement, expected_accuracy, summarise
from .model import SleepModel, load_model
from .protocols import by_trim
from .scoring import score_night
from .stages import STAGES, UNSCORED


@dataclass
class NightAgreement:
    """One night's outcome: its agreement, or the one-line error that stopped it.

    ``model`` and ``channels`` are what the night was scored with (None when it failed first);
    ``expected_accuracy`` is the accuracy the model's confidence expected on the compared epochs
    (:func:`sleepscore.metrics.expected_accuracy`), to set against the measured one; None without
    compared epochs.
    """

    name: str
    psg: Path
    hypnogram: Path
    agreement: Agreement | None = None
    n_epochs: int = 0
    error: str | None = None
    model: Path | None = None
    channels: list[str] | None = None
    expected_accuracy: float | None = None


@dataclass
class Evaluation:
    """Per-night and summary agreement under one trimming protocol."""

    protocol: str
    nights: list[NightAgreement]

    @property
    def succeeded(self) -> list[NightAgreement]:
        return [night for night in self.nights if night.agreement is not None]

    @property
    def failed(self) -> list[NightAgreement]:
        return [night for night in self.nights if night.agreement is None]

    @property
    def models(self) -> list[Path]:
        """The models the scored nights used, in order of first use (one unless chosen per night)."""
        return list(dict.fromkeys(night.model for night in self.succeeded
                                  if night.model is not None))

    @property
    def summary(self) -> Summary | None:
        """Pooled and mean ± SD metrics over the nights that were scored (None if none was)."""
        done = self.succeeded
        return summarise([night.agreement for night in done]) if done else None

    @property
    def expected_accuracy(self) -> float | None:
        """The nights' expected accuracies pooled over their compared epochs, as the summary's
        pooled accuracy is (None if no night was scored)."""
        done = [night for night in self.succeeded if night.expected_accuracy is not None]
        if not done:
            return None
        epochs = sum(night.agreement.n_epochs for night in done)
        return sum(night.expected_accuracy * night.agreement.n_epochs for night in done) / epochs

    def to_dict(self) -> dict:
        """JSON-ready report: protocol, models, per-night rows, summary and failures.

        ``model`` is the one model every scored night used (None if they used several, e.g. the
        shipped two-channel and single-EEG models chosen per night; ``models`` lists them).
        """
        summary = self.summary
        models = self.models
        return {
            "protocol": self.protocol,
            "protocol_description": by_trim(self.protocol).description,
            "model": str(models[0]) if len(models) == 1 else None,
            "models": [str(model) for model in models],
            "expected_accuracy": self.expected_accuracy,
            "nights": [
                {"night": n.name, "psg": str(n.psg), "hypnogram": str(n.hypnogram),
                 "model": str(n.model) if n.model else None, "channels": n.channels,
                 "recording_epochs": n.n_epochs, "expected_accuracy": n.expected_accuracy,
                 "agreement": n.agreement.to_dict() if n.agreement else None, "error": n.error}
                for n in self.nights
            ],
            "summary": summary.to_dict() if summary else None,
        }

    def write_csv(self, path: str | Path, force: bool = False) -> None:
        """One row per night (failed nights with their error), written atomically."""
        with atomic_path(path, force=force) as temporary, temporary.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["night", "psg", "hypnogram", "protocol", "epochs", "accuracy",
                             "macro_f1", "kappa", *(f"f1_{s}" for s in STAGES), "expected_accuracy",
                             "error"])
            for night in self.nights:
                a = night.agreement
                values = ([a.n_epochs, f"{a.accuracy:.4f}", f"{a.macro_f1:.4f}", f"{a.kappa:.4f}",
                           *(f"{f:.4f}" for f in a.f1),
                           "" if night.expected_accuracy is None else f"{night.expected_accuracy:.4f}"]
                          if a is not None else [""] * (5 + len(STAGES)))
                writer.writerow([night.name, night.psg, night.hypnogram, self.protocol, *values,
                                 night.error or ""])


def evaluate_night(pair: RecordingPair, model: SleepModel | str | Path | None = None, *,
                   protocol: str = "none", lights: LightsTable | None = None,
                   label_map: Mapping[str, str] | None = None,
                   channels: Sequence[str] | None = None,
                   hypnogram_epoch_s: float | None = None,
                   threads: int | None = None) -> NightAgreement:
    """Score one PSG/hypnogram pair and measure agreement on the epochs ``protocol`` keeps.

    Errors in the night's data are returned in ``error`` (on one line) rather than raised, so
    that a cohort run goes on past a bad night. ``threads``: see
    :func:`~sleepscore.scoring.score_night`.
    """
    try:
        expert = read_hypnogram(pair.hypnogram, label_map=label_map, epoch_s=hypnogram_epoch_s)
        night = score_night(pair.psg, model, channels=channels, hypnogram=expert, threads=threads)
        window = lights.lookup(pair.name) if lights is not None else None
        kept = trim_mask(night.expert, protocol, lights=window, epoch_s=night.epoch_s,
                         source=pair.psg)
        result = agreement(night.expert[kept], night.stages[kept])
    except SleepscoreError as err:
        return NightAgreement(pair.name, pair.psg, pair.hypnogram, error=" ".join(str(err).split()))
    compared = kept & (night.expert != UNSCORED)
    return NightAgreement(pair.name, pair.psg, pair.hypnogram, agreement=result,
                          n_epochs=night.n_epochs, model=night.model, channels=night.channels,
                          expected_accuracy=expected_accuracy(night.probs[compared]) if compared.any() else None)


def evaluate_in_worker(pair: RecordingPair, model: Path | None, **options: Any) -> NightAgreement:
    """:func:`evaluate_night` with the worker process's cached single-threaded model."""
    return evaluate_night(pair, worker_model(model) if model is not None else None, **options)


def _lost_night(arguments: tuple, err: BaseException) -> NightAgreement:
    pair = arguments[0]
    return NightAgreement(pair.name, pair.psg, pair.hypnogram,
                          error=f"{pair.psg}: worker failed ({one_line(err)})")


def evaluate(pairs: Iterable[RecordingPair], model: SleepModel | str | Path | None = None, *,
             protocol: str = "none", lights: LightsTable | None = None,
             label_map: Mapping[str, str] | None = None, channels: Sequence[str] | None = None,
             hypnogram_epoch_s: float | None = None, jobs: int = 1,
             dask_scheduler: str | None = None,
             on_night: Callable[[NightAgreement], None] | None = None) -> Evaluation:
    """Evaluate a model on several nights.

    Parameters
    ----------
    pairs : iterable of RecordingPair
        ``(psg, hypnogram)`` per night.
    model : SleepModel, path or None
        The model (None: the shipped default, per night as :func:`~sleepscore.scoring.choose_model`
        decides).
    protocol : {"none", "30min", "lights"}
        Epochs that count (see :func:`sleepscore.alignment.trim_mask`).
    lights : LightsTable, optional
        Lights-off/on times, needed by ``lights``.
    label_map : mapping, optional
        Integer-code → stage map for numeric hypnograms.
    channels : sequence of str, optional
        File channels to score in every night, as ``predict --channels`` (None: chosen per
        night, see :func:`~sleepscore.scoring.choose_model`).
    hypnogram_epoch_s : float, optional
        Epoch length of one-label-per-line hypnograms (None: detected per night, see
        :func:`sleepscore.alignment.epoch_labels`).
    jobs, dask_scheduler
        Where the nights run, as for ``predict`` (see :func:`sleepscore.batch.run_many`): 1 job
        scores in this process with every core; workers use one thread each.
    on_night : callable, optional
        Called after each night (progress bars).

    Returns
    -------
    Evaluation
        Nights in the order of ``pairs``.

    Examples
    --------
    >>> from sleepscore.datasets import pair_folder
    >>> report = evaluate(pair_folder("sleep-cassette"), protocol="30min", jobs=2)  # doctest: +SKIP
    >>> report.summary.pooled.kappa  # doctest: +SKIP
    """
    pairs = list(pairs)
    options: dict[str, Any] = {"protocol": protocol, "lights": lights, "label_map": label_map,
                               "channels": channels, "hypnogram_epoch_s": hypnogram_epoch_s}
    in_process = dask_scheduler is None and (jobs == 1 or len(pairs) <= 1)
    if in_process:
        chosen = load_model(model) if isinstance(model, (str, Path)) else model
        nights = run_many(evaluate_night, [(pair,) for pair in pairs], model=None, jobs=1,
                          lost=_lost_night, on_result=on_night, options={**options, "model": chosen})
    else:
        path = model.path if isinstance(model, SleepModel) else (Path(model) if model else None)
        nights = run_many(evaluate_in_worker, [(pair,) for pair in pairs], model=path, jobs=jobs,
                          dask_scheduler=dask_scheduler, lost=_lost_night, on_result=on_night,
                          options={**options, "model": path, "threads": 1})
    return Evaluation(protocol=protocol, nights=nights)
