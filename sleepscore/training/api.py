"""Library entry points behind ``sleepscore train``: one split, or subject-wise K-fold CV.

Both take plain Python values and return a result object with the metrics. Data come either
from the precomputed feature files (``dataset="sleep-edf20-features"`` with ``data_dir``), which
this package loads itself, or, for every other dataset name, from a list of :class:`Night` built
by the caller (``sleepscore.datasets`` for PSG folders): the ``nights`` argument is that seam.

With ``output`` set, a run writes beside ``NAME.onnx``: ``NAME.log`` (one line per training
pass and the results), ``NAME.json`` (split, configuration, metrics), ``NAME.md`` (model card)
and ``NAME.pt`` (the torch weights, to rebuild the network with :func:`load_checkpoint`).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import UsageError
from ..contract import ANY_EEG
from ..datasets import DATASETS
from ..protocols import PROTOCOLS
from ..nets import ProbabilityAverage
from .card import model_card
from .data import Night, per_channel_nights
from .evaluate import (SCORED_PROTOCOLS, HeldOutScores, TemperatureViews, as_50_hz_nights,
                       fit_temperature, fit_view_temperature, predict_held_out, score_held_out)
from .export import contract_metadata, export_onnx
from .feature_files import FEATURE_FILE_CHANNELS, load_feature_nights
from .loop import FitResult, TrainConfig, deterministic, fit
from .recipes import get_recipe, registered_architecture
from .splits import split_by_subject, subject_folds, subjects_of


@dataclass(frozen=True)
class FoldResult:
    """One cross-validation fold.

    Attributes
    ----------
    test_subjects, val_subjects : list of str
        Its held-out and early-stopping subjects (with validation subjects of the members' own,
        one per member, in member order).
    kept_passes : list of int
        Per ensemble member, the training pass whose weights were kept.
    temperature : float
        The ensemble's, fitted on the shared validation subject (1 with members' own).
    scores : HeldOutScores
        Its test nights' scores.
    member_temperatures : list of float
        Per member, fitted on its own validation subject (all 1 with a shared one).
    network : ProbabilityAverage or None
        The fold's calibrated ensemble, to score other inputs of its test subjects with (not
        written anywhere).
    """

    test_subjects: list[str]
    val_subjects: list[str]
    kept_passes: list[int]
    temperature: float
    scores: HeldOutScores
    member_temperatures: list[float]
    network: ProbabilityAverage | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The ``folds`` entry of the JSON summary: subjects, kept passes (``kept_epochs``, the
        shipped summaries' key), temperatures, and the pooled agreement of each protocol."""
        return {"test_subjects": self.test_subjects, "val_subjects": self.val_subjects,
                "kept_epochs": self.kept_passes, "temperature": self.temperature,
                "member_temperatures": self.member_temperatures,
                **{protocol: scores.summary.pooled.to_dict()
                   for protocol, scores in self.scores.by_protocol.items()}}


@dataclass
class RunResult:
    """What a training run (single split or cross-validation) produced.

    Attributes
    ----------
    model_path : Path or None
        The exported ONNX file, None when no ``output`` was asked for.
    trained_on : dict
        Dataset, nights and subjects of each split (the ``sleepscore.trained_on`` metadata).
    metrics : HeldOutScores
        Held-out scores under every protocol of :data:`SCORED_PROTOCOLS` (written as the
        ``sleepscore.metrics`` metadata); empty without test subjects. For cross-validation,
        pooled over every fold's test nights.
    folds : list of FoldResult
        Cross-validation only, one per fold.
    seconds : float
        Wall-clock time of the whole run.
    final_seconds : float
        Wall-clock time of training the exported model alone.
    histories : list of list of dict
        Per network of the exported model (or of the single run), the loop's per-pass
        ``loss`` and ``val_kappa`` (:class:`FitResult` ``history``).
    """

    model_path: Path | None
    trained_on: dict[str, Any]
    metrics: HeldOutScores
    folds: list[FoldResult] = field(default_factory=list)
    seconds: float = 0.0
    final_seconds: float = 0.0
    histories: list[list[dict[str, Any]]] = field(default_factory=list)


_PROTOCOLS_TEXT = "; ".join([*(f"{name} = {PROTOCOLS[name].description}" for name in SCORED_PROTOCOLS),
                             "ece = expected calibration error of the top probability (15 bins)"])


MEMBER_VALIDATION = ("shared", "own")


def _member_validation(candidates: list[str], first: str, members: int,
                       member_validation: str) -> list[str]:
    """Each member's early-stopping subject: ``first`` for every member (``"shared"``), or
    (``"own"``) ``first`` and then the next candidates in order, so that the members hold out
    different subjects and together train on all of them. No random draw beyond ``first``:
    member 0 is the shared ensemble's member 0.

    Examples
    --------
    >>> _member_validation(["00", "01", "02", "03"], "02", 3, "own")
    ['02', '03', '00']
    """
    if member_validation not in MEMBER_VALIDATION:
        raise UsageError(f"member validation {member_validation!r}: one of {', '.join(MEMBER_VALIDATION)}")
    if member_validation == "shared":
        return [first] * members
    start = candidates.index(first)
    return [candidates[(start + member) % len(candidates)] for member in range(members)]


def _drawn_member_splits(nights: list[Night], test_subjects: list[str], rng: np.random.Generator,
                         members: int, member_validation: str
                         ) -> tuple[list[str], list[tuple[list[Night], list[Night]]]]:
    """Draw a validation subject among the non-test ones with ``rng`` and give each member its
    (:func:`_member_validation`): the validation subjects in member order, without repeats, and
    per member its training and validation nights (test subjects in neither)."""
    candidates = [s for s in subjects_of(nights) if s not in test_subjects]
    member_val = _member_validation(candidates, str(rng.choice(candidates)), members, member_validation)
    return (list(dict.fromkeys(member_val)),
            [split_by_subject(nights, [subject], test_subjects)[:2] for subject in member_val])


def _calibrate(network: ProbabilityAverage, vals: list[list[Night]], log: list[str]) -> tuple[float, list[float]]:
    """Fit the temperatures on validation nights, never the test ones: the ensemble's on the
    members' shared validation nights, or, when each member has its own, each member's alone
    on its own (the other members trained on them); 1 without validation nights."""
    members = network.members
    if len({tuple(n.name for n in val) for val in vals}) > 1:
        member_temperatures = [fit_temperature(val, predict_held_out(member, val))
                               for member, val in zip(members, vals)]
        network.set_member_temperatures(member_temperatures)
        log.append("member temperatures " + ", ".join(
            f"{t:.3f} ({subjects_of(val)})" for t, val in zip(member_temperatures, vals)))
        return 1.0, member_temperatures
    val = vals[0]
    temperature = fit_temperature(val, predict_held_out(network, val)) if val else 1.0
    network.set_temperature(temperature)
    log.append(f"temperature {temperature:.3f} (fitted on validation {subjects_of(val)})")
    return temperature, [1.0] * len(members)


def _cross_fit(networks: list[ProbabilityAverage], tests: list[list[Night]],
               views_of: Callable[[ProbabilityAverage, list[Night]], TemperatureViews],
               set_temperature: Callable[[ProbabilityAverage, float], None]) -> tuple[list[float], float]:
    """Give each fold's network the temperature that fits the *other* folds' test nights best
    (:func:`fit_view_temperature` of ``views_of``), so that no test night calibrates the network
    that scores it. Returns those and the one that fits every fold's (the exported model's)."""
    views = [views_of(network, test) for network, test in zip(networks, tests)]
    fold_temperatures = [fit_view_temperature(views[:k] + views[k + 1:]) for k in range(len(views))]
    for network, temperature in zip(networks, fold_temperatures):
        set_temperature(network, temperature)
    return fold_temperatures, fit_view_temperature(views)


def _cross_fit_short_recordings(networks: list[ProbabilityAverage], tests: list[list[Night]],
                                log: list[str]) -> dict[str, Any]:
    """Fit the folds' short-recording temperatures (:func:`_cross_fit` on the whole nights, cuts
    and 30-min pieces of their test nights). Returns the exported model's and the folds'."""
    fold_temperatures, final = _cross_fit(networks, tests, TemperatureViews.short_recordings,
                                          ProbabilityAverage.set_short_recording_temperature)
    log.append("short-recording temperature " + ", ".join(f"{t:.3f}" for t in fold_temperatures)
               + f" (each fitted on the other folds' test nights), all folds {final:.3f}")
    return {"temperature": final, "fold_temperatures": fold_temperatures}


def _cross_fit_missing_gamma(networks: list[ProbabilityAverage], tests: list[list[Night]],
                             log: list[str]) -> dict[str, Any] | None:
    """Fit the folds' missing-gamma temperatures (None when the networks find no missing gamma).

    :func:`_cross_fit` on the folds' test nights as recorded and as 50-Hz files. Returns the
    exported model's temperature, the folds' and the folds' pooled scores on their test nights as
    50-Hz files (``metrics_50_hz``).
    """
    if not networks[0].finds_missing_gamma:
        return None
    fold_temperatures, final = _cross_fit(networks, tests, TemperatureViews.missing_gamma,
                                          ProbabilityAverage.set_missing_gamma_temperature)
    fifty_hz = [as_50_hz_nights(test) for test in tests]
    scores = score_held_out([n for test in fifty_hz for n in test],
                            [prediction for network, test in zip(networks, fifty_hz)
                             for prediction in predict_held_out(network, test)])
    log.append("missing-gamma temperature " + ", ".join(f"{t:.3f}" for t in fold_temperatures)
               + f" (each fitted on the other folds' test nights), all folds {final:.3f}; "
               + "test nights as 50-Hz files " + scores.headlines())
    return {"temperature": final, "fold_temperatures": fold_temperatures,
            "metrics_50_hz": {protocol: {"kappa": scores[protocol].summary.pooled.kappa,
                                         "ece": scores[protocol].ece}
                              for protocol in scores.by_protocol}}


def _validation_temperature(network: ProbabilityAverage, vals: list[list[Night]], name: str,
                            views_of: Callable[[ProbabilityAverage, list[Night]], TemperatureViews],
                            set_temperature: Callable[[ProbabilityAverage, float], None],
                            log: list[str]) -> float:
    """Fit the ``name`` temperature (:func:`fit_view_temperature` of ``views_of``) on the members'
    shared validation nights; with validation nights of the members' own (each trained the
    others) or none, it stays 1."""
    if len({tuple(n.name for n in val) for val in vals}) > 1 or not vals[0]:
        log.append(f"{name} temperature 1: no validation nights that no member trained on")
        return 1.0
    temperature = fit_view_temperature([views_of(network, vals[0])])
    set_temperature(network, temperature)
    log.append(f"{name} temperature {temperature:.3f} (fitted on validation {subjects_of(vals[0])})")
    return temperature


def _temperatures_text(short_recording: dict[str, Any], missing_gamma: dict[str, Any] | None) -> str:
    text = (f", short-recording temperature {short_recording['temperature']:.3f} (fitted on every "
            "fold's test nights, whole, cut and in 30-min pieces)")
    if missing_gamma is None:
        return text
    return text + (f", missing-gamma temperature {missing_gamma['temperature']:.3f} (fitted on every "
                   "fold's test nights as recorded and as 50-Hz files)")


def resolve_nights(dataset: str, data_dir: str | Path | None, nights: list[Night] | None,
                   channels: list[str] | None, any_eeg: bool = False) -> tuple[list[Night], list[str]]:
    """The nights and channel list a run trains on.

    ``sleep-edf20-features`` loads ``data_dir`` with :func:`load_feature_nights` (channels
    default to Fpz-Cz and Pz-Oz); any other dataset needs ``nights`` and ``channels`` from
    the caller. With ``any_eeg`` every channel becomes a one-channel recording of its own
    (:func:`per_channel_nights`) and the model's channel list is ``[ANY_EEG]``.
    """
    spec = DATASETS.get(dataset)
    if spec is not None and spec.files == "features":
        if nights is not None:
            raise UsageError(f"dataset {dataset} is loaded from --data-dir, not passed in")
        if data_dir is None:
            raise UsageError(f"dataset {dataset} needs --data-dir (the folder holding features/)")
        channels = list(channels or FEATURE_FILE_CHANNELS)
        nights = load_feature_nights(data_dir, channels)
    elif nights is None or not channels:
        raise UsageError(f"dataset {dataset}: the caller must pass its nights and channel labels")
    if any_eeg:
        return per_channel_nights(nights, list(channels)), [ANY_EEG]
    return nights, list(channels)


def resolve_passes(arch: str, passes: int | None) -> int:
    """Training passes of a run: ``passes`` if given, else the architecture's default length.

    Parameters
    ----------
    arch : str
        Registered architecture.
    passes : int or None
        The user's choice (``passes`` of :func:`train_model`, the CLI's ``--passes``); None
        when not given.

    Returns
    -------
    int
        ``passes``, else ``Recipe.default_passes``, else ``TrainConfig``'s ``max_passes``.

    Examples
    --------
    >>> [resolve_passes(arch, passes) for arch, passes in
    ...  [("deepsleepnet", None), ("deepsleepnet", 30), ("tinysleepnet", None)]]
    [300, 30, 60]
    """
    if passes is not None:
        return passes
    return get_recipe(arch).default_passes or TrainConfig().max_passes


@dataclass(frozen=True)
class _MemberTask:
    """One ensemble member to train: everything a worker process needs, picklable."""

    arch: str
    n_channels: int
    options: dict[str, Any]
    train: list[Night]
    val: list[Night]
    config: TrainConfig
    quiet: bool
    title: str


def _train_member(task: _MemberTask) -> tuple[torch.nn.Module, FitResult, list[str]]:
    architecture, recipe = registered_architecture(task.arch), get_recipe(task.arch)
    with deterministic(task.config.seed, task.config.threads):
        network = architecture.build(task.n_channels, **task.options)
    lines = [task.title]
    result = fit(network, task.train, task.val, task.config, augment=recipe.augment,
                 on_pass_start=recipe.on_pass_start, training_loss=recipe.training_loss,
                 quiet=task.quiet, log=lines.append)
    return network, result, lines


def _member_tasks(arch: str, n_channels: int, options: dict[str, Any],
                  splits: list[tuple[list[Night], list[Night]]], config: TrainConfig,
                  quiet: bool, member_options: list[dict[str, Any]] | None = None) -> list[_MemberTask]:
    """One ensemble's members, one per (train, val) split, with seeds ``config.seed``,
    ``config.seed + 1``, ... and build keywords ``options`` updated by ``member_options[i]``."""
    members = len(splits)
    return [_MemberTask(arch, n_channels, {**options, **_overrides(member_options, member)}, train, val,
                        dataclasses.replace(config, seed=config.seed + member), quiet,
                        f"member {member + 1}/{members} (seed {config.seed + member}, "
                        f"val {subjects_of(val)})")
            for member, (train, val) in enumerate(splits)]


def _overrides(member_options: list[dict[str, Any]] | None, member: int) -> dict[str, Any]:
    """Member ``member``'s own build keywords (none when ``member_options`` is None)."""
    return dict(member_options[member]) if member_options else {}


def _check_member_options(member_options: list[dict[str, Any]] | None, members: int) -> None:
    if member_options is not None and len(member_options) != members:
        raise UsageError(f"member options for {len(member_options)} networks, but --members is {members}")


def _train_members(tasks: list[_MemberTask], jobs: int) -> list[tuple[torch.nn.Module, FitResult, list[str]]]:
    """Train every task, ``jobs`` at a time; network, fit and log lines of each, in task order.

    Each member seeds itself (:func:`deterministic`) and trains on one torch thread, so a task
    gives the same weights in a worker process as in this one: ``jobs`` changes only the
    wall time. Workers are spawned, not forked, because a forked torch can hang on the
    parent's thread pools.
    """
    if jobs == 1 or len(tasks) == 1:
        return [_train_member(task) for task in tasks]
    # Several progress bars writing to one terminal garble each other: the workers are quiet
    # and this process counts finished members instead.
    progress = Progress(TextColumn("[bold]training members"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), disable=tasks[0].quiet)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool, progress:
        futures = [pool.submit(_train_member, dataclasses.replace(task, quiet=True)) for task in tasks]
        bar = progress.add_task("members", total=len(futures))
        for _ in as_completed(futures):
            progress.advance(bar)
        return [future.result() for future in futures]


def _ensemble(trained: list[tuple[torch.nn.Module, FitResult, list[str]]],
              log: list[str]) -> tuple[ProbabilityAverage, list[FitResult]]:
    """Average trained members into one network; their log lines go to ``log``."""
    for _, _, lines in trained:
        log += lines
    return (ProbabilityAverage([network for network, _, _ in trained]).eval(),
            [result for _, result, _ in trained])


def _train_ensemble(arch: str, n_channels: int, options: dict[str, Any],
                    splits: list[tuple[list[Night], list[Night]]], config: TrainConfig,
                    quiet: bool, jobs: int, log: list[str],
                    member_options: list[dict[str, Any]] | None = None) -> tuple[ProbabilityAverage, list[FitResult]]:
    """One ensemble, a network per (train, val) split, trained ``jobs`` at a time."""
    return _ensemble(_train_members(_member_tasks(arch, n_channels, options, splits, config, quiet,
                                                  member_options), jobs), log)


def load_checkpoint(path: str | Path) -> ProbabilityAverage:
    """Rebuild the exact torch network of a run from its ``NAME.pt``."""
    saved = torch.load(path, weights_only=True)
    architecture = registered_architecture(saved["architecture"])
    # Checkpoints written before members could differ have no member_options.
    member_options = saved.get("member_options")
    network = ProbabilityAverage([architecture.build(saved["n_channels"], **saved["options"],
                                                     **_overrides(member_options, member))
                                  for member in range(saved["members"])])
    # Checkpoints written before (member, missing-gamma, short-recording) calibration existed
    # have no such temperatures: theirs are 1.
    network.load_state_dict({"temperature": torch.ones(()),
                             "member_temperatures": torch.ones(saved["members"]),
                             "missing_gamma_temperature": torch.ones(()),
                             "short_recording_temperature": torch.ones(()),
                             **saved["state_dict"]})
    return network.eval()


def _write_outputs(output: Path, network: ProbabilityAverage, result: RunResult, arch: str,
                   channels: list[str], options: dict[str, Any], config: TrainConfig,
                   log: list[str], command: str | None, notes: str | None,
                   example: np.ndarray, member_options: list[dict[str, Any]] | None) -> None:
    architecture = registered_architecture(arch)
    metadata = contract_metadata(input_kind=architecture.input_kind, channels=channels,
                                 architecture=arch, trained_on=result.trained_on,
                                 metrics=result.metrics.to_dict(), feature_set=architecture.feature_set)
    if network.measures_distance:
        metadata["sleepscore.distance_threshold"] = f"{network.distance_threshold:.6g}"
    result.model_path = export_onnx(network, output, metadata, example)
    torch.save({"architecture": arch, "n_channels": len(channels), "options": options,
                "member_options": member_options,
                "members": len(network.members), "state_dict": network.state_dict()},
               output.with_suffix(".pt"))
    machine = (f"{os.cpu_count()}-core {platform.machine()} machine shared with other jobs, "
               f"torch {torch.__version__} on {config.threads} thread(s)")
    summary = {"architecture": arch, "input": architecture.input_kind, "channels": channels, "options": options,
               **({"member_options": member_options} if member_options else {}),
               "config": dataclasses.asdict(config), "members": len(network.members),
               "trained_on": result.trained_on, "metrics": result.metrics.to_dict(),
               "folds": [fold.to_dict() for fold in result.folds],
               "seconds": round(result.seconds, 1), "final_seconds": round(result.final_seconds, 1),
               "machine": machine, "command": command, "history": result.histories}
    output.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    output.with_suffix(".log").write_text("\n".join(log) + "\n")
    output.with_suffix(".md").write_text(model_card(output.stem, summary, notes))


def train_model(dataset: str, data_dir: str | Path | None = None, *, nights: list[Night] | None = None,
                arch: str = "spectral-bigru", channels: list[str] | None = None,
                val_subjects: list[str] | None = None, test_subjects: list[str] | None = None,
                passes: int | None = None, seed: int = 0, output: str | Path | None = None,
                quiet: bool = False, members: int = 1, config: TrainConfig | None = None,
                options: dict[str, Any] | None = None, command: str | None = None,
                notes: str | None = None, any_eeg: bool = False,
                provenance: dict[str, Any] | None = None, jobs: int = 1,
                member_validation: str = "shared",
                member_options: list[dict[str, Any]] | None = None) -> RunResult:
    """Train on one subject-wise split, report on its test subjects, optionally export.

    Parameters
    ----------
    dataset : str
        ``"sleep-edf20-features"`` (loaded from ``data_dir``), or the name of the dataset the
        caller's ``nights`` come from (recorded in the metadata).
    data_dir : str or Path, optional
        Folder with ``features/`` and ``hypnograms-sc78/`` for the features dataset.
    nights : list of Night, optional
        Whole nights for any other dataset (``x`` in the architecture's input kind).
    arch : str
        Registered architecture (:mod:`sleepscore.nets`).
    channels : list of str, optional
        EDF labels of the input channels, in order; default Fpz-Cz and Pz-Oz for the features.
    val_subjects : list of str, optional
        Early-stopping subjects. None picks one non-test subject with ``seed``; an empty list
        trains for exactly ``passes`` passes and keeps the last weights.
    test_subjects : list of str, optional
        Held-out subjects the final metrics are computed on (none: no metrics).
    passes : int or None
        Maximum training passes over the nights (``TrainConfig.max_passes``, the CLI's
        ``--passes``); None: the architecture's default (:func:`resolve_passes`).
    seed : int
        Seed of everything random (member ``i`` of an ensemble uses ``seed + i``).
    output : str or Path, optional
        ``NAME.onnx`` to export, with its log, metrics JSON, model card and checkpoint.
    quiet : bool
        No progress bar.
    members : int
        Networks averaged inside the exported graph (ensemble).
    config : TrainConfig, optional
        Other hyper-parameters; ``passes`` and ``seed`` override its ``max_passes`` and ``seed``.
    options : dict, optional
        Keyword arguments of the architecture's constructor (e.g. ``hidden``).
    command, notes : str, optional
        The command line that reproduces the run and extra text, both for the model card.
    any_eeg : bool
        Train a single-EEG model on every channel as a recording of its own; the model declares
        the channel ``ANY_EEG`` and the CLI picks a derivation for it.
    provenance : dict, optional
        Where the caller's ``nights`` come from, stored in ``trained_on`` beside the dataset
        name (``recordings``, ``simulated_recordings``, ``trimmed_when_read``, as
        :func:`sleepscore.training.raw_data.nights_for_training` returns them).
    jobs : int
        Ensemble members trained at once, each in a process of its own on one torch thread
        (cross-validation pools the members of every fold). The weights do not depend on it.
    member_validation : {"shared", "own"}
        ``"shared"``: every member early-stops on the same validation subject and the ensemble
        is calibrated on it. ``"own"``: member ``i`` early-stops on, and is calibrated alone on,
        a validation subject of its own (the drawn one, then the next non-test subjects in
        order) and trains on the rest, so that the ensemble as a whole trains on every non-test
        subject and its members stop on different nights. Needs ``val_subjects`` left to None.
    member_options : list of dict, optional
        One dict per member: build keywords that member takes instead of ``options``' (e.g.
        ``[{}, {}, {"high_frequency": False}]``: a third network that never reads the bands
        that muscle and 50-Hz sampling damage).

    Returns
    -------
    RunResult

    Examples
    --------
    >>> result = train_model("sleep-edf20-features", "../shared/data/sleep-edf",
    ...                      val_subjects=["06"], test_subjects=["07"], passes=30)  # doctest: +SKIP
    >>> result.metrics["30min"].summary.pooled.kappa  # doctest: +SKIP
    0.74
    """
    started = time.perf_counter()
    derivations = list(channels or FEATURE_FILE_CHANNELS)
    all_nights, channels = resolve_nights(dataset, data_dir, nights, channels, any_eeg)
    config = dataclasses.replace(config or TrainConfig(), max_passes=resolve_passes(arch, passes),
                                 seed=seed)
    options = dict(options or {})
    test_subjects = list(test_subjects or [])
    if val_subjects is None:
        val_subjects, splits = _drawn_member_splits(all_nights, test_subjects, np.random.default_rng(seed),
                                                    members, member_validation)
    elif member_validation != "shared":
        raise UsageError("validation subjects of the members' own are drawn, not given: "
                         "drop --val-subjects")
    else:
        splits = [split_by_subject(all_nights, list(val_subjects), test_subjects)[:2]] * members
    # With members' own validation subjects every non-test subject trains some member.
    train = list({n.name: n for member_train, _ in splits for n in member_train}.values())
    test = split_by_subject(all_nights, [], test_subjects)[2]
    log = [f"train {arch} on {dataset}: train {subjects_of(train)}, val {val_subjects}, "
           f"test {subjects_of(test)}"]
    _check_member_options(member_options, members)
    network, fits = _train_ensemble(arch, len(channels), options, splits, config, quiet, jobs, log,
                                    member_options)
    temperature, member_temperatures = _calibrate(network, [v for _, v in splits], log)
    vals = [v for _, v in splits]
    short_recording = _validation_temperature(network, vals, "short-recording", TemperatureViews.short_recordings,
                                              ProbabilityAverage.set_short_recording_temperature, log)
    missing_gamma = (_validation_temperature(network, vals, "missing-gamma", TemperatureViews.missing_gamma,
                                             ProbabilityAverage.set_missing_gamma_temperature, log)
                     if network.finds_missing_gamma else None)
    metrics = score_held_out(test, predict_held_out(network, test)) if test else HeldOutScores({})
    if metrics:
        log.append(f"test {subjects_of(test)} " + metrics.headlines())
    # "kept_epochs" (kept passes) and "final_epochs" are the keys of the shipped models' metadata.
    trained_on = {"dataset": dataset, **(provenance or {}), "channels": channels, "derivations": derivations,
                  "train_subjects": subjects_of(train), "val_subjects": list(val_subjects),
                  "test_subjects": subjects_of(test), "train_nights": [n.name for n in train],
                  "kept_epochs": [f.best_pass for f in fits], "temperature": temperature,
                  "member_temperatures": member_temperatures, "member_validation": member_validation,
                  "metrics_protocol": "test subjects; " + _PROTOCOLS_TEXT,
                  "short_recording": {"temperature": short_recording}}
    if missing_gamma is not None:
        trained_on["missing_gamma"] = {"temperature": missing_gamma}
    elapsed = time.perf_counter() - started
    result = RunResult(model_path=None, trained_on=trained_on, metrics=metrics,
                       seconds=elapsed, final_seconds=elapsed, histories=[f.history for f in fits])
    if output is not None:
        _write_outputs(Path(output), network, result, arch, channels, options, config, log,
                       command, notes, all_nights[0].x, member_options)
    return result


def cross_validate(dataset: str, data_dir: str | Path | None = None, *, nights: list[Night] | None = None,
                   arch: str = "spectral-bigru", channels: list[str] | None = None, k: int = 8,
                   passes: int | None = None, seed: int = 0, output: str | Path | None = None,
                   quiet: bool = False, members: int = 1, config: TrainConfig | None = None,
                   options: dict[str, Any] | None = None, command: str | None = None,
                   notes: str | None = None, any_eeg: bool = False,
                   score_channels: list[str] | None = None,
                   provenance: dict[str, Any] | None = None, jobs: int = 1,
                   member_validation: str = "shared",
                   member_options: list[dict[str, Any]] | None = None) -> RunResult:
    """Subject-wise K-fold cross-validation, then (with ``output``) the model to ship.

    Each fold tests on its subjects, early-stops on one other subject (drawn with ``seed``)
    and trains on the rest. Metrics are reported per fold and pooled over all test nights
    (summed confusion matrix), under both protocols. The exported model is then trained on
    every subject, without validation, for the median of the folds' kept pass counts (the first
    passes of the folds' schedule, see ``TrainConfig.stop_after``); its
    metadata carries the cross-validated metrics, which is what they estimate.

    Each fold's ensemble is calibrated on its validation subject (:func:`fit_temperature`)
    before its test nights are scored; the exported model takes the median of the folds'
    temperatures. With ``member_validation="own"`` each fold's members early-stop and are
    calibrated on validation subjects of their own (see :func:`train_model`), and every member
    of the exported model takes the median of all the fold members' temperatures. Every network
    also gets a temperature for short recordings, fitted on held-out nights whole, cut and in
    30-min pieces (``trained_on["short_recording"]``), and a network with spectral-robust's
    missing-gamma gate one for epochs whose gamma is missing (a 50-Hz file), fitted on held-out
    nights as recorded and as 50-Hz files (``trained_on["missing_gamma"]``, with the folds' scores
    of their test nights as 50-Hz files). Each fold's is fitted on the other folds' test nights of
    the trained derivations, the exported model's on every fold's.

    Parameters
    ----------
    k : int
        Number of folds (2 to the number of subjects; 8 is leave-one-subject-out on the 8
        subjects of the feature files).
    score_channels : list of str, optional
        With ``any_eeg`` on ``sleep-edf20-features``: score the test subjects' recordings of these
        derivations instead of the trained ones (leave-one-derivation-out: train on Fpz-Cz,
        score Pz-Oz). No model is exported then.
    Others
        As for :func:`train_model`.

    Returns
    -------
    RunResult
        ``metrics`` pooled over folds, ``folds`` per fold.
    """
    started = time.perf_counter()
    derivations = list(channels or FEATURE_FILE_CHANNELS)
    all_nights, channels = resolve_nights(dataset, data_dir, nights, channels, any_eeg)
    scored_nights = all_nights
    if score_channels is not None:
        spec = DATASETS.get(dataset)
        if not any_eeg or spec is None or spec.files != "features" or output is not None:
            raise UsageError("scoring other derivations needs any_eeg on sleep-edf20-features "
                             "and no exported model")
        scored_nights = resolve_nights(dataset, data_dir, None, score_channels, True)[0]
    config = dataclasses.replace(config or TrainConfig(), max_passes=resolve_passes(arch, passes),
                                 seed=seed)
    options = dict(options or {})
    _check_member_options(member_options, members)
    subjects = subjects_of(all_nights)
    rng = np.random.default_rng(seed)
    log = [f"{k}-fold subject-wise cross-validation of {arch} on {dataset} ({len(all_nights)} nights)"]
    splits, tasks = [], []
    for test_subjects in subject_folds(subjects, k, seed):
        val_subjects, member_splits = _drawn_member_splits(all_nights, test_subjects, rng, members,
                                                           member_validation)
        splits.append((test_subjects, val_subjects, [v for _, v in member_splits]))
        tasks += _member_tasks(arch, len(channels), options, member_splits, config, quiet, member_options)
    # Every member of every fold is one task, so that --jobs keeps all workers busy.
    trained = _train_members(tasks, jobs)
    tests = [split_by_subject(scored_nights, [], test_subjects)[2] for test_subjects, _, _ in splits]
    networks, temperatures, member_temperatures = [], [], []
    for number, (test_subjects, val_subjects, vals) in enumerate(splits, start=1):
        log.append(f"fold {number}/{k}: test {test_subjects}, val {val_subjects}")
        network, fits = _ensemble(trained[(number - 1) * members:number * members], log)
        temperature, fold_member_temperatures = _calibrate(network, vals, log)
        networks.append((network, fits))
        temperatures.append(temperature)
        member_temperatures.append(fold_member_temperatures)
    # Calibrated on the trained derivations' held-out nights: leaving a derivation out means
    # nothing of it, its calibration included, comes from its recordings.
    calibration = [split_by_subject(all_nights, [], test_subjects)[2] for test_subjects, _, _ in splits]
    fold_networks = [network for network, _ in networks]
    short_recording = _cross_fit_short_recordings(fold_networks, calibration, log)
    missing_gamma = _cross_fit_missing_gamma(fold_networks, calibration, log)
    folds, held_out, predictions, kept_passes = [], [], [], []
    for number, ((test_subjects, val_subjects, _), (network, fits), test, temperature,
                 fold_member_temperatures) in enumerate(zip(splits, networks, tests, temperatures,
                                                            member_temperatures), start=1):
        fold_predictions = predict_held_out(network, test)
        scores = score_held_out(test, fold_predictions)
        log.append(f"fold {number}/{k} " + scores.headlines())
        folds.append(FoldResult(test_subjects, val_subjects, [f.best_pass for f in fits],
                                temperature, scores, fold_member_temperatures, network))
        held_out += test
        predictions += fold_predictions
        kept_passes += [f.best_pass for f in fits]
    metrics = score_held_out(held_out, predictions)
    log.append("pooled " + metrics.headlines())
    final_passes = int(np.median(kept_passes))
    final_temperature = float(np.median(temperatures))
    final_member_temperature = float(np.median([t for fold in member_temperatures for t in fold]))
    trained_on = {"dataset": dataset, **(provenance or {}), "channels": channels, "derivations": derivations,
                  "subjects": subjects, "nights": [n.name for n in all_nights],
                  "final_epochs": final_passes, "temperature": final_temperature,
                  "member_temperature": final_member_temperature,
                  "member_validation": member_validation,
                  "metrics_protocol": f"subject-wise {k}-fold cross-validation, metrics pooled over "
                                      "the test folds, each fold's ensemble calibrated on its "
                                      "validation subject (with member_validation own, each "
                                      "member on its own), its short-recording (and "
                                      "missing-gamma) temperature on the other folds' test "
                                      "nights; " + _PROTOCOLS_TEXT,
                  "final_model": f"trained on all {len(subjects)} subjects for {final_passes} passes "
                                 "(median kept pass of the folds), temperature "
                                 f"{final_temperature:.3f} and member temperature "
                                 f"{final_member_temperature:.3f} (medians of the folds'){_temperatures_text(short_recording, missing_gamma)}; the "
                                 "metrics are the cross-validation estimate, not of this exact model"}
    trained_on["short_recording"] = short_recording
    if missing_gamma is not None:
        trained_on["missing_gamma"] = missing_gamma
    if score_channels is not None:
        trained_on["scored_derivations"] = list(score_channels)
    result = RunResult(model_path=None, trained_on=trained_on, metrics=metrics, folds=folds)
    if output is not None:
        log.append(f"final model: all subjects, {final_passes} passes")
        final_started = time.perf_counter()
        final_config = dataclasses.replace(config, stop_after=final_passes)
        network, fits = _train_ensemble(arch, len(channels), options, [(all_nights, [])] * members,
                                        final_config, quiet, jobs, log, member_options)
        network.set_temperature(final_temperature)
        network.set_member_temperatures([final_member_temperature] * members)
        network.set_short_recording_temperature(short_recording["temperature"])
        if missing_gamma is not None:
            network.set_missing_gamma_temperature(missing_gamma["temperature"])
        result.final_seconds = time.perf_counter() - final_started
        result.histories = [f.history for f in fits]
        result.seconds = time.perf_counter() - started
        _write_outputs(Path(output), network, result, arch, channels, options, final_config, log,
                       command, notes, all_nights[0].x, member_options)
    result.seconds = time.perf_counter() - started
    return result
