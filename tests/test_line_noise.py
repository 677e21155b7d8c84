"""50-Hz mains in a clinical-rate file is notched out before resampling, and nothing else is touched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edf_factory import Channel, write_psg

import sleepscore.io.edf as edf
from sleepscore.features import spectral_features
from sleepscore.io.edf import read_psg
from sleepscore.line_noise import PEAK_RATIO, mains_peak_ratio, remove_mains
from sleepscore.resample import resample_poly
from sleepscore.scoring import score_night
from sleepscore.simulate import simulate_dataset
from sleepscore.stages import LOG_OFFSET

EEG = ["EEG Fpz-Cz", "EEG Pz-Oz"]
# 100 Hz -> 256 Hz, the commonest clinical rate.
UP, DOWN = 64, 25


def _mains(n_samples: int, fs: float, hz: float, amplitude_uv: float) -> np.ndarray:
    # A phase off the sample grid: at 0 a 50-Hz sine resampled to 100 Hz lands on zero crossings.
    return amplitude_uv * np.sin(2 * np.pi * hz * np.arange(n_samples) / fs + 0.7)


def _at_256_hz(signals: np.ndarray, labels: list[str], path: Path, mains_hz: float | None = None,
               amplitude_uv: float = 20.0) -> Path:
    channels = []
    for label, signal in zip(labels, signals):
        data = resample_poly(signal, UP, DOWN)
        if mains_hz is not None:
            data = data + _mains(len(data), 256.0, mains_hz, amplitude_uv)
        channels.append(Channel(label, data, 256))
    return write_psg(path, channels)


def _band_powers(signals: np.ndarray) -> np.ndarray:
    """``[n_epochs, n_channels, 5]`` band powers (uV^2/Hz) of 100-Hz signals in uV."""
    epochs = signals[:, : signals.shape[1] // 3000 * 3000].reshape(len(signals), -1, 3000).transpose(1, 0, 2)
    features = spectral_features(epochs * 1e-6).reshape(len(epochs), len(signals), -1)
    return (np.exp(features[..., :5]) - LOG_OFFSET) * 1e12


@pytest.fixture(scope="module")
def excerpt_uv(sleep_edf_dir: Path) -> np.ndarray:
    """The real 5-min Sleep-EDF excerpt's two EEG derivations, in uV at 100 Hz."""
    return read_psg(sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf", EEG, unit="uV").signals


def test_real_eeg_with_50_hz_mains_keeps_its_gamma_power(excerpt_uv: np.ndarray, tmp_path: Path) -> None:
    clean = read_psg(_at_256_hz(excerpt_uv, EEG, tmp_path / "clean.edf"), EEG, unit="uV")
    noisy_path = _at_256_hz(excerpt_uv, EEG, tmp_path / "mains.edf", mains_hz=50.0)
    noisy = read_psg(noisy_path, EEG, unit="uV")
    gamma_clean = _band_powers(clean.signals)[..., 4]
    gamma_noisy = _band_powers(noisy.signals)[..., 4]
    # Without the notch the same mains multiplies gamma several-fold: what the test guards against.
    unnotched = np.stack([resample_poly(s, DOWN, UP) for s in
                          read_psg(noisy_path, EEG, unit="uV", fs=256.0).signals])
    assert np.median(_band_powers(unnotched)[..., 4] / gamma_clean) > 5
    np.testing.assert_allclose(np.median(gamma_noisy / gamma_clean, axis=0), 1.0, atol=0.1)
    # The other bands are untouched by the notch.
    np.testing.assert_allclose(_band_powers(noisy.signals)[..., :4], _band_powers(clean.signals)[..., :4],
                               rtol=0.02)
    assert not any("mains" in w for w in clean.warnings)
    for label in EEG:
        assert any(f"'{label}'" in w and "50-Hz mains" in w for w in noisy.warnings), noisy.warnings


def test_clean_60_hz_and_100_hz_files_are_read_exactly_as_before(excerpt_uv: np.ndarray, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    paths = {"clean": _at_256_hz(excerpt_uv, EEG, tmp_path / "clean.edf"),
             # 60-Hz mains lies in the resampling filter's stop band and never reaches 100 Hz.
             "60 Hz": _at_256_hz(excerpt_uv, EEG, tmp_path / "sixty.edf", mains_hz=60.0),
             "100 Hz": write_psg(tmp_path / "native.edf", [
                 Channel(label, s + _mains(len(s), 100.0, 50.0, 20.0), 100) for label, s in zip(EEG, excerpt_uv)])}
    read = {name: read_psg(path, EEG, unit="uV") for name, path in paths.items()}
    monkeypatch.setattr(edf, "remove_mains", lambda signal, fs: (signal, None))
    for name, path in paths.items():
        assert not any("mains" in w for w in read[name].warnings), name
        np.testing.assert_array_equal(read[name].signals, read_psg(path, EEG, unit="uV").signals)
    np.testing.assert_allclose(_band_powers(read["60 Hz"].signals), _band_powers(read["clean"].signals),
                               rtol=0.01)


def test_peak_ratio_tells_mains_from_eeg_spectra() -> None:
    rng = np.random.default_rng(1)
    fs, n = 200.0, 200 * 1800
    # Brown-ish EEG plus white amplifier noise: smooth around 50 Hz, as real spectra are.
    eeg = np.cumsum(rng.normal(0, 1, n)) * 0.5 + rng.normal(0, 2, n)
    eeg -= np.convolve(eeg, np.ones(200) / 200, mode="same")
    assert mains_peak_ratio(eeg, fs) < 1.5
    # Mains in a sixth of the night only (a loose electrode) still shows.
    intermittent = eeg.copy()
    intermittent[: n // 6] += _mains(n // 6, fs, 50.0, 10.0)
    assert mains_peak_ratio(intermittent, fs) > PEAK_RATIO
    notched, found = remove_mains(intermittent, fs)
    assert found is not None and mains_peak_ratio(notched, fs) < 1.5
    kept, ratio = remove_mains(eeg, fs)
    assert kept is eeg and ratio is None
    # At 100 Hz the mains sits at the Nyquist frequency: no spectrum beyond it to compare with.
    assert mains_peak_ratio(eeg[::2], 100.0) is None


def test_a_night_with_mains_is_scored_as_the_same_night_without(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pair = simulate_dataset(tmp_path / "sim", 1, seed=5, hours=3)[0]
    signals = read_psg(pair.psg, EEG, unit="uV").signals
    clean = score_night(_at_256_hz(signals, EEG, tmp_path / "clean.edf"))
    noisy_path = _at_256_hz(signals, EEG, tmp_path / "mains.edf", mains_hz=50.0)
    agreement = np.mean(score_night(noisy_path).stages == clean.stages)
    monkeypatch.setattr(edf, "remove_mains", lambda signal, fs: (signal, None))
    unnotched = np.mean(score_night(noisy_path).stages == clean.stages)
    # The mains left in changes the stages of many epochs (the models shipped before 2026-12-06
    # scored almost all of this night's sleep as wake); notched, the night is scored as if clean.
    assert agreement > 0.98
    assert unnotched < agreement - 0.05
