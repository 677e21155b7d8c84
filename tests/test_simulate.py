"""The simulator writes Sleep-EDF-shaped files whose EEG has the real per-stage feature statistics."""

from __future__ import annotations

import csv
import dataclasses
import re

import mne
import numpy as np
import pyedflib
import pytest

from sleepscore import simulate
from sleepscore.datasets import load_nights
from sleepscore.errors import DataError
from sleepscore.features import spectral_features
from sleepscore.alignment import epoch_labels
from sleepscore.io.hypnogram import read_hypnogram
from sleepscore.simulate import load_reference, save_reference, simulate_dataset

EEG = ["EEG Fpz-Cz", "EEG Pz-Oz"]


@pytest.fixture(scope="module")
def reference():
    """The packaged reference: what every user simulates from, with no real data beside."""
    return load_reference()


def assert_same_reference(ours: simulate.Reference, theirs: simulate.Reference, rtol: float) -> None:
    assert [n.name for n in ours.nights] == [n.name for n in theirs.nights]
    for mine, other in zip(ours.nights, theirs.nights):
        assert (mine.start, mine.texts, mine.psg_duration_s) == (other.start, other.texts,
                                                                 other.psg_duration_s), mine.name
        np.testing.assert_array_equal(mine.onsets, other.onsets)
        np.testing.assert_array_equal(mine.durations, other.durations)
    for field in dataclasses.fields(simulate.SpectralModel):
        np.testing.assert_allclose(getattr(ours.spectra, field.name),
                                   getattr(theirs.spectra, field.name), rtol=rtol, atol=0,
                                   err_msg=field.name)


def test_packaged_reference_is_what_make_simulator_data_fits(reference, sleep_edf_dir):
    # A hair of tolerance for the fit only: another numpy or BLAS may round a quantile or a
    # correlation differently in the last bits; a stale file differs by far more.
    assert_same_reference(reference, load_reference(sleep_edf_dir), rtol=1e-9)
    assert len(reference.nights) == len(list((sleep_edf_dir / "hypnograms-sc78").glob("SC4*.txt")))


def test_saved_reference_reads_back_unchanged(reference, tmp_path):
    path = tmp_path / "simulator.npz"
    save_reference(reference, path)
    assert_same_reference(simulate._read_reference(path), reference, rtol=0)
    with np.load(path) as data:
        assert "Kemp" in str(data["attribution"]) and "PhysioNet" in str(data["attribution"])


@pytest.fixture(scope="module")
def full_night(reference, tmp_path_factory):
    return simulate_dataset(tmp_path_factory.mktemp("full"), nights=1, seed=11, reference=reference)[0]


@pytest.fixture(scope="module")
def short_nights(reference, tmp_path_factory):
    # No between-subject spread: two nights of one subject would otherwise carry that subject's
    # level (real single nights miss the pooled means by more than 0.5 sd about half the time).
    return simulate_dataset(tmp_path_factory.mktemp("short"), nights=2, seed=5,
                            reference=reference, hours=10, subject_spread=0.0)


def _source_name(psg) -> str:
    with open(psg, "rb") as file:
        recording_field = file.read(168)[88:].decode("ascii")
    return re.search(r"simulated_seed-\d+_(SC4\d{3}[A-Z]0)", recording_field).group(1)


def test_signals_match_the_real_psg_header(full_night, sleep_edf_dir):
    real = pyedflib.EdfReader(str(sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf"))
    simulated = pyedflib.EdfReader(str(full_night.psg))
    try:
        assert simulated.signals_in_file == real.signals_in_file == 7
        for i in range(7):
            assert simulated.getSignalHeader(i) == real.getSignalHeader(i)
        assert simulated.datarecord_duration == real.datarecord_duration == 30
        assert simulated.filetype == real.filetype
    finally:
        real.close()
        simulated.close()
    with open(full_night.psg, "rb") as file:
        patient = file.read(88)[8:].decode("ascii").strip()
    assert re.fullmatch(r"X ([FM]) X (Female|Male)_\d+yr", patient)  # as "X F X Female_33yr"
    raw = mne.io.read_raw_edf(full_night.psg, verbose="error")
    assert raw.ch_names == mne.io.read_raw_edf(
        sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf", verbose="error").ch_names
    assert raw.info["sfreq"] == 100


def test_length_and_hypnogram_come_from_the_source_night(full_night, sleep_edf_dir):
    source = _source_name(full_night.psg)
    with open(sleep_edf_dir / "sc78-nights.tsv", newline="") as file:
        row = next(r for r in csv.DictReader(file, delimiter="\t") if r["night"] == source)
    to_s = [sum(float(v) * m for v, m in zip(row[k].split(":"), (3600, 60, 1)))
            for k in ("rec_start", "rec_stop")]
    expected_s = (to_s[1] - to_s[0]) % 86400 // 30 * 30
    with pyedflib.EdfReader(str(full_night.psg)) as reader:
        duration = reader.file_duration
        start = reader.getStartdatetime()
    assert duration == expected_s
    assert 16.9 * 3600 <= duration <= 24 * 3600  # the real range: 16.92-23.92 h

    n_epochs = int(duration // 30)
    simulated = read_hypnogram(full_night.hypnogram)
    expert = read_hypnogram(sleep_edf_dir / "hypnograms-sc78" / f"{source}.txt")
    assert simulated.start == expert.start == start
    np.testing.assert_array_equal(epoch_labels(simulated, n_epochs, start),
                                  epoch_labels(expert, n_epochs, expert.start))
    assert mne.read_annotations(full_night.hypnogram).description[0].startswith("Sleep stage")


def test_same_seed_same_files_other_seed_other_files(reference, tmp_path):
    first = simulate_dataset(tmp_path / "a", 1, seed=2, reference=reference, hours=1)[0]
    again = simulate_dataset(tmp_path / "b", 1, seed=2, reference=reference, hours=1)[0]
    other = simulate_dataset(tmp_path / "c", 1, seed=3, reference=reference, hours=1)[0]
    assert first.psg.read_bytes() == again.psg.read_bytes()
    assert first.hypnogram.read_bytes() == again.hypnogram.read_bytes()
    assert first.psg.read_bytes() != other.psg.read_bytes()


def test_per_stage_feature_means_are_within_half_a_real_sd(short_nights, sleep_edf_dir):
    features, stages = [], []
    for pair in short_nights:
        for night in load_nights([pair], EEG, trim="none"):
            features.append(spectral_features(night.x.astype(np.float64)))
            stages.append(night.y)
    simulated, simulated_y = np.concatenate(features), np.concatenate(stages)
    real, real_y = [], []
    for path in sorted((sleep_edf_dir / "features").glob("*.npz")):
        with np.load(path) as data:
            real.append(data["X"][:, :18])
            real_y.append(data["y"])
    real, real_y = np.concatenate(real), np.concatenate(real_y)
    for stage in range(5):
        rows = simulated_y == stage
        assert rows.sum() >= 20, f"stage {stage}: only {rows.sum()} simulated epochs"
        distance = ((simulated[rows].mean(0) - real[real_y == stage].mean(0))
                    / real[real_y == stage].std(0))
        assert np.all(np.abs(distance) < 0.5), f"stage {stage}: {np.round(distance, 2)}"


def test_load_nights_gives_volts_and_trimmed_labels(short_nights):
    pair = short_nights[0]
    night = load_nights([pair], ["EEG Fpz-Cz"])[0]
    raw = mne.io.read_raw_edf(pair.psg, verbose="error")
    volts = raw.get_data(picks=["EEG Fpz-Cz"])[0]
    labels = epoch_labels(read_hypnogram(pair.hypnogram), len(volts) // 3000,
                          raw.info["meas_date"].replace(tzinfo=None))
    sleep = np.flatnonzero((labels >= 1) & (labels <= 4))
    first = max(sleep[0] - 60, 0)
    kept = np.arange(first, min(sleep[-1] + 61, len(labels)))
    assert night.subject == "00" and night.name == "SC4001E0"
    assert night.x.dtype == np.float32 and night.x.shape == (len(kept), 1, 3000)
    np.testing.assert_array_equal(night.y, labels[kept])
    np.testing.assert_allclose(night.x[0, 0], volts[first * 3000:(first + 1) * 3000], rtol=1e-6)


def test_missing_reference_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="SLEEPSCORE_SLEEP_EDF_DIR"):
        load_reference(tmp_path)
