"""Read the channels a model needs from an EDF, EDF+ or BDF file, validated, at 100 Hz.

The header is parsed and checked against the file size in pure Python before a single sample
is touched, and the samples are then read with numpy from that validated layout. Why not
pyedflib or MNE for the samples:

- pyedflib (edflib) refuses every EDF+D file, even one without gaps, refuses common
  deviations of clinical exports (non-ASCII patient fields, labels), reports all of them as
  one vague ``OSError``, and reads record by record (~0.2 s per channel of a 22-h night);
- MNE costs ~1 s to import on the ``predict`` path and upsamples every channel to the
  highest rate, so the 1-Hz channels of a Sleep-EDF file would be loaded at 100 Hz.

Byte offsets follow the EDF specification (https://www.edfplus.info/specs/edf.html and
edfplus.html); the scaling follows MNE's order of operations, and the tests check the values
against MNE's sample by sample.

Example
-------
>>> recording = read_psg("SC4001E0-PSG-first5min.edf", ["Fpz-Cz", "Pz-Oz"])
>>> recording.signals.shape, recording.fs, recording.channels
((2, 30000), 100.0, ['EEG Fpz-Cz', 'EEG Pz-Oz'])
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from sleepscore.errors import DataError
from sleepscore.montage import derivation_key, derivation_name, eeg_candidates, is_eeg, referenced_pairs
from sleepscore.line_noise import remove_mains
from sleepscore.resample import resample_poly
from sleepscore.stages import EPOCH_S, TARGET_FS

#: (offset, width) of the fixed 256-byte header fields.
_FIXED_FIELDS: dict[str, tuple[int, int]] = {
    "version": (0, 8),
    "recording identification": (88, 80),
    "startdate": (168, 8),
    "starttime": (176, 8),
    "header bytes": (184, 8),
    "reserved": (192, 44),
    "number of data records": (236, 8),
    "data record duration": (244, 8),
    "number of signals": (252, 4),
}
#: (name, width) of the per-signal fields; each is stored as one block over all signals.
_SIGNAL_FIELDS: tuple[tuple[str, int], ...] = (
    ("label", 16),
    ("transducer", 80),
    ("physical dimension", 8),
    ("physical minimum", 8),
    ("physical maximum", 8),
    ("digital minimum", 8),
    ("digital maximum", 8),
    ("prefiltering", 80),
    ("samples per data record", 8),
    ("reserved", 32),
)
_SIGNAL_HEADER_BYTES = sum(width for _, width in _SIGNAL_FIELDS)

#: Powers of ten of the voltage units, keyed by the casefolded dimension; the micro spellings
#: are those MNE accepts (ASCII u, micro sign, Greek mu, Shift-JIS mu read as Latin-1).
_VOLT_EXPONENTS: dict[str, int] = {
    "v": 0,
    "mv": -3,
    "uv": -6,
    "\u00b5v": -6,
    "\u03bcv": -6,
    "\x83\xcav": -6,
    "nv": -9,
}

#: A channel whose dimension field is blank is read by its physical range (the larger magnitude of
#: its physical minimum and maximum): EEG is recorded within about ±0.1-10 mV, so a range from
#: this bound up is microvolts, from the next one up millivolts, and below it volts.
_BLANK_DIMENSION_BOUNDS: tuple[tuple[float, str], ...] = ((50.0, "uV"), (0.05, "mV"), (0.0, "V"))

#: Data records mapped at once when reading a signal (a few MB of a Sleep-EDF file).
_RECORDS_PER_BLOCK = 256
#: Largest up or down factor handed to resample_poly; its filter has ~20 taps per unit of it,
#: and 4096 still covers 16384-Hz BDF files (25/4096 to reach 100 Hz).
_MAX_RESAMPLING_FACTOR = 4096

#: Onsets are decimal text; a mismatch below this is their rounding, not a gap.
_GAP_TOLERANCE_S = Fraction(1, 1000)

_TYPE_WORD = re.compile(r"^\s*(eeg|eog|emg)\s+")
_TIMEKEEPING_TAL = re.compile(rb"^([+-]\d+(?:\.\d*)?)\x14\x14")


@dataclasses.dataclass(frozen=True)
class SignalHeader:
    """One signal's header fields as text, except the sample count that fixes the layout.

    Scaling fields stay text because they are validated only for the channels actually read: a
    marker channel with a nonsensical range must not make a night unreadable.
    """

    label: str
    dimension: str
    physical_min: str
    physical_max: str
    digital_min: str
    digital_max: str
    samples_per_record: int


@dataclasses.dataclass(frozen=True)
class EdfHeader:
    """The validated header of an EDF/EDF+/BDF file.

    ``plus`` is ``"C"`` or ``"D"`` for EDF+/BDF+ continuous/discontinuous files, ``""`` for
    plain EDF/BDF. ``start`` is None when the header's date or time is unreadable.
    ``recording`` is the local recording identification field.
    """

    path: Path
    is_bdf: bool
    plus: str
    start: dt.datetime | None
    recording: str
    n_records: int
    record_duration: Fraction
    signals: tuple[SignalHeader, ...]

    @property
    def header_bytes(self) -> int:
        """Offset of the first data record."""
        return 256 * (len(self.signals) + 1)

    @property
    def sample_bytes(self) -> int:
        """Bytes per sample: 2 (EDF, 16-bit) or 3 (BDF, 24-bit)."""
        return 3 if self.is_bdf else 2

    @property
    def record_samples(self) -> int:
        """Samples of all signals in one data record."""
        return sum(signal.samples_per_record for signal in self.signals)

    def is_annotation(self, signal: SignalHeader) -> bool:
        """True for the EDF+/BDF+ annotation signals, which hold text, not samples."""
        return bool(self.plus) and signal.label == ("BDF Annotations" if self.is_bdf else "EDF Annotations")

    def sampling_rate(self, signal: SignalHeader) -> Fraction:
        """Exact sampling rate of ``signal`` in Hz."""
        return signal.samples_per_record / self.record_duration


@dataclasses.dataclass(frozen=True)
class Recording:
    """Channels of one PSG file, resampled to a common rate and converted to one unit.

    Attributes
    ----------
    path : Path
        The file read.
    signals : np.ndarray
        float64 ``[n_channels, n_samples]`` at ``fs`` in ``unit``.
    channels : list of str
        The file's labels of the rows of ``signals``, in the order requested; a derivation built
        from two channels against one reference (:func:`match_channels`) by its own name.
    fs : float
        Sampling rate of ``signals`` in Hz.
    unit : str
        Unit of ``signals`` and of the physical ranges.
    start : datetime or None
        Recording start from the header (no time zone), None when the header's is unreadable.
    physical_min, physical_max : np.ndarray
        ``[n_channels]``: the range the recorder could represent; samples at these limits are
        clipped.
    warnings : list of str
        One-line messages for the user (e.g. a rate below ``fs``), returned rather than issued
        with :func:`warnings.warn` so that the CLI prints them in its own format.
    """

    path: Path
    signals: np.ndarray
    channels: list[str]
    fs: float
    unit: str
    start: dt.datetime | None
    physical_min: np.ndarray
    physical_max: np.ndarray
    warnings: list[str]


def read_header(path: str | Path) -> EdfHeader:
    """Parse and validate the header of an EDF/EDF+/BDF file without reading its samples.

    Every check that could otherwise end in a huge allocation or an out-of-bounds read (record
    count, record layout and file size) happens here.

    Raises
    ------
    DataError
        The file cannot be opened, is not EDF/BDF, or its header contradicts itself or the
        file size; the message names the file and the field.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            fixed = handle.read(256)
            file_size = path.stat().st_size
            if len(fixed) < 256:
                raise DataError(f"{path}: not an EDF/BDF file (only {len(fixed)} bytes, a header has 256)")
            is_bdf = _is_bdf(path, fixed[:8])
            n_signals = _header_int(path, fixed, "number of signals")
            if n_signals < 1 or 256 * (n_signals + 1) > file_size:
                raise DataError(
                    f"{path}: header declares {n_signals} signals, which do not fit in its {file_size} bytes"
                )
            signal_block = handle.read(n_signals * _SIGNAL_HEADER_BYTES)
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror or err}") from None

    declared_header_bytes = _header_int(path, fixed, "header bytes")
    if declared_header_bytes != 256 * (n_signals + 1):
        raise DataError(
            f"{path}: header size field says {declared_header_bytes} bytes"
            f" but {n_signals} signals need {256 * (n_signals + 1)}"
        )
    n_records = _header_int(path, fixed, "number of data records")
    if n_records == -1:
        raise DataError(f"{path}: number of data records is -1 (the recording was never closed)")
    if n_records < 1:
        raise DataError(f"{path}: contains no data records (number of data records is {n_records})")

    columns = _signal_columns(signal_block, n_signals)
    signals = []
    for index in range(n_signals):
        samples_text = columns["samples per data record"][index]
        label = columns["label"][index]
        try:
            samples_per_record = int(samples_text)
        except ValueError:
            raise DataError(
                f"{path}: samples per data record of signal '{label}' is {samples_text!r}, not an integer"
            ) from None
        if samples_per_record < 1:
            raise DataError(f"{path}: signal '{label}' has {samples_per_record} samples per data record")
        signals.append(
            SignalHeader(
                label=label,
                dimension=columns["physical dimension"][index],
                physical_min=columns["physical minimum"][index],
                physical_max=columns["physical maximum"][index],
                digital_min=columns["digital minimum"][index],
                digital_max=columns["digital maximum"][index],
                samples_per_record=samples_per_record,
            )
        )

    reserved = _field_text(fixed, "reserved")
    plus_prefix = "BDF+" if is_bdf else "EDF+"
    plus = reserved[4] if reserved[:5] in (plus_prefix + "C", plus_prefix + "D") else ""
    # EDF+ allows a record duration of 0 in annotation-only files (e.g. Sleep-EDF hypnograms).
    annotation_label = "BDF Annotations" if is_bdf else "EDF Annotations"
    annotations_only = bool(plus) and all(s.label == annotation_label for s in signals)
    record_duration = _header_duration(path, fixed, allow_zero=annotations_only)
    header = EdfHeader(
        path=path,
        is_bdf=is_bdf,
        plus=plus,
        start=_header_start(fixed),
        recording=_field_text(fixed, "recording identification"),
        n_records=n_records,
        record_duration=record_duration,
        signals=tuple(signals),
    )
    expected_size = header.header_bytes + n_records * header.record_samples * header.sample_bytes
    if expected_size != file_size:
        state = "truncated" if file_size < expected_size else "longer than its header says"
        raise DataError(
            f"{path}: file is {state}: {n_records} data records of {header.record_samples} samples "
            f"need {expected_size} bytes, the file has {file_size}"
        )
    if plus == "D":
        _refuse_gaps(header)
    return header


def list_channels(path: str | Path) -> list[str]:
    """Labels of the signals of an EDF/BDF file, annotation signals left out.

    Examples
    --------
    >>> list_channels("SC4001E0-PSG.edf")[:2]
    ['EEG Fpz-Cz', 'EEG Pz-Oz']
    """
    header = read_header(path)
    return [signal.label for signal in header.signals if not header.is_annotation(signal)]


def channel_key(label: str) -> str:
    """The form two labels are compared in: casefolded, no spaces, no leading type word.

    Examples
    --------
    >>> channel_key("EEG Fpz-Cz") == channel_key("eeg fpz-cz") == channel_key("Fpz - Cz")
    True
    """
    return re.sub(r"\s+", "", _TYPE_WORD.sub("", label.casefold()))


def match_channels(wanted: Sequence[str], available: Sequence[str], path: str | Path) -> list[str]:
    """The labels of ``available`` that ``wanted`` name, in the order of ``wanted``.

    A name matches a label of the same :func:`channel_key`; failing that, an EEG label of the same
    :func:`sleepscore.montage.derivation_key` (``C4-M1`` finds ``EEG C4:A1``); failing that, the
    derivation two referential channels make (``C4-M1`` from ``EEG C4-REF`` and ``EEG A1-REF``,
    see :func:`sleepscore.montage.referenced_pairs`), returned under its
    :func:`~sleepscore.montage.derivation_name`, which :func:`read_psg` reads as their difference.

    Parameters
    ----------
    wanted : sequence of str
        Channel names as a model declares them (``"EEG Fpz-Cz"``, ``"Fpz-Cz"``...).
    available : sequence of str
        The file's labels, e.g. from :func:`list_channels`.
    path : str or Path
        The file, named in error messages.

    Raises
    ------
    DataError
        A wanted channel matches no label (the message lists the file's channels) or several.

    Examples
    --------
    >>> match_channels(["fpz-cz"], ["EEG Fpz-Cz", "EEG Pz-Oz"], "night.edf")
    ['EEG Fpz-Cz']
    >>> match_channels(["C4-M1", "Fpz-Cz"], ["C4:A1", "Fpz", "Cz", "A2"], "night.edf")
    ['C4:A1', 'Fpz-Cz']
    """
    matched = []
    for name in wanted:
        hits = [label for label in available if channel_key(label) == channel_key(name)]
        if not hits:
            hits = [label for label in available
                    if is_eeg(label) and derivation_key(label) == derivation_key(name)]
        if not hits and derivation_key(name) in referenced_pairs(available):
            hits = [derivation_name(derivation_key(name))]
        if not hits:
            listing = ", ".join(repr(label) for label in available)
            candidates = ", ".join(eeg_candidates(list(available))) or "none"
            raise DataError(f"{path}: no channel '{name}'; the file has {listing} (EEG: {candidates}); "
                            "choose with --channels")
        if len(hits) > 1:
            raise DataError(
                f"{path}: channel '{name}' is ambiguous, it matches {', '.join(repr(h) for h in hits)}"
            )
        matched.append(hits[0])
    return matched


def read_psg(path: str | Path, channels: Sequence[str], unit: str = "V", fs: float = TARGET_FS) -> Recording:
    """Read ``channels`` of an EDF/EDF+/BDF file in ``unit``, resampled to ``fs``.

    Only the requested channels are read. A derivation the file holds only as two channels against
    one reference (see :func:`match_channels`) is read as their difference, each resampled
    first. Rates of at least ``fs / 2`` are resampled with
    :func:`sleepscore.resample.resample_poly` (scipy's polyphase filter, without importing
    scipy) by their exact rational ratio to ``fs``, so 128, 200 or
    256 Hz give exactly ``fs`` samples per second; rates below ``fs`` add a warning because
    they lack the content above half their rate. A channel resampled from above 112 Hz whose
    spectrum shows 50-Hz mains is notched first (:func:`sleepscore.line_noise.remove_mains`),
    with a warning.

    Parameters
    ----------
    path : str or Path
        EDF, EDF+ (continuous, or discontinuous without gaps) or BDF file.
    channels : sequence of str
        Channel names, matched as :func:`match_channels` does.
    unit : str
        ``"V"``, ``"mV"``, ``"uV"`` or ``"nV"``. Each channel's header dimension must be one
        of these too: a channel with another dimension is refused; one whose dimension is blank
        is read by its physical range (``_BLANK_DIMENSION_BOUNDS``), with a warning.
    fs : float
        Sampling rate of the result in Hz.

    Returns
    -------
    Recording

    Raises
    ------
    DataError
        Unreadable or inconsistent file, a missing or ambiguous channel, a channel with an
        unusable scale, unit or rate, a channel flat for the whole recording, or a recording
        shorter than one epoch.

    Examples
    --------
    >>> recording = read_psg("SC4001E0-PSG-first5min.edf", ["Fpz-Cz", "Pz-Oz"])
    >>> recording.signals.shape
    (2, 30000)
    """
    path = Path(path)
    target_exponent = _volt_exponent(unit)
    if target_exponent is None:
        raise DataError(f"unit {unit!r} requested for {path} is not one of V, mV, uV, nV")
    header = read_header(path)
    duration = float(header.n_records * header.record_duration)
    if duration < EPOCH_S:
        raise DataError(f"{path}: recording lasts {duration:g} s, shorter than one {EPOCH_S:g}-s epoch")
    by_label = {signal.label: signal for signal in header.signals if not header.is_annotation(signal)}
    names = match_channels(channels, list(by_label), path)
    pairs = referenced_pairs(list(by_label))
    sources = [(name,) if name in by_label else pairs[derivation_key(name)] for name in names]
    labels = list(dict.fromkeys(label for source in sources for label in source))

    target_fs = Fraction(fs).limit_denominator()
    warnings, physical_min, physical_max, ratios = [], [], [], []
    # Every rate is checked before anything is allocated: a damaged header can declare rates
    # whose resampled length would need terabytes.
    for label in labels:
        rate = header.sampling_rate(by_label[label])
        ratio = target_fs / rate
        if rate < target_fs / 2:
            raise DataError(
                f"{path}: channel '{label}' is sampled at {float(rate):g} Hz, below the {fs / 2:g} Hz minimum"
            )
        if max(ratio.numerator, ratio.denominator) > _MAX_RESAMPLING_FACTOR:
            raise DataError(
                f"{path}: channel '{label}' at {float(rate):g} Hz has no small rational ratio to {fs:g} Hz"
            )
        if rate < target_fs:
            warnings.append(
                f"{path}: channel '{label}' is sampled at {float(rate):g} Hz;"
                f" it has no content above {float(rate) / 2:g} Hz"
            )
        ratios.append(ratio)
    # resample_poly returns ceil(n * up / down) samples; channels at different rates can round to
    # lengths one sample apart, so the common part is kept. Filled row by row: no second copy.
    n_samples = min(math.ceil(header.n_records * by_label[label].samples_per_record * ratio)
                    for label, ratio in zip(labels, ratios))
    signals = np.empty((len(labels), n_samples))
    for row_index, (label, ratio) in enumerate(zip(labels, ratios)):
        signal = by_label[label]
        scale = _scale(header, signal, target_exponent)
        if scale.read_as:
            warnings.append(f"{path}: channel '{label}' has no physical dimension; read as "
                            f"{scale.read_as} from its physical range "
                            f"{signal.physical_min.strip()}..{signal.physical_max.strip()}")
        n_in = header.n_records * signal.samples_per_record
        # A 100-Hz channel is converted straight into its row of the result: no temporary copy
        # of a whole night (69 MB a channel for 24 h).
        physical = signals[row_index] if ratio == 1 and n_in == n_samples else np.empty(n_in)
        _read_physical(header, signal, scale, out=physical)
        if physical.min() == physical.max():
            raise DataError(
                f"{path}: channel '{label}' is flat for the whole recording (every sample is {physical[0]:g} {unit})"
            )
        if ratio != 1:
            rate = float(header.sampling_rate(signal))
            physical, mains = remove_mains(physical, rate)
            if mains is not None:
                warnings.append(f"{path}: channel '{label}' carries 50-Hz mains interference ({mains:.0f}x "
                                f"the neighbouring spectrum); notched out before resampling")
            physical = resample_poly(physical, ratio.numerator, ratio.denominator)
        if physical is not signals[row_index]:
            signals[row_index] = physical[:n_samples]
        physical_min.append(scale.physical_min * scale.unit_factor)
        physical_max.append(scale.physical_max * scale.unit_factor)

    if header.start is None:
        warnings.append(f"{path}: start date/time in the header is unreadable; start time unknown")
    physical_min, physical_max = np.array(physical_min), np.array(physical_max)
    if labels != names:
        rows = [[labels.index(label) for label in source] for source in sources]
        signals = np.stack([signals[row[0]] - signals[row[1]] if len(row) == 2 else signals[row[0]]
                            for row in rows])
        # The range a difference of two channels can span: the clipping and flatness checks
        # then judge the derivation by both its channels' ranges.
        physical_min, physical_max = (
            np.array([low[row[0]] - (high[row[1]] if len(row) == 2 else 0) for row in rows])
            for low, high in ((physical_min, physical_max), (physical_max, physical_min)))
    return Recording(
        path=path,
        signals=signals,
        channels=names,
        fs=float(target_fs),
        unit=unit,
        start=header.start,
        physical_min=physical_min,
        physical_max=physical_max,
        warnings=warnings,
    )


@dataclasses.dataclass(frozen=True)
class _Scale:
    """Digital-to-physical conversion of one channel, as MNE computes it."""

    cal: float
    offset: float
    unit_factor: float
    physical_min: float
    physical_max: float
    #: The unit a blank dimension was read as, else "".
    read_as: str = ""


def _scale(header: EdfHeader, signal: SignalHeader, target_exponent: int) -> _Scale:
    """Validate ``signal``'s scaling fields and return its conversion to the target unit."""
    where = f"{header.path}: channel '{signal.label}'"
    numbers = {}
    for name, text in (
        ("physical minimum", signal.physical_min),
        ("physical maximum", signal.physical_max),
        ("digital minimum", signal.digital_min),
        ("digital maximum", signal.digital_max),
    ):
        try:
            numbers[name] = float(text)
        except ValueError:
            raise DataError(f"{where}: {name} {text!r} is not a number") from None
        if not np.isfinite(numbers[name]):
            raise DataError(f"{where}: {name} {text!r} is not a finite number")
    format_min, format_max = (-(2**23), 2**23 - 1) if header.is_bdf else (-(2**15), 2**15 - 1)
    digital_min, digital_max = numbers["digital minimum"], numbers["digital maximum"]
    if not format_min <= digital_min < digital_max <= format_max:
        raise DataError(
            f"{where}: digital range {signal.digital_min}..{signal.digital_max}"
            f" is empty or outside {format_min}..{format_max}"
        )
    physical_min, physical_max = numbers["physical minimum"], numbers["physical maximum"]
    if physical_min == physical_max:
        raise DataError(
            f"{where}: physical minimum equals physical maximum ({signal.physical_min}), no scale"
        )
    read_as = ""
    if not signal.dimension.strip():
        bound = max(abs(physical_min), abs(physical_max))
        read_as = next(unit for least, unit in _BLANK_DIMENSION_BOUNDS if bound >= least)
    source_exponent = _volt_exponent(read_as or signal.dimension)
    if source_exponent is None:
        raise DataError(f"{where}: physical dimension {signal.dimension!r} is not a voltage (V, mV, uV, nV)")
    unit_factor = 10.0 ** (source_exponent - target_exponent)
    cal = (physical_max - physical_min) / (digital_max - digital_min)
    offset = physical_min - digital_min * cal
    # Bounds every sample, the physical limits included: 2**24 exceeds any 16/24-bit value.
    largest_magnitude = (abs(cal) * 2**24 + abs(offset)) * unit_factor
    if not np.isfinite(largest_magnitude):
        raise DataError(
            f"{where}: physical range {signal.physical_min}..{signal.physical_max} overflows a float"
        )
    return _Scale(
        cal=cal,
        offset=offset,
        unit_factor=unit_factor,
        physical_min=physical_min,
        physical_max=physical_max,
        read_as=read_as,
    )


def _read_physical(header: EdfHeader, signal: SignalHeader, scale: _Scale, out: np.ndarray) -> None:
    """Write all samples of ``signal`` into the float64 array ``out``, scaled by ``scale``.

    The file is mapped a block of records at a time: a mapped page stays in the process's
    resident memory until it is unmapped, and a whole 22-h file would add ~50 MB to the peak.
    Each block is scaled while it is still in the CPU cache, in MNE's order of operations,
    (d * cal + offset) * unit factor, so that the values match MNE's to the last bit.
    """
    rows = out.reshape(header.n_records, signal.samples_per_record)
    for first in range(0, header.n_records, _RECORDS_PER_BLOCK):
        block = _signal_bytes(header, signal, first, min(_RECORDS_PER_BLOCK, header.n_records - first))
        target = rows[first : first + len(block)]
        if header.is_bdf:
            # numpy has no 24-bit integer type: assemble little-endian triplets, then sign-extend.
            triplets = block.reshape(len(block), -1, 3).astype(np.int32)
            unsigned = triplets[..., 0] | (triplets[..., 1] << 8) | (triplets[..., 2] << 16)
            target[:] = (unsigned ^ 0x800000) - 0x800000
        else:
            # Each record's bytes of the signal are contiguous, so they view as int16 in place
            # and are cast straight into ``out``.
            target[:] = block.view("<i2")
        target *= scale.cal
        target += scale.offset
        target *= scale.unit_factor


def _signal_bytes(header: EdfHeader, signal: SignalHeader, first_record: int = 0,
                  n_records: int | None = None) -> np.ndarray:
    """``[n_records, bytes of signal per record]`` view of the file from ``first_record``
    (default: every record); nothing is read yet.

    The memory map's shape was checked against the file size in :func:`read_header`, and the
    view's strides skip the other signals, so their samples are never converted or copied.
    """
    first_sample = 0
    for other in header.signals:
        if other is signal:
            break
        first_sample += other.samples_per_record
    record_bytes = header.record_samples * header.sample_bytes
    records = np.memmap(
        header.path,
        dtype=np.uint8,
        mode="r",
        offset=header.header_bytes + first_record * record_bytes,
        shape=(header.n_records - first_record if n_records is None else n_records, record_bytes),
    )
    start = first_sample * header.sample_bytes
    return records[:, start : start + signal.samples_per_record * header.sample_bytes]


def _refuse_gaps(header: EdfHeader) -> None:
    """Raise DataError if an EDF+D file's records are not back to back.

    pyedflib and MNE read the samples of an EDF+D file as if contiguous; the onsets live only
    in each record's first annotation (its time-keeping TAL), read here straight from the bytes.
    """
    annotation = next((s for s in header.signals if header.is_annotation(s)), None)
    if annotation is None:
        raise DataError(f"{header.path}: EDF+D file without an annotation signal, record onsets unknown")
    slot = _signal_bytes(header, annotation)
    onsets = []
    for record in range(header.n_records):
        match = _TIMEKEEPING_TAL.match(slot[record].tobytes())
        if match is None:
            raise DataError(
                f"{header.path}: data record {record} of this EDF+D file has no time-keeping annotation"
            )
        onsets.append(Fraction(match.group(1).decode("ascii")))
    for record in range(1, header.n_records):
        gap = onsets[record] - onsets[record - 1] - header.record_duration
        if abs(gap) > _GAP_TOLERANCE_S:
            raise DataError(
                f"{header.path}: discontinuous (EDF+D) recording with a {float(gap):g}-s gap"
                f" before data record {record}"
                f" at {float(onsets[record]):g} s; only gap-free files can be scored"
            )


def _is_bdf(path: Path, version: bytes) -> bool:
    """True for BDF, False for EDF, from the 8-byte version field."""
    if version == b"\xffBIOSEMI":
        return True
    if version.rstrip(b" ") == b"0":
        return False
    raise DataError(f"{path}: not an EDF or BDF file (version field {version!r})")


def _field_text(fixed: bytes, name: str) -> str:
    """A fixed-header field as stripped text (Latin-1 never fails; bad numbers fail later)."""
    offset, width = _FIXED_FIELDS[name]
    return fixed[offset : offset + width].decode("latin-1").strip()


def _header_int(path: Path, fixed: bytes, name: str) -> int:
    text = _field_text(fixed, name)
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{path}: {name} in the header is {text!r}, not an integer") from None


def _header_duration(path: Path, fixed: bytes, allow_zero: bool = False) -> Fraction:
    """The data record duration as an exact fraction, so that rates like 128 Hz stay exact."""
    text = _field_text(fixed, "data record duration")
    try:
        # float first: it refuses what Fraction would turn into a gigantic integer ("1e99999").
        seconds = float(text)
        duration = Fraction(text) if np.isfinite(seconds) else None
    except ValueError:
        duration = None
    if duration is None or duration < 0 or (duration == 0 and not allow_zero):
        raise DataError(
            f"{path}: data record duration in the header is {text!r}, not a positive number of seconds"
        )
    return duration


def _header_start(fixed: bytes) -> dt.datetime | None:
    """Start from ``dd.mm.yy`` and ``hh.mm.ss``; yy 85-99 is 19yy, else 20yy (EDF spec)."""
    match_date = re.fullmatch(r"(\d\d)\.(\d\d)\.(\d\d)", _field_text(fixed, "startdate"))
    match_time = re.fullmatch(r"(\d\d)\.(\d\d)\.(\d\d)", _field_text(fixed, "starttime"))
    if match_date is None or match_time is None:
        return None
    day, month, year = (int(part) for part in match_date.groups())
    try:
        return dt.datetime(
            year + (1900 if year >= 85 else 2000), month, day, *(int(part) for part in match_time.groups())
        )
    except ValueError:
        return None


def _signal_columns(block: bytes, n_signals: int) -> dict[str, list[str]]:
    """Split the per-signal header block into one list of stripped texts per field."""
    columns = {}
    offset = 0
    for name, width in _SIGNAL_FIELDS:
        columns[name] = [
            block[offset + index * width : offset + (index + 1) * width].decode("latin-1").strip()
            for index in range(n_signals)
        ]
        offset += n_signals * width
    return columns


def _volt_exponent(dimension: str) -> int | None:
    """Power of ten of a voltage unit (``"uV"`` gives -6), None for anything else."""
    return _VOLT_EXPONENTS.get(dimension.strip().casefold())
