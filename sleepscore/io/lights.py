"""Lights-off and lights-on tables (``--lights``), one row of clock times per recording."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import DataError
from .tables import SECONDS_PER_DAY, clock_seconds, require_fields, split_table, text_lines


_NIGHT_COLUMNS = ("night", "recording", "record", "name")


_REC_START_COLUMNS = ("rec start", "recording start", "start", "start time")


_LIGHTS_OFF_COLUMNS = ("lights off", "lightsoff", "lights out")


_LIGHTS_ON_COLUMNS = ("lights on", "lightson")


class Lights(NamedTuple):
    """Lights-off and lights-on, in seconds from the recording start."""

    off_s: float
    on_s: float


@dataclass(frozen=True)
class LightsTable:
    """Per-recording lights times read by :func:`read_lights_table`.

    Attributes
    ----------
    path : Path
        The table file, named in error messages.
    nights : dict of str to Lights
        Lights times by recording name (the table's night column).
    """

    path: Path
    nights: dict[str, Lights]

    def lookup(self, recording: str) -> Lights:
        """Lights times of one recording.

        Parameters
        ----------
        recording : str
            Recording name, e.g. a PSG file stem. A table row matches when its name equals it or
            is its prefix (``SC4001E0`` matches ``SC4001E0-PSG``); the longest match wins.

        Returns
        -------
        Lights

        Raises
        ------
        DataError
            If no row matches.

        Examples
        --------
        >>> table = read_lights_table("sc78-nights.tsv")  # doctest: +SKIP
        >>> table.lookup("SC4001E0-PSG")  # doctest: +SKIP
        Lights(off_s=30300.0, on_s=53160.0)
        """
        matches = [name for name in self.nights if recording.startswith(name)]
        if not matches:
            raise DataError(f"{self.path}: no lights-off/lights-on row for recording "
                            f"{recording!r}")
        return self.nights[max(matches, key=len)]


def read_lights_table(path: str | Path) -> LightsTable:
    """Read per-recording lights-off/lights-on clock times, like Sleep-EDF's ``sc78-nights.tsv``.

    Parameters
    ----------
    path : str or Path
        Tab-, comma- or semicolon-separated table with a header naming the recording
        (``night``), its start (``rec_start``), ``lights_off`` and ``lights_on`` columns
        (case-insensitive; other columns are ignored), times as ``hh:mm:ss[.fff]``.

    Returns
    -------
    LightsTable
        Times converted to seconds from the recording start; a time earlier in the day than the
        start is taken to be after midnight.

    Raises
    ------
    DataError
        If the file is unreadable or empty, lacks a column, repeats a recording, or holds a bad
        time or a lights-on not after lights-off (naming the line).

    Examples
    --------
    >>> table = read_lights_table("sc78-nights.tsv")  # doctest: +SKIP
    >>> table.nights["SC4001E0"]  # rec_start 16:13:00, lights 00:38:00 to 06:59:00  # doctest: +SKIP
    Lights(off_s=30300.0, on_s=53160.0)
    """
    path = Path(path)
    lines = text_lines(path)
    (night_col, start_col, off_col, on_col), rows = split_table(
        path, lines, night=_NIGHT_COLUMNS, rec_start=_REC_START_COLUMNS,
        lights_off=_LIGHTS_OFF_COLUMNS, lights_on=_LIGHTS_ON_COLUMNS)
    nights: dict[str, Lights] = {}
    for line_no, fields in rows:
        require_fields(path, line_no, fields, max(night_col, start_col, off_col, on_col) + 1)
        night = fields[night_col].strip()
        if night in nights:
            raise DataError(f"{path}: line {line_no}: recording {night!r} appears twice")
        rec_start, off, on = (clock_seconds(path, line_no, fields[col])
                              for col in (start_col, off_col, on_col))
        off_s = (off - rec_start) % SECONDS_PER_DAY
        on_s = (on - rec_start) % SECONDS_PER_DAY
        if not off_s < on_s:
            raise DataError(f"{path}: line {line_no}: lights-on {fields[on_col].strip()} does not "
                            f"follow lights-off {fields[off_col].strip()} within 24 h of the "
                            f"recording start {fields[start_col].strip()}")
        nights[night] = Lights(off_s, on_s)
    return LightsTable(path, nights)

