"""Every damaged or unusable input ends in a one-line DataError naming the file and the problem.

Each case starts from a valid file written by pyedflib and damages its bytes.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import mne
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sleepscore.io.edf as edf
from edf_factory import (
    Channel,
    header_bytes,
    make_discontinuous,
    patch_bytes,
    patch_header,
    read_field,
    sine,
    write_psg,
)
from sleepscore.errors import DataError, SleepscoreError

SECONDS = 60


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """60 s, one 100-Hz EEG channel (signal 0) and one 1-Hz channel, 1-s records."""
    return write_psg(
        tmp_path / "good.edf",
        [
            Channel("EEG Fpz-Cz", sine(100, SECONDS, 10.0, 50.0), 100),
            Channel("Temp rectal", sine(1, SECONDS, 0.01, 3.0), 1),
        ],
    )


def _refused(path: Path, *problem: str) -> str:
    """Read ``path`` expecting a DataError; check it names the file and each ``problem`` word."""
    with pytest.raises(DataError) as caught:
        edf.read_psg(path, ["Fpz-Cz"])
    message = str(caught.value)
    assert "\n" not in message
    assert path.name in message
    for word in problem:
        assert word in message
    return message


def test_the_valid_file_reads(good: Path) -> None:
    assert edf.read_psg(good, ["Fpz-Cz"]).signals.shape == (1, SECONDS * 100)


def test_truncated_mid_record(good: Path) -> None:
    size = good.stat().st_size
    with good.open("r+b") as handle:
        handle.truncate(size - 77)
    _refused(good, "truncated", str(size - 77))


def test_trailing_bytes_beyond_the_declared_records(good: Path) -> None:
    with good.open("ab") as handle:
        handle.write(b"\0" * 10)
    _refused(good, "longer than its header says")


@pytest.mark.parametrize("n_records", [str(SECONDS + 1), str(SECONDS - 1), "99999999"])
def test_record_count_contradicting_the_file_size(good: Path, n_records: str) -> None:
    patch_header(good, "n_records", n_records)
    _refused(good, f"{n_records} data records")


def test_huge_record_count_allocates_nothing_big(good: Path) -> None:
    # 10**9 does not fit the 8-character field; 99999999 records of 202 bytes would be 20 GB.
    patch_header(good, "n_records", "99999999")
    tracemalloc.start()
    try:
        with pytest.raises(DataError):
            edf.read_psg(good, ["Fpz-Cz"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_samples_per_record_contradicting_the_file_size(good: Path) -> None:
    patch_header(good, "samples_per_record", "101", signal=0)
    _refused(good, "102 samples", "bytes")


@pytest.mark.parametrize("n_records", ["0", "-5"])
def test_no_records(good: Path, n_records: str) -> None:
    patch_header(good, "n_records", n_records)
    with good.open("r+b") as handle:
        handle.truncate(header_bytes(good))
    _refused(good, "no data records")


def test_unfinished_recording_with_record_count_minus_one(good: Path) -> None:
    patch_header(good, "n_records", "-1")
    _refused(good, "-1")


@pytest.mark.parametrize("duration", ["0", "-1", "abc", "nan", "inf", "1e999999"])
def test_bad_record_duration(good: Path, duration: str) -> None:
    patch_header(good, "record_duration", duration)
    _refused(good, "data record duration", repr(duration))


@pytest.mark.parametrize(
    ("field", "signal", "garbage", "words"),
    [
        ("n_records", None, b"\xe9\xff\x00abc", ["number of data records"]),
        ("n_records", None, "1e9", ["number of data records", "'1e9'"]),
        ("n_signals", None, b"\xb5x", ["number of signals"]),
        ("header_bytes", None, "12", ["header size", "12"]),
        ("samples_per_record", 0, b"1\xe900", ["samples per data record", "EEG Fpz-Cz"]),
        ("physical_min", 0, b"-\xb5", ["physical minimum", "EEG Fpz-Cz"]),
        ("digital_max", 0, "3.2e+x", ["digital maximum", "EEG Fpz-Cz"]),
        ("version", None, b"\x00\x01PK", ["not an EDF or BDF"]),
    ],
)
def test_garbage_in_numeric_header_fields(
    good: Path, field: str, signal: int | None, garbage: str | bytes, words: list[str]
) -> None:
    patch_header(good, field, garbage, signal=signal)
    _refused(good, *words)


def test_non_ascii_text_fields_do_not_stop_reading(good: Path) -> None:
    expected = edf.read_psg(good, ["Fpz-Cz"]).signals
    patch_header(good, "patient", "Zoë Ångström \x00\x7f".encode("latin-1"))
    patch_header(good, "recording", b"\xff\xfe garbage")
    patch_header(good, "transducer", "électrode".encode("latin-1"), signal=0)
    np.testing.assert_array_equal(edf.read_psg(good, ["Fpz-Cz"]).signals, expected)


@pytest.mark.parametrize("n_signals", ["0", "9999", "-3"])
def test_signal_count_that_does_not_fit_the_file(good: Path, n_signals: str) -> None:
    patch_header(good, "n_signals", n_signals)
    _refused(good, f"{n_signals} signals")


def test_not_an_edf_at_all(tmp_path: Path) -> None:
    path = tmp_path / "notes.edf"
    path.write_text("these are my notes, not a recording\n" * 20)
    _refused(path, "not an EDF or BDF")


def test_shorter_than_a_header(tmp_path: Path) -> None:
    path = tmp_path / "stub.edf"
    path.write_bytes(b"0       ")
    _refused(path, "8 bytes")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _refused(tmp_path / "absent.edf", "cannot read")
    (tmp_path / "folder.edf").mkdir()
    _refused(tmp_path / "folder.edf", "cannot read")


def test_edf_plus_d_with_a_gap(tmp_path: Path) -> None:
    path = write_psg(
        tmp_path / "gappy.edf", [Channel("EEG Fpz-Cz", sine(100, SECONDS, 10.0, 50.0), 100)], file_type="edf+"
    )
    make_discontinuous(path, gap_after_record=29, gap_s=12.5)
    _refused(path, "EDF+D", "12.5-s gap", "record 30")


def test_edf_plus_d_without_time_keeping_annotations(tmp_path: Path) -> None:
    path = write_psg(
        tmp_path / "untimed.edf",
        [Channel("EEG Fpz-Cz", sine(100, SECONDS, 10.0, 50.0), 100)],
        file_type="edf+",
    )
    make_discontinuous(path, gap_after_record=0, gap_s=0.0)
    annotation_offset = header_bytes(path) + 2 * 100  # record 0, after the EEG samples
    patch_bytes(path, annotation_offset, b"garbage")
    _refused(path, "time-keeping")


def test_bdf_with_24_bit_extremes_reads_the_physical_limits(tmp_path: Path) -> None:
    data = sine(256, SECONDS, 10.0, 100.0)
    path = write_psg(
        tmp_path / "extremes.bdf",
        [Channel("EEG Fpz-Cz", data, 256, physical_min=-100.0, physical_max=100.0)],
        file_type="bdf",
    )
    data_start = header_bytes(path)
    patch_bytes(path, data_start, (-(2**23)).to_bytes(3, "little", signed=True))
    patch_bytes(path, data_start + 3, (2**23 - 1).to_bytes(3, "little", signed=True))
    ours = edf.read_psg(path, ["Fpz-Cz"], unit="uV", fs=256.0).signals[0]
    assert ours[:2] == pytest.approx([-100.0, 100.0], abs=1e-12)
    np.testing.assert_array_equal(ours * 1e-6, mne.io.read_raw_bdf(path, verbose="error").get_data()[0])


def test_physical_min_equal_to_max(good: Path) -> None:
    patch_header(good, "physical_min", read_field(good, "physical_max", 0), signal=0)
    _refused(good, "EEG Fpz-Cz", "physical minimum equals physical maximum")


@pytest.mark.parametrize(("low", "high"), [("0", "0"), ("10", "-10"), ("-40000", "32767")])
def test_empty_or_impossible_digital_range(good: Path, low: str, high: str) -> None:
    patch_header(good, "digital_min", low, signal=0)
    patch_header(good, "digital_max", high, signal=0)
    _refused(good, "EEG Fpz-Cz", "digital range")


def test_required_channel_missing(good: Path) -> None:
    with pytest.raises(
        DataError, match=r"good\.edf: no channel 'C3-A2'; the file has 'EEG Fpz-Cz', 'Temp rectal'"
    ):
        edf.read_psg(good, ["C3-A2"])


def test_channel_flat_for_the_whole_recording(tmp_path: Path) -> None:
    path = write_psg(
        tmp_path / "flat.edf",
        [Channel("EEG Fpz-Cz", np.zeros(100 * SECONDS), 100, physical_min=-100.0, physical_max=100.0)],
    )
    _refused(path, "'EEG Fpz-Cz'", "flat")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_scale_would_make_the_channel_nan(good: Path, value: str) -> None:
    patch_header(good, "physical_min", value, signal=0)
    _refused(good, "'EEG Fpz-Cz'", "finite")


def test_physical_range_that_overflows(good: Path) -> None:
    patch_header(good, "physical_min", "-1e308", signal=0)
    patch_header(good, "physical_max", "1e308", signal=0)
    _refused(good, "'EEG Fpz-Cz'", "overflows")


@pytest.mark.parametrize("fs", [49, 10])
def test_sampling_rate_below_50_hz(tmp_path: Path, fs: int) -> None:
    path = write_psg(tmp_path / "slow.edf", [Channel("EEG Fpz-Cz", sine(fs, SECONDS, 1.0, 50.0), fs)])
    _refused(path, "'EEG Fpz-Cz'", f"{fs} Hz")


def test_rate_without_a_small_ratio_to_100_hz(good: Path) -> None:
    patch_header(good, "record_duration", "0.99997")  # 100 samples in 0.99997 s: ratio 99997/100000
    _refused(good, "'EEG Fpz-Cz'", "ratio")


def test_recording_shorter_than_one_epoch(tmp_path: Path) -> None:
    path = write_psg(tmp_path / "short.edf", [Channel("EEG Fpz-Cz", sine(100, 29, 10.0, 50.0), 100)])
    _refused(path, "29 s", "epoch")


# Fuzzing: whatever bytes are damaged, only a SleepscoreError may come out.

_NUMERIC_BYTES = st.sampled_from(list(b"0123456789 .-+eE"))
_ANY_BYTE = st.integers(0, 255)


@pytest.fixture(scope="module")
def fuzz_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    folder = tmp_path_factory.mktemp("fuzz")
    source = write_psg(
        folder / "source.edf",
        [
            Channel("EEG Fpz-Cz", sine(100, 40, 10.0, 50.0), 100),
            Channel("Temp rectal", sine(1, 40, 0.01, 3.0), 1),
        ],
        file_type="edf+",
        record_duration=2.0,
    )
    return source.read_bytes(), folder / "mutant.edf"


def _read_or_refuse(original: bytes, mutations: list[tuple[int, int]], target: Path) -> None:
    damaged = bytearray(original)
    for offset, value in mutations:
        damaged[offset] = value
    target.write_bytes(bytes(damaged))
    try:
        edf.list_channels(target)
        recording = edf.read_psg(target, ["Fpz-Cz"])
    except SleepscoreError as err:
        assert "\n" not in str(err)
        return
    assert recording.signals.shape[0] == 1 and np.isfinite(recording.signals).all()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_header_bytes(fuzz_source: tuple[bytes, Path], data: st.DataObject) -> None:
    original, target = fuzz_source
    size = 256 * 4  # fixed header plus three signal headers (EEG, temperature, annotations)
    mutations = data.draw(
        st.lists(st.tuples(st.integers(0, size - 1), _NUMERIC_BYTES | _ANY_BYTE), min_size=1, max_size=6)
    )
    _read_or_refuse(original, mutations, target)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_data_bytes(fuzz_source: tuple[bytes, Path], data: st.DataObject) -> None:
    original, target = fuzz_source
    offsets = st.integers(256 * 4, len(original) - 1)
    mutations = data.draw(st.lists(st.tuples(offsets, _ANY_BYTE), min_size=1, max_size=50))
    _read_or_refuse(original, mutations, target)


def test_fuzz_truncation_anywhere(fuzz_source: tuple[bytes, Path]) -> None:
    original, target = fuzz_source
    for length in range(0, len(original), 97):
        target.write_bytes(original[:length])
        with pytest.raises(DataError, match="mutant.edf"):
            edf.read_psg(target, ["Fpz-Cz"])


def test_fuzz_source_is_valid(fuzz_source: tuple[bytes, Path]) -> None:
    original, target = fuzz_source
    target.write_bytes(original)
    assert edf.read_psg(target, ["Fpz-Cz"]).signals.shape == (1, 4000)


@pytest.mark.parametrize("duration", ["99999999", "1000"])
def test_absurd_rates_are_refused_before_any_allocation(good: Path, duration: str) -> None:
    # A record duration that makes the channels' rates absurdly low (1e-6 Hz, 0.1 Hz): resampled
    # to 100 Hz the night would need terabytes; found by benchmarks/fuzz_inputs.py as a MemoryError.
    patch_header(good, "record_duration", duration)
    tracemalloc.start()
    try:
        message = _refused(good)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "below the 50 Hz minimum" in message
    assert peak < 50 * 2**20
