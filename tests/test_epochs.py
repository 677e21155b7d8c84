"""Epoching and per-epoch quality flags, on arrays and through the EDF reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edf_factory import Channel, sine, sleep_edf_like, write_psg
from sleepscore.io.edf import read_psg
from sleepscore.epochs import cut_epochs, epoch_quality
from sleepscore.errors import DataError


def test_epochs_are_consecutive_30_s_slices_from_the_start() -> None:
    signals = np.arange(2 * 9150, dtype=np.float64).reshape(2, 9150)
    epochs, dropped_s = cut_epochs(signals, fs=100.0, epoch_s=30.0)
    assert epochs.shape == (3, 2, 3000)
    assert dropped_s == pytest.approx(1.5)
    for epoch in range(3):
        for channel in range(2):
            np.testing.assert_array_equal(
                epochs[epoch, channel], signals[channel, epoch * 3000 : (epoch + 1) * 3000]
            )


def test_epochs_are_a_view_not_a_copy() -> None:
    signals = np.zeros((2, 6500))
    epochs, _ = cut_epochs(signals)
    assert np.shares_memory(epochs, signals)
    signals[1, 3001] = 7.0
    assert epochs[1, 1, 1] == 7.0


def test_exact_multiple_drops_nothing() -> None:
    epochs, dropped_s = cut_epochs(np.zeros((1, 128 * 60)), fs=128.0, epoch_s=30.0)
    assert epochs.shape == (2, 1, 3840)
    assert dropped_s == 0.0


def test_shorter_than_one_epoch_is_a_data_error() -> None:
    with pytest.raises(DataError, match="29.99 s"):
        cut_epochs(np.zeros((2, 2999)))


def test_epoch_length_must_be_whole_samples() -> None:
    with pytest.raises(ValueError, match="whole number"):
        cut_epochs(np.zeros((1, 10000)), fs=100.0, epoch_s=30.005)


def _noisy_night(n_epochs: int, n_channels: int, seed: int = 0) -> np.ndarray:
    """Gaussian noise of std 20 (about the amplitude of EEG in uV), range +-200."""
    return np.random.default_rng(seed).normal(0.0, 20.0, size=(n_channels, n_epochs * 3000))


def test_flags_mark_exactly_the_damaged_epochs_and_channels() -> None:
    signals = _noisy_night(n_epochs=8, n_channels=2)
    signals[0, 2 * 3000 : 3 * 3000] = 5.0  # epoch 2, channel 0: constant (disconnected)
    signals[1, 4 * 3000 : 4 * 3000 + 600] = 200.0  # epoch 4, channel 1: 20 % at the upper rail
    signals[1, 5 * 3000 + 10 : 5 * 3000 + 400] = -200.0  # epoch 5, channel 1: 13 % at the lower rail
    signals[0, 6 * 3000 + 1234] = np.nan  # epoch 6, channel 0: one NaN
    epochs, _ = cut_epochs(signals)
    quality = epoch_quality(epochs, [-200.0, -200.0], [200.0, 200.0])
    expected_flat = np.zeros((8, 2), bool)
    expected_flat[2, 0] = True
    expected_clipped = np.zeros((8, 2), bool)
    expected_clipped[[4, 5], 1] = True
    expected_nan = np.zeros((8, 2), bool)
    expected_nan[6, 0] = True
    np.testing.assert_array_equal(quality.flat, expected_flat)
    np.testing.assert_array_equal(quality.clipped, expected_clipped)
    np.testing.assert_array_equal(quality.nan, expected_nan)
    np.testing.assert_array_equal(quality.any, [False, False, True, False, True, True, True, False])


def test_a_few_samples_at_the_rail_are_not_clipping() -> None:
    signals = _noisy_night(n_epochs=2, n_channels=1)
    signals[0, 100:130] = 200.0  # 1 % of the epoch: a brief artefact peak
    quality = epoch_quality(cut_epochs(signals)[0], [-200.0], [200.0])
    assert not quality.clipped.any()


def test_inverted_physical_range_still_finds_the_rails() -> None:
    # EDF allows physical minimum > maximum (an inverted polarity); the rails are the same.
    signals = _noisy_night(n_epochs=2, n_channels=1)
    signals[0, :1500] = -200.0
    quality = epoch_quality(cut_epochs(signals)[0], [200.0], [-200.0])
    np.testing.assert_array_equal(quality.clipped[:, 0], [True, False])


def test_flat_and_clipped_stretches_inside_a_night_are_flagged_not_fatal(tmp_path: Path) -> None:
    fs, seconds = 128, 300  # 128 Hz, so the flags must survive resampling to 100 Hz
    data = sine(fs, seconds, 10.0, 40.0)
    data[round(60 * fs) : round(90 * fs)] = 0.0  # epoch 2 flat
    data[round(150 * fs) : round(180 * fs)] *= 10.0  # epoch 5 at +-400 uV, beyond the +-100 range
    path = write_psg(
        tmp_path / "night.edf", [Channel("EEG Fpz-Cz", data, fs, physical_min=-100.0, physical_max=100.0)]
    )
    recording = read_psg(path, ["Fpz-Cz"])
    epochs, dropped_s = cut_epochs(recording.signals, recording.fs)
    quality = epoch_quality(epochs, recording.physical_min, recording.physical_max)
    assert epochs.shape == (10, 1, 3000) and dropped_s == 0.0
    np.testing.assert_array_equal(np.flatnonzero(quality.flat[:, 0]), [2])
    np.testing.assert_array_equal(np.flatnonzero(quality.clipped[:, 0]), [5])
    assert not quality.nan.any()


def test_flat_means_mostly_constant() -> None:
    signals = _noisy_night(n_epochs=3, n_channels=1)
    signals[0, 0:1800] = 1.0  # epoch 0: 60 % constant
    signals[0, 3000:3900] = 1.0  # epoch 1: 30 % constant
    quality = epoch_quality(cut_epochs(signals)[0], [-200.0], [200.0])
    np.testing.assert_array_equal(quality.flat[:, 0], [True, False, False])


def test_flags_land_on_the_right_epochs_across_chunk_boundaries() -> None:
    n_epochs = 1100  # more than two chunks of 512
    signals = _noisy_night(n_epochs=n_epochs, n_channels=1, seed=3)
    damaged = [0, 511, 512, 1023, 1024, 1099]
    for epoch in damaged:
        signals[0, epoch * 3000 : (epoch + 1) * 3000] = -3.0
    quality = epoch_quality(cut_epochs(signals)[0], [-200.0], [200.0])
    np.testing.assert_array_equal(np.flatnonzero(quality.flat[:, 0]), damaged)


def test_factory_file_lasts_exactly_the_seconds_asked(tmp_path: Path) -> None:
    # 370 s is not whole 30-s records: the file must not be padded to 390 s.
    path = sleep_edf_like(tmp_path / "night.edf", seconds=370)
    epochs, dropped_s = cut_epochs(read_psg(path, ["Fpz-Cz"]).signals)
    assert epochs.shape[0] == 12 and dropped_s == pytest.approx(10.0)
