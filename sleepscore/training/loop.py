"""The training loop shared by every architecture (feature and raw networks alike).

A network is any ``torch.nn.Module`` mapping ``x`` ``[batch, seq, ...]`` to logits ``[batch, seq,
5]``. If it also defines ``per_recording(x)`` (parameter-free work that needs the whole night, e.g.
per-recording standardisation) and ``per_window(x)``, the loop applies ``per_recording`` to each
whole training night once per pass and trains ``per_window`` on random windows (crops) of it;
otherwise it trains ``forward`` on crops of the raw input. Validation and prediction always run
``forward`` on whole nights, as the exported model will.

A *pass* is one round of training over every training night (what many frameworks call an
"epoch"; here an epoch is always a 30-s window of a recording). How one pass samples and steps is
a :class:`PassPlan`: by default the :class:`TrainConfig`'s windows, batch size and class
weighting with the gradient norm clipped at 1, but an architecture's ``on_pass_start`` hook (its
recipe, :mod:`sleepscore.training.recipes`) may return another plan for some passes (DeepSleepNet
pre-trains on class-balanced single epochs, then fine-tunes on short sequences).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from ..alignment import trim_mask
from ..stages import N_STAGES, UNSCORED
from .augment import mix_derivations
from .data import Night
from .evaluate import predict_nights, score_predictions, sleep_pieces

#: ``augment(x, rng) -> x``: a training night's numpy input changed at random (:mod:`.augment`).
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
#: ``training_loss(model, x, y, loss_fn) -> loss``: a batch's loss in place of the loop's
#: ``loss_fn(per_window(x), y)``, for auxiliary objectives (MC2SleepNet's InfoNCE); ``loss_fn`` is
#: the loop's class-weighted cross-entropy (labels -1 ignored).
TrainingLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor, nn.Module], torch.Tensor]


@dataclass(frozen=True)
class PassPlan:
    """How one training pass samples its batches and steps (None fields: the config's).

    Attributes
    ----------
    sampling : str
        ``"windows"``: random crops of ``window`` epochs covering each night about once
        (:func:`_windows`); ``"balanced_epochs"``: single 30-s epochs, each labelled epoch once
        plus copies of the minority stages' epochs until every stage is as frequent as the
        most frequent one (:func:`_balanced_epochs`).
    batch_size : int or None
        Windows (or single epochs) per optimisation step; None: ``TrainConfig.batch_size``.
    window : int or None
        Crop length in epochs for ``"windows"``; None: ``TrainConfig.window``.
    class_weighting : str or None
        Loss weighting scheme (see :class:`TrainConfig`); None: ``TrainConfig.class_weighting``.
    clip_grad_norm : float or None
        Global gradient-norm clip of each step; None: no clipping.
    selectable : bool
        Whether the pass's weights may be kept and the pass counts towards ``patience``.
        False for a preparatory stage (pre-training) whose weights are not the final network.
    """

    sampling: str = "windows"
    batch_size: int | None = None
    window: int | None = None
    class_weighting: str | None = None
    clip_grad_norm: float | None = 1.0
    selectable: bool = True

    def __post_init__(self) -> None:
        if self.sampling not in ("windows", "balanced_epochs"):
            raise ValueError(f"unknown sampling {self.sampling!r}")


#: ``on_pass_start(model, pass_number, optimizer, max_passes)``: called before each 1-based
#: training pass; may change the model or optimiser and returns the pass's plan (None: the default).
PassHook = Callable[[nn.Module, int, torch.optim.Optimizer, int], PassPlan | None]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (defaults: those of the shipped spectral models).

    Attributes
    ----------
    max_passes : int
        Training passes over every training night; the best one on validation is kept.
        Schedules (``on_pass_start``) are laid out over this many passes.
    stop_after : int or None
        Run only the first ``stop_after`` passes of that schedule (None: all of them). The model
        shipped after cross-validation trains for the folds' kept pass count under the folds'
        schedule: DeepSleepNet's pre-training then lasts as long as it did in the folds.
    patience : int
        Stop after this many passes without a better validation kappa (ignored without
        validation nights, where all ``max_passes`` run and the last weights are kept).
    lr, weight_decay : float
        AdamW settings.
    batch_size : int
        Windows per optimisation step.
    window : int or None
        Window length in epochs of the crops trained on (clipped to the shortest night);
        None trains on whole nights, one per step.
    class_weighting : str
        ``"none"``, ``"inverse_sqrt"`` or ``"inverse"`` of each stage's frequency in the
        training labels (normalised to mean 1), against the dominance of wake and N2.
    augment : bool
        Apply the architecture's augmentation to each training night every pass.
    recording_crops : float
        Probability, per training night and pass, of training on a clinical-length cut of the
        night instead of the whole recording: from a random 0-2 h before the first sleep epoch
        to a random 0-2 h after the last one, with ``per_recording`` (e.g. standardisation)
        computed on the cut only. Sleep-EDF recordings last ~22 h and are mostly wake; a model
        that only ever normalised over such recordings mis-scores an 8-h clinical one.
    random_crops : int
        Extra recordings cut from each training night every pass, besides the whole night (or
        its clinical cut): naps, excerpts and stopped recordings. Each has a length drawn from
        10 min to 8 h in octaves (:data:`_RANDOM_CROP_EPOCHS`, so that crops of one length can
        share a batch), lies anywhere in the night or, half the time, within its sleep period,
        and gets ``per_recording`` computed on itself alone. With random crops the kept pass is
        chosen on the mean of the validation nights' ±30-min kappa and of their 30-min pieces'.
    derivation_mixing : float
        Probability, per training recording and pass, of training on a virtual derivation between
        the recording's own and another of the same night (:func:`.augment.mix_derivations`,
        before the architecture's augmentation), for recordings that carry
        ``other_derivations`` (single-EEG training). 0 leaves every recording as recorded.
    seed : int
        Seeds torch and numpy: the same seed, data and config give the same weights.
    threads : int
        torch intra-op threads; fixed so that results do not depend on the machine's load.
    """

    max_passes: int = 60
    stop_after: int | None = None
    patience: int = 12
    lr: float = 3e-3
    weight_decay: float = 1e-3
    batch_size: int = 8
    window: int | None = 512
    class_weighting: str = "inverse_sqrt"
    augment: bool = True
    recording_crops: float = 0.0
    random_crops: int = 0
    derivation_mixing: float = 0.0
    seed: int = 0
    threads: int = 1


@dataclass
class FitResult:
    """Outcome of :func:`fit`; the model passed in holds the kept (best) weights afterwards.

    Attributes
    ----------
    best_pass : int
        1-based training pass whose weights were kept.
    best_val_kappa : float or None
        Validation kappa (``30min``, pooled) of those weights; None without validation.
    history : list of dict
        Per pass: ``epoch`` (the 1-based pass; the key of the ``history`` already written to
        ``NAME.json`` files), ``loss`` (mean training loss), ``val_kappa`` and ``selectable``
        (whether the pass's plan let its weights be kept; see :class:`PassPlan`).
    """

    best_pass: int
    best_val_kappa: float | None
    history: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def deterministic(seed: int, threads: int) -> Iterator[np.random.Generator]:
    """Seed torch, fix its thread count and forbid non-deterministic kernels for a block.

    Yields the numpy generator the block must use for its own randomness. Global torch
    settings are restored on exit, since callers (tests, the CLI) share the process.
    """
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield np.random.default_rng(seed)
    finally:
        torch.set_num_threads(previous_threads)
        torch.use_deterministic_algorithms(previous_deterministic)


def class_weights(nights: list[Night], scheme: str) -> torch.Tensor:
    """Loss weight per stage from the stage frequencies of ``nights`` (mean weight 1)."""
    labels = np.concatenate([n.y for n in nights])
    counts = np.bincount(labels[labels != UNSCORED], minlength=N_STAGES).astype(np.float64)
    power = {"none": 0.0, "inverse_sqrt": 0.5, "inverse": 1.0}.get(scheme)
    if power is None:
        raise ValueError(f"unknown class weighting {scheme!r}")
    weights = np.maximum(counts, 1.0) ** -power
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


#: Most wake kept before the first and after the last sleep epoch by a recording crop, in epochs.
_MAX_CROP_MARGIN = 240


#: Lengths of the random recordings (``TrainConfig.random_crops``), in epochs: 10 min to 8 h.
_RANDOM_CROP_EPOCHS = (20, 40, 60, 120, 240, 480, 960)


def _recording_crop(y: np.ndarray, probability: float, rng: np.random.Generator) -> tuple[int, int]:
    """``(start, stop)`` of the part of a night trained on this pass (the whole night, or with
    ``probability`` a clinical-length cut around its sleep; see ``TrainConfig.recording_crops``)."""
    sleep = np.flatnonzero((y > 0) & (y != UNSCORED))
    if probability <= 0 or len(sleep) == 0 or rng.random() >= probability:
        return 0, len(y)
    start = max(int(sleep[0]) - int(rng.integers(0, _MAX_CROP_MARGIN + 1)), 0)
    stop = min(int(sleep[-1]) + 1 + int(rng.integers(0, _MAX_CROP_MARGIN + 1)), len(y))
    return start, stop


def _random_crop(y: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """``(start, stop)`` of a random-length recording cut from a night (``TrainConfig.random_crops``)."""
    length = min(int(rng.choice(_RANDOM_CROP_EPOCHS)), len(y))
    first, last = 0, len(y) - length
    sleep = np.flatnonzero((y > 0) & (y != UNSCORED))
    if len(sleep) and rng.random() < 0.5:  # within the sleep period: a nap or a stopped night
        first = min(int(sleep[0]), last)
        last = max(min(int(sleep[-1]) + 1 - length, last), first)
    start = int(rng.integers(first, last + 1))
    return start, start + length


def _windows(lengths: list[int], window: int | None, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Random ``(night, start, stop)`` crops covering each night about once, shuffled.

    A night shorter than ``window`` is one crop of its own length."""
    if window is None:
        crops = [(i, 0, n) for i, n in enumerate(lengths)]
    else:
        crops = [(i, int(start), int(start) + min(window, n))
                 for i, n in enumerate(lengths)
                 for start in rng.integers(0, n - min(window, n) + 1, size=math.ceil(n / window))]
    return [crops[j] for j in rng.permutation(len(crops))]


def _batches(crops: list[tuple[int, int, int]], batch_size: int) -> list[list[tuple[int, int, int]]]:
    """Consecutive groups of at most ``batch_size`` crops of equal length (they are stacked)."""
    by_length: dict[int, list[int]] = {}
    for position, (_, start, stop) in enumerate(crops):
        by_length.setdefault(stop - start, []).append(position)
    # Kept in the order of each group's first crop, so the shuffle still decides the order.
    groups = sorted((group[first:first + batch_size] for group in by_length.values()
                     for first in range(0, len(group), batch_size)), key=lambda group: group[0])
    return [[crops[position] for position in group] for group in groups]


def _balanced_epochs(labels: list[np.ndarray], rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Class-balanced ``(night, t, t + 1)`` single-epoch crops, shuffled (DeepSleepNet's oversampling).

    Every labelled epoch (label != UNSCORED) appears at least once; each stage with fewer
    epochs than the most frequent one is topped up with whole copies of its epochs, then a
    random remainder of them without repetition, so that every stage present in ``labels``
    appears exactly as often as the most frequent one.

    Parameters
    ----------
    labels : list of numpy.ndarray
        Per-night stage labels.
    rng : numpy.random.Generator
        Draws the remainders and the order.

    Returns
    -------
    list of tuple of int
        ``(night, start, stop)`` crops one epoch long.
    """
    night = np.concatenate([np.full(len(y), i) for i, y in enumerate(labels)])
    epoch = np.concatenate([np.arange(len(y)) for y in labels])
    stage = np.concatenate(labels)
    scored = stage != UNSCORED
    night, epoch, stage = night[scored], epoch[scored], stage[scored]
    members = [np.flatnonzero(stage == s) for s in range(N_STAGES)]
    majority = max(len(m) for m in members)
    chosen = [np.zeros(0, dtype=np.int64)]  # stays empty when nothing is labelled
    for m in members:
        if len(m) == 0:
            continue
        copies, remainder = divmod(majority, len(m))
        chosen += [np.tile(m, copies), rng.choice(m, size=remainder, replace=False)]
    order = np.concatenate(chosen)
    order = order[rng.permutation(len(order))]
    return [(int(night[j]), int(epoch[j]), int(epoch[j]) + 1) for j in order]


#: Wake kept around the sleep period of the nights a network's population statistics are fitted on.
POPULATION_TRIM = "30min"


def fit_population(model: nn.Module, nights_x: list[np.ndarray], nights_y: list[np.ndarray]) -> None:
    """Fit a network's population statistics (its ``fit_population``) on training nights.

    The population is the scored epochs of the nights' sleep periods (:data:`POPULATION_TRIM`:
    30 min around the first and last sleep epoch), what a clinical recording holds, so that a
    short recording is compared with a typical night rather than with the long wake of a 22-h
    Sleep-EDF day. :func:`fit` calls this before training a network that has the method.

    Parameters
    ----------
    model : torch.nn.Module
        Defines ``fit_population(nights_x, nights_y, population)`` (e.g. ``spectral-robust``).
    nights_x, nights_y : list of numpy.ndarray
        Each training night's whole input and stage codes.
    """
    population = [trim_mask(y, POPULATION_TRIM) & (y != UNSCORED) for y in nights_y]
    model.fit_population(nights_x, nights_y, population)


def _validation_kappa(model: nn.Module, nights: list[Night], short_recordings: bool = False) -> float:
    """Pooled ±30-min kappa of the whole validation nights; with ``short_recordings``, its mean
    with the kappa of their 30-min pieces scored alone."""
    kappas = [score_predictions(nights, predict_nights(model, nights))["30min"].pooled.kappa]
    if short_recordings:
        pieces = [piece for night in nights for piece in sleep_pieces(night)]
        kappas.append(score_predictions(pieces, predict_nights(model, pieces), ("whole",))["whole"].pooled.kappa)
    # An undefined kappa (one stage everywhere) ranks below any real one.
    return -1.0 if np.isnan(kappas).any() else float(np.mean(kappas))


def fit(model: nn.Module, train_nights: list[Night], val_nights: list[Night], config: TrainConfig,
        augment: Augment | None = None, on_pass_start: PassHook | None = None,
        training_loss: TrainingLoss | None = None,
        quiet: bool = False, log: Callable[[str], None] | None = None) -> FitResult:
    """Train ``model`` in place with early stopping on the validation nights' kappa.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``[batch, seq, ...]`` to logits ``[batch, seq, 5]`` (see the module docstring
        for the optional ``per_recording``/``per_window`` split).
    train_nights, val_nights : list of Night
        Whole nights; labels -1 carry no loss. ``val_nights`` may be empty (then every pass
        runs and the last selectable pass's weights are kept).
    config : TrainConfig
        Hyper-parameters and seed.
    augment : callable, optional
        ``augment(x, rng)`` on a night's numpy input, used when ``config.augment`` is set.
    on_pass_start : callable, optional
        ``on_pass_start(model, pass_number, optimizer, config.max_passes)`` before each pass
        (1-based), for special schedules (freezing parts, changing learning rates); it returns
        the pass's :class:`PassPlan`, or None for the default one. Only passes whose plan is
        ``selectable`` may be kept and count towards ``patience``; if none ran, the last
        weights are kept.
    training_loss : callable, optional
        ``training_loss(model, x, y, loss_fn)``: each batch's loss instead of the class-weighted
        cross-entropy ``loss_fn`` of ``per_window(x)`` (see :data:`TrainingLoss`).
    quiet : bool
        No progress bar.
    log : callable, optional
        Receives one line per pass (loss and validation kappa), e.g. to write the run's log.

    A network with a ``fit_population`` method has it fitted on the training nights first
    (:func:`fit_population`).

    Returns
    -------
    FitResult
        Kept pass, its validation kappa and the per-pass history.

    Examples
    --------
    >>> from sleepscore.nets import build_network  # doctest: +SKIP
    >>> net = build_network("spectral-bigru", n_channels=2)  # doctest: +SKIP
    >>> fit(net, train, val, TrainConfig(max_passes=5)).best_pass  # doctest: +SKIP
    4
    """
    per_recording = getattr(model, "per_recording", None)
    per_window = getattr(model, "per_window", model.forward)
    if hasattr(model, "fit_population"):
        fit_population(model, [n.x for n in train_nights], [n.y for n in train_nights])
    with deterministic(config.seed, config.threads) as rng:
        loss_fns: dict[str, nn.CrossEntropyLoss] = {}  # per class-weighting scheme, built once
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        result = FitResult(best_pass=0, best_val_kappa=None)
        best_state = None
        stale = 0  # selectable passes since the best one
        progress = Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), disable=quiet)
        with progress:
            n_passes = min(config.max_passes, config.stop_after or config.max_passes)
            task = progress.add_task("train", total=n_passes, status="")
            for pass_number in range(1, n_passes + 1):
                plan = None
                if on_pass_start is not None:
                    plan = on_pass_start(model, pass_number, optimizer, config.max_passes)
                if plan is None:
                    plan = PassPlan()
                scheme = plan.class_weighting or config.class_weighting
                if scheme not in loss_fns:
                    loss_fns[scheme] = nn.CrossEntropyLoss(weight=class_weights(train_nights, scheme),
                                                           ignore_index=UNSCORED)
                loss_fn = loss_fns[scheme]
                inputs, labels = [], []
                for night in train_nights:
                    x = night.x
                    # Drawn only when asked for, so that runs without mixing keep their weights.
                    if (config.derivation_mixing and night.other_derivations is not None
                            and rng.random() < config.derivation_mixing):
                        x = mix_derivations(x, night.other_derivations, rng)
                    if augment is not None and config.augment:
                        x = augment(x, rng)
                    views = [_recording_crop(night.y, config.recording_crops, rng)]
                    views += [_random_crop(night.y, rng) for _ in range(config.random_crops)]
                    for start, stop in views:
                        view = torch.from_numpy(np.asarray(x[start:stop], dtype=np.float32))[None]
                        if per_recording is not None:
                            with torch.no_grad():
                                view = per_recording(view)
                        inputs.append(view[0])
                        labels.append(torch.from_numpy(night.y[start:stop]))
                batch_size = plan.batch_size or config.batch_size
                if plan.sampling == "balanced_epochs":
                    crops = _balanced_epochs([y.numpy() for y in labels], rng)
                else:
                    window = plan.window or config.window
                    crops = _windows([len(y) for y in labels], window, rng)
                    if window is None:
                        batch_size = 1  # whole nights differ in length: one per step
                model.train()
                losses = []
                for batch in _batches(crops, batch_size):
                    x = torch.stack([inputs[i][a:b] for i, a, b in batch])
                    y = torch.stack([labels[i][a:b] for i, a, b in batch])
                    if (y == UNSCORED).all():
                        continue
                    if training_loss is not None:
                        loss = training_loss(model, x, y, loss_fn)
                    else:
                        loss = loss_fn(per_window(x).reshape(-1, N_STAGES), y.reshape(-1))
                    optimizer.zero_grad()
                    loss.backward()
                    if plan.clip_grad_norm is not None:
                        nn.utils.clip_grad_norm_(model.parameters(), plan.clip_grad_norm)
                    optimizer.step()
                    losses.append(loss.item())
                row: dict[str, Any] = {"epoch": pass_number, "loss": float(np.mean(losses)), "val_kappa": None,
                                       "selectable": plan.selectable}
                if val_nights:
                    row["val_kappa"] = _validation_kappa(model, val_nights, config.random_crops > 0)
                if plan.selectable:
                    if not val_nights or result.best_pass == 0 or row["val_kappa"] > result.best_val_kappa:
                        result.best_pass, result.best_val_kappa = pass_number, row["val_kappa"]
                        best_state = copy.deepcopy(model.state_dict())
                        stale = 0
                    else:
                        stale += 1
                result.history.append(row)
                status = f"loss {row['loss']:.3f}"
                if val_nights:
                    status += f" val kappa {row['val_kappa']:.3f}"
                    if result.best_pass:
                        status += f" (best {result.best_val_kappa:.3f} @ {result.best_pass})"
                if not plan.selectable:
                    status += " (not selectable)"
                progress.update(task, advance=1, status=status)
                if log is not None:
                    log(f"pass {pass_number:3d} {status}")
                if val_nights and stale >= config.patience:
                    break
        if best_state is None:
            result.best_pass, result.best_val_kappa = pass_number, row["val_kappa"]
        else:
            model.load_state_dict(best_state)
        model.eval()
    return result
