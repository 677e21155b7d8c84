"""What every command shares: clean error exits, one-line warnings, option parsing and help texts.

Imports stay inside the commands: ``sleepscore --help`` must start fast, and ``predict`` must
never import torch, mne or matplotlib unless a chosen option needs them.
"""

from __future__ import annotations

import sys
import warnings
from typing import Callable

import click

from ..errors import SleepscoreError, UsageError


class ReportedError(click.ClickException):
    """A :class:`SleepscoreError` on its way out: one line on stderr, its exit code, no traceback."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"sleepscore: error: {self.message}", err=True)


class SleepscoreGroup(click.Group):
    """Turns the library's errors and Ctrl-C into clean exits for every command."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        with warnings.catch_warnings():
            # The library warns with warnings.warn (e.g. a hypnogram cut at the end of its
            # recording); the user sees those as the CLI's own one-line warnings.
            warnings.showwarning = show_warning
            try:
                return super().invoke(ctx)
            except SleepscoreError as err:
                raise ReportedError(str(err), err.exit_code) from None
            except KeyboardInterrupt:
                raise ReportedError("interrupted; finished outputs are complete, none is "
                                    "half-written", 130) from None


def warn(message: str) -> None:
    click.echo(f"sleepscore: warning: {message}", err=True)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """:func:`warnings.showwarning` for the CLI: user warnings as one line, others as Python's."""
    if issubclass(category, UserWarning):
        warn(" ".join(str(message).split()))
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def split_channels(value: str | None) -> list[str] | None:
    """``"Fpz-Cz,Pz-Oz"`` → ``["Fpz-Cz", "Pz-Oz"]``."""
    if value is None:
        return None
    channels = [part.strip() for part in value.split(",") if part.strip()]
    if not channels:
        raise UsageError("--channels needs at least one channel name")
    return channels


def label_map_option(value: str | None) -> dict[str, str] | None:
    from ..labels import parse_label_map
    return parse_label_map(value) if value is not None else None


CHANNELS_HELP = ("Comma-separated file channels to feed the model, in its input order; the "
                 "single-EEG model scores each alone and combines them. Default: Fpz-Cz,Pz-Oz with "
                 "the two-channel model when the file has both, else for the single-EEG model the "
                 "first present of C4-M1, C3-M2, F4-M1, F3-M2, O2-M1, O1-M2 (or against linked "
                 "ears), Fpz-Cz, Pz-Oz, P4-O2, Fp2-F4 (any spelling: C4-A1, EEG C4-M1, C4:M1, C4_M1) "
                 "and one derivation of the farthest other scalp region (central/frontal -> "
                 "occipital, occipital -> frontal); EOG/EMG/ECG are never chosen. Matching ignores "
                 "case, spaces and EEG/EOG prefixes.")
MODEL_HELP = ("ONNX model (default: the shipped two-channel model for Fpz-Cz + Pz-Oz files, "
              "the shipped single-EEG model for any other EEG).")
LABEL_MAP_HELP = ("Stage names for numeric hypnogram labels: '0=W,1=N1,2=N2,3=N3,4=REM', "
                  "or a file of CODE=STAGE lines or a JSON object.")
HYPNOGRAM_EPOCH_HELP = ("Epoch length in seconds of a one-label-per-line hypnogram (default: 5 "
                        "for a DREAMS scoring, else the one length at which its labels fit the "
                        "recording).")


def hypnogram_epoch_option(function: Callable[..., None]) -> Callable[..., None]:
    """``--hypnogram-epoch``, shared by predict and evaluate."""
    return click.option("--hypnogram-epoch", type=click.Choice(["5", "20", "30"]),
                        help=HYPNOGRAM_EPOCH_HELP)(function)


def hypnogram_epoch_s(value: str | None) -> float | None:
    """``--hypnogram-epoch``'s choice as seconds (None: detect)."""
    return float(value) if value is not None else None


def many_nights_options(function: Callable[..., None]) -> Callable[..., None]:
    """``--jobs`` and ``--dask-scheduler``, shared by predict and evaluate."""
    function = click.option("--dask-scheduler", metavar="ADDRESS",
                            help="Several nights: run them on a Dask cluster (tcp://host:8786).")(function)
    return click.option("--jobs", type=click.IntRange(1), default=1, show_default=True,
                        help="Several nights: worker processes on this machine.")(function)


def nights_progress(quiet: bool):  # noqa: ANN201 - rich's Progress, imported lazily
    """One progress bar for multi-night commands (on stderr's terminal; hidden with --quiet)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), disable=quiet, transient=True)
