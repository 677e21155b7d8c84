"""The one error type users see: a one-line message, a non-zero exit code, no traceback."""

from __future__ import annotations


class SleepscoreError(Exception):
    """A problem with the user's data or request; the CLI prints ``str(err)`` and exits.

    The message names the file, channel or label at fault and fits on one line.
    """

    exit_code = 1


class DataError(SleepscoreError):
    """The input data (EDF, hypnogram, model) cannot be used. Exit code 1."""

    exit_code = 1


class UsageError(SleepscoreError):
    """The command line asks for something impossible or contradictory. Exit code 2."""

    exit_code = 2
