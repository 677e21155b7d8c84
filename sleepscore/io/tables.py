"""Delimited text tables (hypnogram event tables, lights tables): lines, header, columns."""

from __future__ import annotations

import csv
import re
from datetime import time
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import DataError
from ..labels import normalise_label


def text_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise DataError(f"{path}: cannot read it ({err.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text (nor an EDF+ file)") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip()]
    if not lines:
        raise DataError(f"{path}: file is empty")
    return lines


def table_delimiter(lines: list[tuple[int, str]]) -> str | None:
    """Tab, comma or semicolon, or None for a file of one label a line."""
    # Read off the header line rather than csv.Sniffer: the sniffer needs every sampled row to
    # split alike, so one ragged row made it take a table for a one-label-a-line file and report
    # the header as an unknown label instead of naming the ragged line.
    for delimiter in ("\t", ",", ";"):
        if delimiter in lines[0][1]:
            return delimiter
    return None


def split_table(path: Path, lines: list[tuple[int, str]], **wanted: Sequence[str]
                 ) -> tuple[list[int], list[tuple[int, list[str]]]]:
    """Indices of the wanted columns in a delimited table's header, and its data rows.

    Each keyword names a column role and lists its synonyms in order of preference.
    """
    # Without a delimiter the table has one column, which then names the missing ones.
    delimiter = table_delimiter(lines) or "\t"
    rows = []
    for line_no, line in lines:
        try:
            rows.append((line_no, next(csv.reader([line], delimiter=delimiter))))
        except csv.Error as err:
            raise DataError(f"{path}: line {line_no}: {err}") from None
    columns = _find_columns(path, [column_name(name) for name in rows[0][1]], wanted)
    if len(rows) == 1:
        raise DataError(f"{path}: table has a header but no rows")
    return columns, rows[1:]


def column_name(name: str) -> str:
    """A header field as the column synonyms spell it: lower case, units and separators gone."""
    # "Onset (s)", "onset[s]", "Lights_Off" and "lights-off" all name the same column.
    name = re.sub(r"[(\[].*?[)\]]", "", name)
    return normalise_label(name.replace("_", " ").replace("-", " "))


def _find_columns(path: Path, header: list[str], wanted: Mapping[str, Sequence[str]]
                  ) -> list[int]:
    """Index of each wanted column: the first of its synonyms present in the header."""
    found, missing = [], []
    for role, synonyms in wanted.items():
        index = next((header.index(name) for name in synonyms if name in header), None)
        if index is None:
            missing.append(f"{role} (e.g. {', '.join(synonyms[:3])})")
        found.append(index)
    if missing:
        raise DataError(f"{path}: no {'; no '.join(missing)} column in the header "
                        f"[{', '.join(header)}]")
    return found


def require_fields(path: Path, line_no: int, fields: list[str], n_needed: int) -> None:
    if len(fields) < n_needed:
        raise DataError(f"{path}: line {line_no}: {len(fields)} field(s), expected at least "
                        f"{n_needed}")


#: Seconds in a day, for clock times of day that cross midnight.
SECONDS_PER_DAY = 86400.0


def clock_seconds(path: Path, line_no: int, text: str) -> float:
    """Seconds since midnight of a clock time ``hh:mm:ss[.fff]`` (or ``hh.mm.ss``, as some CAP
    Sleep Database files write it)."""
    text = text.strip()
    if re.fullmatch(r"\d{2}\.\d{2}\.\d{2}", text):
        text = text.replace(".", ":")
    try:
        clock = time.fromisoformat(text)
    except ValueError:
        raise DataError(f"{path}: line {line_no}: {text!r} is not a clock time hh:mm:ss") from None
    return clock.hour * 3600 + clock.minute * 60 + clock.second + clock.microsecond / 1e6
