"""Generate EDF/EDF+/BDF files for tests, and damage them on purpose.

Files are written with pyedflib's writer, so the bytes are what a field library produces; the
byte-level helpers that damage them (``patch_header``, ``make_discontinuous``) locate fields
from the EDF specification (https://www.edfplus.info/specs/edf.html) on their own, so a
mistake in ``sleepscore.io.edf``'s header parser cannot hide behind the same mistake here.

Example
-------
>>> path = write_psg(tmp_path / "night.edf", [Channel("EEG Fpz-Cz", sine(100, 60, 10.0, 50.0), 100)])
>>> patch_header(path, "n_records", "1000000000")
"""

from __future__ import annotations

import dataclasses
import warnings
import datetime as dt
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import pyedflib

FileType = Literal["edf", "edf+", "bdf", "bdf+"]

_PYEDFLIB_FILE_TYPES = {
    "edf": pyedflib.FILETYPE_EDF,
    "edf+": pyedflib.FILETYPE_EDFPLUS,
    "bdf": pyedflib.FILETYPE_BDF,
    "bdf+": pyedflib.FILETYPE_BDFPLUS,
}

#: (offset, width) of the fixed 256-byte header fields, from the EDF specification.
FIXED_FIELDS: dict[str, tuple[int, int]] = {
    "version": (0, 8),
    "patient": (8, 80),
    "recording": (88, 80),
    "startdate": (168, 8),
    "starttime": (176, 8),
    "header_bytes": (184, 8),
    "reserved": (192, 44),
    "n_records": (236, 8),
    "record_duration": (244, 8),
    "n_signals": (252, 4),
}

#: (name, width) of the per-signal header fields, each stored as one array over all signals.
SIGNAL_FIELDS: tuple[tuple[str, int], ...] = (
    ("label", 16),
    ("transducer", 80),
    ("dimension", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefilter", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
)

START = dt.datetime(2021, 3, 4, 22, 15, 30)


@dataclasses.dataclass
class Channel:
    """One signal to write: physical values ``data`` sampled at ``fs`` in unit ``dimension``.

    The physical range defaults to +-1.1 times the largest magnitude (3 significant digits,
    so that it fits the 8-character header field), so nothing clips.
    """

    label: str
    data: np.ndarray
    fs: float
    dimension: str = "uV"
    physical_min: float | None = None
    physical_max: float | None = None
    digital_min: int | None = None
    digital_max: int | None = None


def _symmetric_bound(data: np.ndarray) -> float:
    largest = float(np.max(np.abs(data))) if data.size else 0.0
    return float(f"{1.1 * largest:.2e}") if largest > 0 else 1.0


def sine(fs: float, seconds: float, freq_hz: float, amplitude: float) -> np.ndarray:
    """``amplitude * sin(2 pi freq_hz t)`` for ``seconds`` at ``fs`` samples per second."""
    t = np.arange(round(fs * seconds)) / fs
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


def write_psg(
    path: Path,
    channels: Sequence[Channel],
    file_type: FileType = "edf",
    record_duration: float = 1.0,
    start: dt.datetime = START,
) -> Path:
    """Write ``channels`` to ``path`` with pyedflib and return ``path``.

    Every channel must hold a whole number of data records (``fs * record_duration`` samples
    each).
    """
    for channel in channels:
        per_record = channel.fs * record_duration
        if len(channel.data) % round(per_record):
            # pyedflib would silently pad the last record with zeros, lengthening the recording.
            raise ValueError(
                f"{channel.label}: {len(channel.data)} samples are not whole {record_duration}-s records"
            )
    is_bdf = file_type.startswith("bdf")
    format_min, format_max = (-(2**23), 2**23 - 1) if is_bdf else (-(2**15), 2**15 - 1)
    headers = []
    for channel in channels:
        bound = _symmetric_bound(channel.data)
        headers.append(
            {
                "label": channel.label,
                "dimension": channel.dimension,
                "sample_frequency": channel.fs,
                "physical_min": -bound if channel.physical_min is None else channel.physical_min,
                "physical_max": bound if channel.physical_max is None else channel.physical_max,
                "digital_min": format_min if channel.digital_min is None else channel.digital_min,
                "digital_max": format_max if channel.digital_max is None else channel.digital_max,
                "transducer": "",
                "prefilter": "",
            }
        )
    writer = pyedflib.EdfWriter(str(path), len(channels), file_type=_PYEDFLIB_FILE_TYPES[file_type])
    try:
        with warnings.catch_warnings():
            # pyedflib warns that a forced record duration may change rates; ours divide evenly.
            warnings.simplefilter("ignore", UserWarning)
            writer.setDatarecordDuration(record_duration)
        writer.setSignalHeaders(headers)
        writer.setStartdatetime(start)
        writer.writeSamples([np.ascontiguousarray(c.data, dtype=np.float64) for c in channels])
    finally:
        writer.close()
    return path


def sleep_edf_like(path: Path, seconds: int = 300, file_type: FileType = "edf") -> Path:
    """A file laid out like Sleep-EDF: 3 channels at 100 Hz, 4 at 1 Hz, 30-s data records.

    When ``seconds`` is not a multiple of 30 the records are the longest of 10, 5, 2 or 1 s
    that divides it, so that the file lasts exactly ``seconds``. Each 100-Hz channel is a sine
    whose frequency identifies it (Fpz-Cz 5 Hz, Pz-Oz 7 Hz, EOG 2 Hz), amplitude 40 uV.
    """
    fast = [("EEG Fpz-Cz", 5.0), ("EEG Pz-Oz", 7.0), ("EOG horizontal", 2.0)]
    slow = ["Resp oro-nasal", "EMG submental", "Temp rectal", "Event marker"]
    channels = [Channel(label, sine(100, seconds, freq, 40.0), 100) for label, freq in fast]
    channels += [Channel(label, sine(1, seconds, 0.1, 10.0), 1, dimension="") for label in slow]
    record_duration = next(duration for duration in (30, 10, 5, 2, 1) if seconds % duration == 0)
    return write_psg(path, channels, file_type=file_type, record_duration=float(record_duration))


def n_signals(path: Path) -> int:
    """Number of signals declared in the header (annotation signals included)."""
    offset, width = FIXED_FIELDS["n_signals"]
    return int(path.read_bytes()[offset : offset + width])


def field_offset(path: Path, field: str, signal: int | None = None) -> tuple[int, int]:
    """(offset, width) of a fixed field, or of per-signal ``field`` of signal number ``signal``."""
    if signal is None:
        return FIXED_FIELDS[field]
    ns = n_signals(path)
    offset = 256
    for name, width in SIGNAL_FIELDS:
        if name == field:
            return offset + signal * width, width
        offset += ns * width
    raise KeyError(field)


def read_field(path: Path, field: str, signal: int | None = None) -> str:
    """The stripped ASCII text of a header field."""
    offset, width = field_offset(path, field, signal)
    return path.read_bytes()[offset : offset + width].decode("latin-1").strip()


def patch_header(path: Path, field: str, value: str | bytes, signal: int | None = None) -> None:
    """Overwrite a header field in place with ``value`` left-aligned and space-padded."""
    offset, width = field_offset(path, field, signal)
    raw = value.encode("latin-1") if isinstance(value, str) else value
    assert len(raw) <= width, f"{value!r} does not fit {field} ({width} bytes)"
    patch_bytes(path, offset, raw.ljust(width, b" "))


def patch_bytes(path: Path, offset: int, raw: bytes) -> None:
    """Overwrite ``raw`` at byte ``offset`` of ``path``."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(raw)


def header_bytes(path: Path) -> int:
    """Size of the header, i.e. the offset of the first data record."""
    return 256 * (n_signals(path) + 1)


def make_discontinuous(path: Path, gap_after_record: int, gap_s: float) -> None:
    """Turn an EDF+C file into EDF+D, optionally with a gap of ``gap_s`` seconds.

    Records after ``gap_after_record`` get their time-keeping annotation moved ``gap_s`` later.
    """
    reserved_offset, _ = FIXED_FIELDS["reserved"]
    patch_bytes(path, reserved_offset, b"EDF+D")
    ns = n_signals(path)
    labels = [read_field(path, "label", i) for i in range(ns)]
    samples = [int(read_field(path, "samples_per_record", i)) for i in range(ns)]
    annotation = labels.index("EDF Annotations")
    record_bytes = 2 * sum(samples)
    slot = 2 * samples[annotation]
    slot_offset = 2 * sum(samples[:annotation])
    duration = float(read_field(path, "record_duration"))
    n_records = int(read_field(path, "n_records"))
    for record in range(gap_after_record + 1, n_records):
        onset = record * duration + gap_s
        tal = f"+{onset:g}\x14\x14\x00".encode("ascii")
        patch_bytes(path, header_bytes(path) + record * record_bytes + slot_offset, tal.ljust(slot, b"\x00"))
