"""The shipped models in models/: contract, provenance and agreement on a real night."""

from __future__ import annotations

import numpy as np
import pytest

from sleepscore.metrics import agreement
from sleepscore.model import DEFAULT_MODEL, SINGLE_CHANNEL_MODEL, SleepModel, shipped_models_dir
from sleepscore.nets import architecture_names
from sleepscore.training.evaluate import protocol_labels
from sleepscore.training.feature_files import load_feature_nights

SHIPPED = {DEFAULT_MODEL: ["EEG Fpz-Cz", "EEG Pz-Oz"], SINGLE_CHANNEL_MODEL: ["EEG Fpz-Cz"]}
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
    assert len(info.trained_on["nights"]) == SLEEP_EDF_20_FEATURE_NIGHTS
    assert info.trained_on["channels"] == SHIPPED[name]
    for protocol in ("30min", "whole"):
        pooled = info.metrics[protocol]["pooled"]
        # Pooled over the cross-validation folds, every scored epoch of the 16 nights once.
        assert np.asarray(pooled["confusion"]).sum() == pooled["n_epochs"]
        assert 0.5 < pooled["kappa"] <= 1


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_model_scores_a_real_night_it_was_trained_on(name, sleep_edf_dir):
    # SC4001E0 is one of the 16 training nights of the shipped model, so this checks the export
    # and the input wiring (channels, unnormalised features, whole night), not generalisation;
    # the cross-validated numbers are in the model card.
    night = load_feature_nights(sleep_edf_dir, SHIPPED[name])[0]
    assert night.name == "SC4001E0"
    probs = SleepModel(shipped_models_dir() / name).predict_proba(night.x)
    result = agreement(protocol_labels(night.y, "30min"), probs.argmax(axis=1))
    assert result.kappa > 0.75 and result.accuracy > 0.8
