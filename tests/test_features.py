"""spectral-v1: the hand-written Welch equals scipy's, and the features equal the real reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from sleepscore.io.edf import read_psg
from sleepscore.epochs import cut_epochs
from sleepscore.features import feature_names, spectral_features, welch_psd


@pytest.mark.parametrize("shape", [(3, 3000), (7, 2, 3000), (1, 1, 600)])
def test_welch_psd_equals_scipy(shape):
    x = np.random.default_rng(sum(shape)).normal(0, 30e-6, shape)
    expected_freqs, expected = welch(x, fs=100, nperseg=256)
    freqs, psd = welch_psd(x, fs=100)
    np.testing.assert_array_equal(freqs, expected_freqs)
    np.testing.assert_allclose(psd, expected, rtol=1e-12, atol=0)


def test_real_excerpt_reproduces_the_reference_features(sleep_edf_dir):
    recording = read_psg(sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf", ["Fpz-Cz", "Pz-Oz"])
    epochs, _ = cut_epochs(recording.signals, recording.fs)
    reference = np.load(sleep_edf_dir / "features" / "SC4001E0.npz")["X"][:10, :18]
    np.testing.assert_allclose(spectral_features(epochs), reference, rtol=0, atol=1e-12)


def test_features_of_known_signals():
    t = np.arange(3000) / 100
    # Millivolt amplitudes, so that the contract's 1e-10 log offset (large against the V^2/Hz of
    # real EEG) does not flatten the contrast being tested.
    alpha = 2e-3 * np.sin(2 * np.pi * 10 * t)  # 10 Hz: all power in the alpha band
    delta = 6e-3 * np.sin(2 * np.pi * 2 * t)  # 2 Hz: all power in the delta band
    features = spectral_features(np.stack([alpha, delta])[:, None, :])
    names = feature_names(["EEG"])
    column = {name.split(":")[1]: i for i, name in enumerate(names)}
    assert features[0, column["alpha"]] > features[0, column["delta"]] + 5
    assert features[1, column["delta"]] > features[1, column["alpha"]] + 5
    np.testing.assert_allclose(features[:, column["log_var"]],
                               np.log(np.array([2e-3 ** 2 / 2, 6e-3 ** 2 / 2]) + 1e-10), rtol=1e-4)
    # Hjorth mobility of a sine is 2 sin(pi f / fs) per sample
    np.testing.assert_allclose(features[:, column["hjorth_mobility"]],
                               2 * np.sin(np.pi * np.array([10, 2]) / 100), rtol=1e-3)


def test_blocks_do_not_change_the_result():
    x = np.random.default_rng(1).normal(0, 30e-6, (600, 2, 3000))
    whole = spectral_features(x)
    assert whole.shape == (600, 18)
    np.testing.assert_array_equal(spectral_features(x[:300]), whole[:300])
    np.testing.assert_array_equal(spectral_features(x[300:]), whole[300:])


@pytest.mark.parametrize("n_epochs", [1, 63, 130, 255, 256, 257, 1000])
def test_threads_share_the_epochs_and_change_no_value(n_epochs, monkeypatch):
    import threading

    import sleepscore.features as features_module

    epochs = np.random.default_rng(n_epochs).normal(0, 30e-6, (n_epochs, 2, 3000))
    alone = spectral_features(epochs)
    seen = {}
    block_features = features_module._block_features

    def recording_block_features(x, *args):
        seen.setdefault(threading.get_ident(), 0)
        seen[threading.get_ident()] += len(x)
        block_features(x, *args)

    monkeypatch.setattr(features_module, "_block_features", recording_block_features)
    shared = spectral_features(epochs, threads=3)
    np.testing.assert_array_equal(shared, alone)
    assert sum(seen.values()) == n_epochs  # every epoch once
    # Long nights are split; each thread gets at least four blocks (a few blocks do not repay a thread).
    assert (len(seen) > 1) == (n_epochs >= 2 * 4 * features_module._BLOCK_EPOCHS)
