"""Reading EDF/EDF+/BDF channels: values against MNE, rates, units, channel choice."""

from __future__ import annotations

import shutil
from pathlib import Path

import mne
import numpy as np
import pyedflib
import pytest

import sleepscore.io.edf as edf
from edf_factory import (
    START,
    Channel,
    make_discontinuous,
    patch_header,
    read_field,
    sine,
    sleep_edf_like,
    write_psg,
)
from sleepscore.epochs import cut_epochs
from sleepscore.errors import DataError

EXCERPT = "excerpt/SC4001E0-PSG-first5min.edf"
SINE_HZ = 10.0


def _sine_amplitude_and_frequency(signal: np.ndarray, fs: float) -> tuple[float, float]:
    """Amplitude and frequency of the dominant sinusoid of the middle 60 s (whole periods of
    10 Hz, away from the resampling filter's edge transients), from an FFT."""
    middle = signal[len(signal) // 2 - round(30 * fs) : len(signal) // 2 + round(30 * fs)]
    spectrum = np.abs(np.fft.rfft(middle))
    peak = int(np.argmax(spectrum))
    return 2 * spectrum[peak] / len(middle), np.fft.rfftfreq(len(middle), 1 / fs)[peak]


def test_excerpt_matches_mne_to_the_last_bit(sleep_edf_dir: Path) -> None:
    path = sleep_edf_dir / EXCERPT
    picks = ["EEG Fpz-Cz", "EEG Pz-Oz"]
    recording = edf.read_psg(path, picks)
    raw = mne.io.read_raw_edf(path, verbose="error")
    expected = raw.get_data(picks=picks)
    assert recording.channels == picks
    assert recording.fs == 100.0
    assert recording.signals.dtype == np.float64
    np.testing.assert_array_equal(recording.signals, expected)
    assert recording.start == raw.info["meas_date"].replace(tzinfo=None)
    assert recording.warnings == []


def test_excerpt_physical_range_in_volts(sleep_edf_dir: Path) -> None:
    path = sleep_edf_dir / EXCERPT
    with pyedflib.EdfReader(str(path)) as reader:
        headers = reader.getSignalHeaders()[:2]
    recording = edf.read_psg(path, ["Fpz-Cz", "Pz-Oz"])
    np.testing.assert_allclose(
        recording.physical_min, [h["physical_min"] * 1e-6 for h in headers], rtol=1e-15
    )
    np.testing.assert_allclose(
        recording.physical_max, [h["physical_max"] * 1e-6 for h in headers], rtol=1e-15
    )


def test_excerpt_lists_its_seven_signals(sleep_edf_dir: Path) -> None:
    path = sleep_edf_dir / EXCERPT
    with pyedflib.EdfReader(str(path)) as reader:
        expected = reader.getSignalLabels()
    assert edf.list_channels(path) == expected


@pytest.mark.parametrize("fs", [50, 100, 128, 200, 256])
@pytest.mark.parametrize("file_type", ["edf", "bdf"])
@pytest.mark.parametrize(
    ("dimension", "amplitude", "volts_per_unit"), [("uV", 50.0, 1e-6), ("mV", 0.05, 1e-3)]
)
def test_rates_and_units_keep_amplitude_frequency_and_epochs(
    tmp_path: Path, fs: int, file_type: str, dimension: str, amplitude: float, volts_per_unit: float
) -> None:
    seconds = 95
    path = write_psg(
        tmp_path / f"sine.{file_type}",
        [Channel("EEG C3-A2", sine(fs, seconds, SINE_HZ, amplitude), fs, dimension=dimension)],
        file_type=file_type,
    )
    recording = edf.read_psg(path, ["C3-A2"], unit="V")
    assert recording.signals.shape == (1, seconds * 100)
    measured_amplitude, measured_hz = _sine_amplitude_and_frequency(recording.signals[0], 100.0)
    assert measured_hz == pytest.approx(SINE_HZ)
    assert measured_amplitude == pytest.approx(amplitude * volts_per_unit, rel=2e-3)
    epochs, dropped_s = cut_epochs(recording.signals)
    assert epochs.shape == (3, 1, 3000)
    assert dropped_s == pytest.approx(5.0)
    below_100 = [w for w in recording.warnings if f"{fs} Hz" in w and "C3-A2" in w]
    assert len(below_100) == (1 if fs < 100 else 0)


@pytest.mark.parametrize("fs", [128, 200, 256, 80])
def test_resampling_matches_scipy_on_the_pyedflib_values(tmp_path: Path, fs: int) -> None:
    from scipy.signal import resample_poly

    path = write_psg(tmp_path / "x.edf", [Channel("EEG C4-A1", sine(fs, 60, 3.0, 80.0), fs)])
    with pyedflib.EdfReader(str(path)) as reader:
        microvolts = reader.readSignal(0)
    up, down = {128: (25, 32), 200: (1, 2), 256: (25, 64), 80: (5, 4)}[fs]
    recording = edf.read_psg(path, ["C4-A1"], unit="uV")
    np.testing.assert_allclose(recording.signals[0], resample_poly(microvolts, up, down), rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("spelling", "volts_per_unit"),
    [
        ("uV", 1e-6),
        ("UV", 1e-6),
        (b"\xb5V", 1e-6),
        ("mV", 1e-3),
        ("mv", 1e-3),
        ("V", 1.0),
        ("v", 1.0),
        ("nV", 1e-9),
    ],
)
@pytest.mark.parametrize(("unit", "volts_per_requested"), [("V", 1.0), ("uV", 1e-6), ("mV", 1e-3)])
def test_dimension_spellings_convert_to_the_requested_unit(
    tmp_path: Path, spelling: str | bytes, volts_per_unit: float, unit: str, volts_per_requested: float
) -> None:
    path = write_psg(tmp_path / "x.edf", [Channel("EEG Cz", sine(100, 30, 1.0, 100.0), 100)])
    with pyedflib.EdfReader(str(path)) as reader:
        header_units = reader.readSignal(0)
    # After reading: pyedflib itself refuses a micro sign in the dimension field.
    patch_header(path, "dimension", spelling, signal=0)
    recording = edf.read_psg(path, ["Cz"], unit=unit)
    factor = volts_per_unit / volts_per_requested
    # atol: pyedflib's and MNE's scaling formulas round differently near zero (~1e-14 of range).
    np.testing.assert_allclose(
        recording.signals[0], header_units * factor, rtol=1e-12, atol=1e-12 * 100.0 * factor
    )


@pytest.mark.parametrize(("amplitude", "volts_per_unit", "read_as"),
                         [(150.0, 1e-6, "uV"), (0.15, 1e-3, "mV"), (1.5e-4, 1.0, "V")])
def test_a_blank_dimension_is_read_by_its_physical_range_with_a_warning(
        tmp_path: Path, amplitude: float, volts_per_unit: float, read_as: str) -> None:
    # The same 150-uV EEG written in each unit, with the dimension field left blank.
    path = write_psg(tmp_path / "blank.edf",
                     [Channel("EEG Cz", sine(100, 30, 1.0, amplitude), 100, dimension="")])
    recording = edf.read_psg(path, ["Cz"], unit="uV")
    # rel: the header's 8-character physical range rounds the scale.
    assert np.abs(recording.signals[0]).max() == pytest.approx(amplitude * volts_per_unit / 1e-6, rel=1e-2)
    assert any(f"'EEG Cz' has no physical dimension; read as {read_as}" in message
               for message in recording.warnings)


@pytest.mark.parametrize("dimension", ["degC", "%", "uA"])
def test_non_voltage_dimension_is_refused_naming_channel_and_file(tmp_path: Path, dimension: str) -> None:
    path = write_psg(
        tmp_path / "odd.edf", [Channel("EEG Cz", sine(100, 30, 1.0, 100.0), 100, dimension=dimension)]
    )
    with pytest.raises(DataError, match=r"odd\.edf.*'EEG Cz'.*dimension"):
        edf.read_psg(path, ["Cz"])


def test_unknown_requested_unit_is_refused(tmp_path: Path) -> None:
    path = write_psg(tmp_path / "x.edf", [Channel("EEG Cz", sine(100, 30, 1.0, 100.0), 100)])
    with pytest.raises(DataError, match="'kV'"):
        edf.read_psg(path, ["Cz"], unit="kV")


def test_bdf_24_bit_values_match_mne(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    path = tmp_path / "random.bdf"
    digital = rng.integers(-(2**23), 2**23, size=256 * 40, dtype=np.int32)
    digital[:2] = [-(2**23), 2**23 - 1]
    header = {
        "label": "EEG Oz",
        "dimension": "uV",
        "sample_frequency": 256,
        "physical_min": -262144,
        "physical_max": 262143,
        "digital_min": -(2**23),
        "digital_max": 2**23 - 1,
        "transducer": "",
        "prefilter": "",
    }
    pyedflib.highlevel.write_edf(
        str(path), [digital], [header], digital=True, file_type=pyedflib.FILETYPE_BDF
    )
    recording = edf.read_psg(path, ["Oz"], fs=256.0)
    raw = mne.io.read_raw_bdf(path, verbose="error")
    np.testing.assert_array_equal(recording.signals, raw.get_data())


@pytest.mark.parametrize("asked", ["Fpz-Cz", "EEG Fpz-Cz", "eeg fpz-cz", "FPZ-CZ", " EEG  Fpz - Cz "])
def test_channel_name_variants_match(asked: str) -> None:
    available = ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]
    assert edf.match_channels([asked], available, "night.edf") == ["EEG Fpz-Cz"]


def test_type_word_is_only_stripped_as_a_separate_leading_word() -> None:
    assert edf.match_channels(["EMGchin"], ["EMGchin", "chin"], "x.edf") == ["EMGchin"]
    assert edf.match_channels(["EOG horizontal"], ["horizontal"], "x.edf") == ["horizontal"]


def test_missing_channel_lists_what_the_file_has() -> None:
    with pytest.raises(DataError, match=r"night\.edf.*'C3-A2'.*'EEG Fpz-Cz', 'EEG Pz-Oz'"):
        edf.match_channels(["C3-A2"], ["EEG Fpz-Cz", "EEG Pz-Oz"], "night.edf")


def test_two_file_channels_with_the_same_key_are_ambiguous() -> None:
    with pytest.raises(DataError, match=r"ambiguous.*'EEG Fpz-Cz'.*'EOG Fpz-Cz'"):
        edf.match_channels(["Fpz-Cz"], ["EEG Fpz-Cz", "EOG Fpz-Cz"], "x.edf")


def test_channels_come_back_in_the_requested_order(tmp_path: Path) -> None:
    path = sleep_edf_like(tmp_path / "night.edf", seconds=120)
    recording = edf.read_psg(path, ["pz-oz", "Fpz-Cz"])
    assert recording.channels == ["EEG Pz-Oz", "EEG Fpz-Cz"]
    frequencies = [_sine_amplitude_and_frequency(row, 100.0)[1] for row in recording.signals]
    assert frequencies == pytest.approx([7.0, 5.0])  # the factory's Pz-Oz and Fpz-Cz sines


def test_only_requested_channels_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sleep_edf_like(tmp_path / "night.edf", seconds=120)
    read_labels = []
    original = edf._read_physical

    def spy(header: edf.EdfHeader, signal: edf.SignalHeader, scale: object, out: np.ndarray) -> None:
        read_labels.append(signal.label)
        original(header, signal, scale, out)

    monkeypatch.setattr(edf, "_read_physical", spy)
    edf.read_psg(path, ["Fpz-Cz", "Pz-Oz"])
    assert read_labels == ["EEG Fpz-Cz", "EEG Pz-Oz"]


def test_unread_channels_with_broken_scaling_do_not_matter(tmp_path: Path) -> None:
    path = sleep_edf_like(tmp_path / "night.edf", seconds=120)
    intact = edf.read_psg(path, ["Fpz-Cz"]).signals
    # Signal 6 is the 1-Hz "Event marker"; marker channels often carry such nonsense.
    patch_header(path, "physical_min", "abc", signal=6)
    patch_header(path, "digital_max", "-32768", signal=6)
    patch_header(path, "dimension", "", signal=6)
    np.testing.assert_array_equal(edf.read_psg(path, ["Fpz-Cz"]).signals, intact)


def test_edf_plus_annotation_signal_is_not_a_channel(tmp_path: Path) -> None:
    path = sleep_edf_like(tmp_path / "night.edf", seconds=60, file_type="edf+")
    assert read_field(path, "label", 7) == "EDF Annotations"
    assert "EDF Annotations" not in edf.list_channels(path)
    raw = mne.io.read_raw_edf(path, verbose="error")
    np.testing.assert_array_equal(
        edf.read_psg(path, ["EOG horizontal"]).signals, raw.get_data(picks=["EOG horizontal"])
    )


def test_edf_plus_d_without_gaps_reads_like_its_continuous_twin(tmp_path: Path) -> None:
    continuous = write_psg(
        tmp_path / "c.edf", [Channel("EEG Cz", sine(100, 60, 4.0, 30.0), 100)], file_type="edf+"
    )
    discontinuous = shutil.copy(continuous, tmp_path / "d.edf")
    make_discontinuous(discontinuous, gap_after_record=20, gap_s=0.0)
    assert read_field(discontinuous, "reserved").startswith("EDF+D")
    np.testing.assert_array_equal(
        edf.read_psg(discontinuous, ["Cz"]).signals, edf.read_psg(continuous, ["Cz"]).signals
    )


def test_start_comes_from_the_header(tmp_path: Path) -> None:
    path = write_psg(tmp_path / "x.edf", [Channel("EEG Cz", sine(100, 30, 1.0, 10.0), 100)])
    assert edf.read_psg(path, ["Cz"]).start == START


@pytest.mark.parametrize(
    ("date", "expected_year"), [("31.12.99", 1999), ("01.01.85", 1985), ("01.01.84", 2084)]
)
def test_two_digit_years_follow_the_edf_clipping_rule(tmp_path: Path, date: str, expected_year: int) -> None:
    path = write_psg(tmp_path / "x.edf", [Channel("EEG Cz", sine(100, 30, 1.0, 10.0), 100)])
    patch_header(path, "startdate", date)
    assert edf.read_psg(path, ["Cz"]).start.year == expected_year


def test_unreadable_start_gives_none_and_a_warning(tmp_path: Path) -> None:
    path = write_psg(tmp_path / "x.edf", [Channel("EEG Cz", sine(100, 30, 1.0, 10.0), 100)])
    patch_header(path, "starttime", "25.61.00")
    recording = edf.read_psg(path, ["Cz"])
    assert recording.start is None
    assert any("start" in warning for warning in recording.warnings)


def test_record_duration_fraction_gives_exact_rates(tmp_path: Path) -> None:
    # 64 samples in 0.5-s records: 128 Hz, which must become exactly 100 samples per second.
    path = write_psg(
        tmp_path / "x.edf", [Channel("EEG Cz", sine(128, 60, SINE_HZ, 20.0), 128)], record_duration=0.5
    )
    assert read_field(path, "record_duration") == "0.5"
    recording = edf.read_psg(path, ["Cz"])
    assert recording.signals.shape == (1, 6000)
    assert _sine_amplitude_and_frequency(recording.signals[0], 100.0)[1] == pytest.approx(SINE_HZ)


def test_a_derivation_is_read_as_the_difference_of_two_channels_against_one_reference(tmp_path: Path) -> None:
    """C4-M1 from C4-REF and A1-REF at different rates: the shared reference (a 3-Hz wave in both)
    cancels, and each channel is resampled before the subtraction."""
    reference = sine(256, 60, 3.0, 40.0)
    c4 = reference + sine(256, 60, SINE_HZ, 20.0)
    a1 = sine(128, 60, 3.0, 40.0) + sine(128, 60, 5.0, 8.0)
    path = write_psg(tmp_path / "referential.edf", [Channel("EEG C4-REF", c4, 256), Channel("EEG A1-REF", a1, 128),
                                                    Channel("EOG E1-REF", reference, 256)])
    derived = edf.read_psg(path, ["C4-M1"], unit="uV")
    both = edf.read_psg(path, ["EEG C4-REF", "EEG A1-REF"], unit="uV")
    assert derived.channels == ["C4-M1"]
    np.testing.assert_allclose(derived.signals[0], both.signals[0] - both.signals[1], atol=1e-12)
    spectrum = np.abs(np.fft.rfft(derived.signals[0][1000:5000]))
    frequencies = np.fft.rfftfreq(4000, 1 / derived.fs)
    assert frequencies[np.argmax(spectrum)] == SINE_HZ
    assert spectrum[np.argmin(np.abs(frequencies - 3.0))] < 0.01 * spectrum.max()
    assert derived.physical_max[0] == pytest.approx(both.physical_max[0] - both.physical_min[1])
    assert derived.physical_min[0] == pytest.approx(both.physical_min[0] - both.physical_max[1])


def test_a_derivation_name_finds_the_files_own_spelling_before_building_one() -> None:
    available = ["EEG C4:A1", "EEG C4-REF", "EEG M1-REF"]
    assert edf.match_channels(["C4-M1"], available, "x.edf") == ["EEG C4:A1"]
    assert edf.match_channels(["C4-M1"], available[1:], "x.edf") == ["C4-M1"]
    with pytest.raises(DataError, match="'C3-M2'"):
        edf.match_channels(["C3-M2"], available, "x.edf")
