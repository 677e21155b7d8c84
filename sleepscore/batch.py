"""Many nights at once: a process pool on one machine, or a Dask cluster beyond it.

:func:`run_many` is the one engine for ``predict`` and ``evaluate``. Each night is one task: a
worker reads that night's channels, scores it (and, for ``predict``, writes its output
atomically with :func:`sleepscore.scoring.save_night`), then hands back a small result such as a
:class:`BatchOutcome` (never the arrays). Memory therefore depends on the longest night and the
number of workers, not on the number of nights. A night that fails records its error in its
outcome and the others go on; Ctrl-C cancels what has not started, and every output on disk is
either complete or absent.

Examples
--------
>>> psgs = expand_inputs(["cohort/"])  # doctest: +SKIP
>>> outcomes = score_many(psgs, "scored/", jobs=2)  # doctest: +SKIP
>>> [o.name for o in outcomes if o.error]  # doctest: +SKIP
[]
"""

from __future__ import annotations

import glob
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .datasets import is_scoring_name
from .errors import SleepscoreError, UsageError
from .io.writers import check_output

if TYPE_CHECKING:
    from rich.table import Table

    from .model import SleepModel

PSG_SUFFIXES = (".edf", ".bdf")
OUTPUT_SUFFIXES = {"csv": ".csv", "tsv": ".tsv", "edf": ".edf"}
_GLOB_CHARACTERS = set("*?[")
Result = TypeVar("Result")


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one night of a batch.

    Attributes
    ----------
    name : str
        The recording's file name.
    psg : Path
        The recording.
    output : Path
        Where its scored table (or hypnogram) is, or would have been, written.
    n_epochs : int or None
        Epochs scored; None when the night failed.
    seconds : float
        Wall time the worker spent on the night (reading, scoring and writing).
    error : str or None
        One-line reason the night failed; None when it succeeded.
    warnings : tuple of str
        Things the user should know about the night (see :class:`~sleepscore.scoring.NightScore`).
    expected_accuracy : float or None
        The accuracy against an expert that the model's confidence predicts
        (:attr:`~sleepscore.scoring.NightScore.expected_accuracy`); None when the night failed.
    """

    name: str
    psg: Path
    output: Path
    n_epochs: int | None
    seconds: float
    error: str | None = None
    warnings: tuple[str, ...] = ()
    expected_accuracy: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _is_psg(path: Path) -> bool:
    # Sleep-EDF folders keep each night's *-Hypnogram.edf beside its PSG (MASS its "Base.edf"):
    # those are not recordings.
    return path.suffix.lower() in PSG_SUFFIXES and not is_scoring_name(path)


def names_one_recording(item: str | Path) -> bool:
    """Whether a command-line input is one recording: an existing file (``night[1].edf`` too), or
    a path that is neither a folder nor a glob pattern."""
    path = Path(item)
    return path.is_file() or not (path.is_dir() or _GLOB_CHARACTERS & set(str(item)))


def expand_inputs(items: Iterable[str | Path]) -> list[Path]:
    """The recordings named by files, folders and glob patterns, in the order given.

    A folder gives its ``*.edf``/``*.bdf`` files (any case, not recursive) sorted by name, except
    those named as scorings (:func:`sleepscore.datasets.is_scoring_name`); a glob pattern gives
    its matching recordings, sorted, with the same exclusion; a file is taken as is. A recording
    named twice is kept once.

    Parameters
    ----------
    items : iterable of str or Path
        Files, folders and/or glob patterns such as ``"cohort/SC4*-PSG.edf"``.

    Returns
    -------
    list[Path]

    Raises
    ------
    UsageError
        If a folder or pattern has no recording, or a named file does not exist.

    Examples
    --------
    >>> expand_inputs(["cassette/", "extra/night.bdf"])  # doctest: +SKIP
    [PosixPath('cassette/SC4001E0-PSG.edf'), PosixPath('cassette/SC4011E0-PSG.edf'), PosixPath('extra/night.bdf')]
    """
    found: dict[Path, None] = {}  # an ordered set
    for item in items:
        path = Path(item)
        if path.is_dir():
            matches = sorted(p for p in path.iterdir() if p.is_file() and _is_psg(p))
            if not matches:
                raise UsageError(f"folder {path} holds no .edf/.bdf recording")
        elif path.is_file():
            matches = [path]
        elif _GLOB_CHARACTERS & set(str(item)):
            matches = sorted(p for p in map(Path, glob.glob(str(item))) if p.is_file() and _is_psg(p))
            if not matches:
                raise UsageError(f"pattern {item} matches no .edf/.bdf recording")
        else:
            raise UsageError(f"input {path} does not exist")
        found.update(dict.fromkeys(matches))
    if not found:
        raise UsageError("no recordings given")
    return list(found)


def output_path(psg: str | Path, outdir: str | Path, fmt: str = "csv") -> Path:
    """Where a batch writes the result of ``psg``: ``OUTDIR/<stem>.<fmt>``.

    Examples
    --------
    >>> output_path("cohort/SC4001E0-PSG.edf", "scored").as_posix()
    'scored/SC4001E0-PSG.csv'
    >>> output_path("night.bdf", "scored", "edf").as_posix()
    'scored/night.edf'
    """
    if fmt not in OUTPUT_SUFFIXES:
        raise UsageError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_SUFFIXES)}")
    return Path(outdir) / (Path(psg).stem + OUTPUT_SUFFIXES[fmt])


@lru_cache(maxsize=None)
def worker_model(path: Path) -> SleepModel:
    """One single-threaded session per model file and worker process: parallelism comes from the
    workers, and onnxruntime's own threads would only compete with them for the same cores."""
    from .model import load_model

    return load_model(path, threads=1)


def _load_worker_model(model: Path | None) -> None:
    """Pool initializer: pay for the model once per worker rather than once per night.

    Workers ignore Ctrl-C: the terminal sends SIGINT to the whole process group, and only the
    parent should handle it (cancel what has not started, let running nights finish writing);
    a worker interrupted inside its initializer would print a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if model is not None:
        worker_model(model)


def score_one(psg: Path, output: Path, model: Path | None, channels: tuple[str, ...] | None,
              fmt: str, force: bool) -> BatchOutcome:
    """Score and write one night; the task every worker runs, in-process, in a pool or on Dask.

    Errors become the outcome's ``error`` so that one bad night does not stop a batch;
    KeyboardInterrupt is not caught.
    """
    from .scoring import score_night, save_night

    started = time.perf_counter()
    try:
        sleep_model = worker_model(model) if model is not None else None
        night = score_night(psg, sleep_model, channels=channels, threads=1)
        save_night(night, output, fmt, force=force)
    except SleepscoreError as err:
        return BatchOutcome(psg.name, psg, output, None, time.perf_counter() - started, str(err))
    except Exception as err:  # noqa: BLE001 - an unforeseen failure must not stop the other nights
        return BatchOutcome(psg.name, psg, output, None, time.perf_counter() - started,
                            f"{psg}: unexpected error ({one_line(err)})")
    return BatchOutcome(psg.name, psg, output, night.n_epochs, time.perf_counter() - started,
                        warnings=tuple(night.warnings), expected_accuracy=night.expected_accuracy)


def one_line(err: BaseException) -> str:
    """``"TypeName: first line of the message"``, for errors reported per night."""
    return f"{type(err).__name__}: {err}".splitlines()[0]


def _planned_outputs(psgs: Sequence[Path], outdir: Path, fmt: str, force: bool) -> list[Path]:
    """Every output, checked before any night is scored: a clash found after an hour of work
    would waste the hour."""
    outputs = [output_path(psg, outdir, fmt) for psg in psgs]
    first_claim: dict[Path, Path] = {}
    for psg, output in zip(psgs, outputs):
        if output in first_claim:
            raise UsageError(f"{first_claim[output]} and {psg} would both be written to {output}")
        first_claim[output] = psg
        check_output(output, force)
    return outputs


def score_many(psgs: Sequence[str | Path], outdir: str | Path, *, model: str | Path | None = None,
               channels: Sequence[str] | None = None, fmt: str = "csv", jobs: int = 1,
               dask_scheduler: str | None = None, force: bool = False,
               on_night: Callable[[BatchOutcome], None] | None = None) -> list[BatchOutcome]:
    """Score many nights, each written to ``OUTDIR/<stem>.<fmt>`` as soon as it is done.

    Parameters
    ----------
    psgs : sequence of str or Path
        Recordings, e.g. from :func:`expand_inputs`.
    outdir : str or Path
        Output folder; created if missing.
    model : str or Path, optional
        ONNX model for every night; None lets each night pick a shipped model
        (see :func:`sleepscore.scoring.choose_model`).
    channels : sequence of str, optional
        File channels to feed the model instead of its declared ones.
    fmt : {"csv", "tsv", "edf"}
        Output format.
    jobs, dask_scheduler
        Where the nights run (see :func:`run_many`).
    force : bool
        Replace existing outputs.
    on_night : callable, optional
        Called in this process with each outcome as it arrives (e.g. to advance a progress bar).

    Returns
    -------
    list[BatchOutcome]
        One per night, in the order of ``psgs``.

    Raises
    ------
    UsageError
        Before any work: an output exists without ``force``, two nights share an output name,
        ``jobs`` < 1, or Dask is needed but not installed.
    KeyboardInterrupt
        After cancelling the nights not yet started; outputs written so far stay complete.

    Examples
    --------
    >>> outcomes = score_many(expand_inputs(["cohort/"]), "scored", jobs=2)  # doctest: +SKIP
    """
    paths = [Path(psg) for psg in psgs]
    folder = Path(outdir)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"output {folder} is a file; several nights need an output folder")
    folder.mkdir(parents=True, exist_ok=True)
    outputs = _planned_outputs(paths, folder, fmt, force)
    model_path = Path(model) if model is not None else None

    def lost(arguments: tuple[Path, Path], err: BaseException) -> BatchOutcome:
        psg, output = arguments
        return BatchOutcome(psg.name, psg, output, None, 0.0, f"{psg}: worker failed ({one_line(err)})")

    return run_many(score_one, list(zip(paths, outputs)), model=model_path, jobs=jobs,
                    dask_scheduler=dask_scheduler, lost=lost, on_result=on_night,
                    options={"model": model_path,
                             "channels": tuple(channels) if channels is not None else None,
                             "fmt": fmt, "force": force})


def run_many(task: Callable[..., Result], arguments: Sequence[tuple], *, model: Path | None,
             jobs: int = 1, dask_scheduler: str | None = None,
             lost: Callable[[tuple, BaseException], Result],
             on_result: Callable[[Result], None] | None = None,
             options: dict[str, Any] | None = None) -> list[Result]:
    """Run ``task(*args, **options)`` for every ``args`` of ``arguments``: the one many-night engine.

    ``predict`` (:func:`score_many`) and ``evaluate`` (:func:`sleepscore.evaluation.evaluate`)
    both run through here. ``task`` must be a module-level function (workers import it) that
    turns its night's errors into its result; a night whose worker dies becomes
    ``lost(args, error)``.

    Parameters
    ----------
    task : callable
        One night's work; returns a small picklable result (never the arrays).
    arguments : sequence of tuple
        Positional arguments of each night's call.
    model : Path or None
        Model file every night uses: loaded and checked once here (a broken model would fail every
        night), and once per worker process by :func:`worker_model`.
    jobs : int
        Worker processes on this machine; 1 runs in this process. Ignored with ``dask_scheduler``.
    dask_scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``); its workers must see the
        inputs, outputs and model at the same paths.
    lost : callable
        The result of a night whose worker failed (killed for memory, node gone).
    on_result : callable, optional
        Called in this process with each result as it arrives (progress bars).
    options : dict, optional
        Keyword arguments of every call.

    Returns
    -------
    list
        One result per ``arguments`` entry, in order.
    """
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    options = options or {}
    if model is not None:
        worker_model(model)
    if dask_scheduler is not None:
        results = _run_on_dask(dask_scheduler, task, arguments, options, lost, on_result)
    elif jobs == 1 or len(arguments) == 1:
        results = {}
        for index, args in enumerate(arguments):
            results[index] = task(*args, **options)
            if on_result is not None:
                on_result(results[index])
    else:
        results = _run_in_pool(min(jobs, len(arguments)), task, arguments, options, model, lost,
                               on_result)
    return [results[index] for index in range(len(arguments))]


def _worker_context() -> multiprocessing.context.BaseContext:
    """How pool workers are started: never a plain fork of the caller, which may be running
    threads (rich's live display, Dask) whose locks a forked child would inherit held.

    A fork server that has imported the scoring stack (numpy, onnxruntime) forks
    each worker ready to go, so the imports are paid once rather than once per worker; where
    there is no fork server (Windows), workers are spawned and import it themselves.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sleepscore.scoring", "sleepscore.evaluation"])
    return context


def _run_in_pool(jobs: int, task: Callable[..., Result], arguments: Sequence[tuple],
                 options: dict[str, Any], model: Path | None,
                 lost: Callable[[tuple, BaseException], Result],
                 on_result: Callable[[Result], None] | None) -> dict[int, Result]:
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=_worker_context(),
                                   initializer=_load_worker_model, initargs=(model,))
    results: dict[int, Result] = {}
    try:
        futures: dict[Future, int] = {executor.submit(task, *args, **options): index
                                      for index, args in enumerate(arguments)}
        for future in as_completed(futures):
            index = futures[future]
            try:
                results[index] = future.result()
            except KeyboardInterrupt:
                raise
            except BaseException as err:  # noqa: BLE001 - e.g. BrokenProcessPool: a worker was killed
                results[index] = lost(arguments[index], err)
            if on_result is not None:
                on_result(results[index])
    finally:
        # On Ctrl-C or any error: nights not yet started are dropped; running ones end as their
        # workers do, and atomic writes leave either a complete output or none.
        executor.shutdown(wait=True, cancel_futures=True)
    return results


def _run_on_dask(address: str, task: Callable[..., Result], arguments: Sequence[tuple],
                 options: dict[str, Any], lost: Callable[[tuple, BaseException], Result],
                 on_result: Callable[[Result], None] | None) -> dict[int, Result]:
    try:
        from distributed import Client, as_completed as dask_as_completed
    except ImportError:
        raise UsageError("--dask-scheduler needs Dask: pip install 'sleepscore[dask]'") from None
    try:
        client = Client(address, timeout="30s")
    except OSError as err:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {err}") from None
    results: dict[int, Result] = {}
    futures = []
    try:
        # pure=False: a re-run with --force must score again, not reuse a cached result. Workers
        # import the task from their own sleepscore and keep its model cache between tasks, so
        # each worker process loads the model once.
        futures = client.map(task, *zip(*arguments), pure=False, **options)
        index_of = {future.key: index for index, future in enumerate(futures)}
        for future in dask_as_completed(futures):
            index = index_of[future.key]
            try:
                results[index] = future.result()
            except KeyboardInterrupt:
                raise
            except BaseException as err:  # noqa: BLE001 - a worker lost, or a task the cluster gave up on
                results[index] = lost(arguments[index], err)
            if on_result is not None:
                on_result(results[index])
    finally:
        if len(results) < len(arguments):
            client.cancel(futures)
        client.close()
    return results


def summary_table(outcomes: Sequence[BatchOutcome], title: str = "Scored nights") -> Table:
    """One row per night: epochs, seconds, expected agreement with an expert, output or error; for
    ``rich.console.Console.print``."""
    from rich.markup import escape
    from rich.table import Table

    from .scoring import EXPECTED_ACCURACY_CAVEAT

    table = Table(title=title)
    table.add_column("night")
    table.add_column("epochs", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("expected agreement", justify="right")
    table.add_column("result")
    for outcome in outcomes:
        # File names and messages are text, not markup: "night[1]" and "[Hypnogram]" stay whole.
        result = (escape(str(outcome.output)) if outcome.ok
                  else f"[red]failed:[/red] {escape(str(outcome.error))}")
        expected = f"{outcome.expected_accuracy:.0%}" if outcome.expected_accuracy is not None else "-"
        table.add_row(escape(outcome.name), str(outcome.n_epochs) if outcome.ok else "-",
                      f"{outcome.seconds:.1f}", expected, result)
    failed = sum(not outcome.ok for outcome in outcomes)
    table.caption = f"{len(outcomes) - failed} of {len(outcomes)} nights scored" + (
        f", {failed} failed" if failed else "") + f"; expected agreement: {EXPECTED_ACCURACY_CAVEAT}"
    return table
