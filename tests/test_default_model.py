"""The shipped models in models/: contract, provenance and agreement on a real night."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")  # sleepscore.nets and sleepscore.training need the train extra

from sleepscore.metrics import agreement  # noqa: E402
from sleepscore.model import ANY_EEG, ANY_EEG_MODEL, DEFAULT_MODEL, SleepModel, shipped_models_dir  # noqa: E402
from sleepscore.nets import architecture_names  # noqa: E402
from sleepscore.scoring import (MUSCLE_WARNING_SHARE, UNFAMILIAR_WARNING_SHARE,  # noqa: E402
                                muscle_share)
from sleepscore.training.augment import as_sampled_at_50_hz, band_powers, set_band_powers  # noqa: E402
from sleepscore.training.evaluate import protocol_labels  # noqa: E402
from sleepscore.training.feature_files import load_feature_nights  # noqa: E402

SHIPPED = {DEFAULT_MODEL: ["EEG Fpz-Cz", "EEG Pz-Oz"], ANY_EEG_MODEL: [ANY_EEG]}
#: Feature-file channels a shipped model is fed in the tests (any EEG: one real derivation).
FED = {DEFAULT_MODEL: ["EEG Fpz-Cz", "EEG Pz-Oz"], ANY_EEG_MODEL: ["EEG Pz-Oz"]}
SLEEP_EDF_20_FEATURE_NIGHTS = 16  # features/*.npz in ../shared: subjects 0-7, two nights each


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_model_follows_the_contract(name):
    path = shipped_models_dir() / name
    assert path.stat().st_size < 5 * 2**20
    info = SleepModel(path).info  # raises on any missing or malformed contract key
    assert info.input == "features" and info.feature_set == "spectral-v1"
    assert info.channels == SHIPPED[name]
    assert info.unit == "V" and info.fs == 100 and info.epoch_s == 30
    assert info.architecture in architecture_names()
    assert info.trained_on["dataset"] == "sleep-edf20-features"
    assert info.trained_on["subjects"] == [f"{s:02d}" for s in range(8)]
    per_night = 2 if SHIPPED[name] == [ANY_EEG] else 1  # the single-EEG model: both derivations
    assert len(info.trained_on["nights"]) == per_night * SLEEP_EDF_20_FEATURE_NIGHTS
    assert info.trained_on["channels"] == SHIPPED[name]
    assert info.trained_on["derivations"] == ["EEG Fpz-Cz", "EEG Pz-Oz"]
    for protocol in ("30min", "whole", "30min_recording", "30min_pieces"):
        pooled = info.metrics[protocol]["pooled"]
        # Pooled over the cross-validation folds, every scored epoch of the 16 nights once
        # (for the single-EEG model once per derivation).
        assert np.asarray(pooled["confusion"]).sum() == pooled["n_epochs"]
        assert 0.5 < pooled["kappa"] <= 1
        assert 0 <= info.metrics[protocol]["ece"] < 0.2
    assert 0 < float(info.extra["distance_threshold"]) < 10
    assert 0.25 < info.trained_on["temperature"] < 4


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_metrics_count_every_scored_epoch_of_the_real_nights(name, sleep_edf_dir):
    info = SleepModel(shipped_models_dir() / name).info
    recordings_per_night = 2 if SHIPPED[name] == [ANY_EEG] else 1
    scored = sum(int((n.y >= 0).sum()) for n in load_feature_nights(sleep_edf_dir, ["EEG Fpz-Cz"]))
    assert info.metrics["whole"]["pooled"]["n_epochs"] == recordings_per_night * scored


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_model_scores_a_real_night_it_was_trained_on(name, sleep_edf_dir):
    # SC4001E0 is one of the 16 training nights of the shipped model, so this checks the export
    # and the input wiring (channels, unnormalised features, whole night), not generalisation;
    # the cross-validated numbers are in the model card.
    night = load_feature_nights(sleep_edf_dir, FED[name])[0]
    assert night.name == "SC4001E0"
    model = SleepModel(shipped_models_dir() / name)
    probs, distance, _ = model.predict(night.x)
    result = agreement(protocol_labels(night.y, "30min"), probs.argmax(axis=1))
    assert result.kappa > 0.7 and result.accuracy > 0.75
    # A training night is familiar: few epochs beyond the 99 % training distance.
    assert model.unfamiliar_share(distance) < 0.1


@pytest.mark.parametrize("name", list(SHIPPED))
def test_a_50_hz_file_is_not_unlike_the_training_data_for_its_missing_gamma(name, sleep_edf_dir):
    # Sampled at 50 Hz, a recording has no 30-50 Hz power and loses beta above 25 Hz. That is
    # reported by its sampling rate and handled by the missing-gamma gate; counted in the distance
    # it put every epoch of every such file beyond the training data (share 1.0 before).
    night = load_feature_nights(sleep_edf_dir, FED[name])[0]
    model = SleepModel(shipped_models_dir() / name)
    distance = model.predict(as_sampled_at_50_hz(night.x)).distance
    assert model.unfamiliar_share(distance) < UNFAMILIAR_WARNING_SHARE / 5


def _with_n2_muscle(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Features of the night with 50x its median N2 gamma density added to every N2 epoch (strong
    30-50 Hz chin muscle), the other columns recomputed as the extractor would."""
    block = np.array(x, dtype=np.float64)
    power = band_powers(block)
    power[y == 2, 4] += 50 * np.median(power[y == 2, 4])
    set_band_powers(block, power)
    return block


def test_the_single_eeg_model_keeps_n2_with_muscle_as_sleep_and_warns_of_it(sleep_edf_dir):
    night = load_feature_nights(sleep_edf_dir, FED[ANY_EEG_MODEL])[0]
    model = SleepModel(shipped_models_dir() / ANY_EEG_MODEL)
    clean, damaged = model.predict(night.x), model.predict(_with_n2_muscle(night.x, night.y))
    n2, sleep = night.y == 2, night.y > 0
    # The gate sees the muscle and leaves clean sleep alone.
    assert damaged.gamma_excess[n2].mean() > 0.8
    assert clean.gamma_excess[sleep].mean() < 0.05
    assert muscle_share(clean.probs, clean.gamma_excess) < MUSCLE_WARNING_SHARE
    assert muscle_share(damaged.probs, damaged.gamma_excess) > MUSCLE_WARNING_SHARE
    labels = protocol_labels(night.y, "30min")
    assert np.mean(damaged.probs.argmax(axis=1)[n2] == 0) < 0.05
    kappa = {name: agreement(labels, p.probs.argmax(axis=1)).kappa for name, p in (("clean", clean), ("damaged", damaged))}
    assert kappa["damaged"] > kappa["clean"] - 0.08, kappa
