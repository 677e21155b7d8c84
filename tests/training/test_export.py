"""ONNX export: the graph computes what the torch network computes, with dynamic batch and length."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")

from sleepscore.model import ANY_EEG, ANY_EEG_MODEL, DEFAULT_MODEL, REQUIRED_KEYS, SleepModel, shipped_models_dir  # noqa: E402
from sleepscore.nets import ProbabilityAverage, build_network  # noqa: E402
from sleepscore.training.api import load_checkpoint  # noqa: E402
from sleepscore.training.augment import as_sampled_at_50_hz  # noqa: E402
from sleepscore.training.export import contract_metadata, export_onnx  # noqa: E402
from sleepscore.training.feature_files import load_feature_nights  # noqa: E402
from sleepscore.training.loop import fit_population  # noqa: E402


@pytest.fixture(scope="module")
def first_night(sleep_edf_dir):
    return load_feature_nights(sleep_edf_dir)[0]


def _onnx_probs(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["probs"], {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]


def _torch_probs(network: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return network(torch.from_numpy(np.asarray(x, dtype=np.float32))).softmax(dim=-1).numpy()


@pytest.mark.parametrize("name", [DEFAULT_MODEL, ANY_EEG_MODEL])
def test_shipped_onnx_matches_its_torch_checkpoint_on_a_whole_real_night(name, sleep_edf_dir):
    # The checkpoint saved beside the model at export holds the exact weights, so the comparison
    # needs no retraining; a whole night (2650 epochs) exercises the long recurrences.
    path = shipped_models_dir() / name
    network = load_checkpoint(path.with_suffix(".pt"))
    channels = json.loads(ort.InferenceSession(str(path)).get_modelmeta()
                          .custom_metadata_map["sleepscore.channels"])
    night = load_feature_nights(sleep_edf_dir, ["EEG Pz-Oz"] if channels == [ANY_EEG] else channels)[0]
    assert len(night.y) == 2650
    onnx_probs = _onnx_probs(path, night.x[None])
    assert np.abs(onnx_probs - _torch_probs(network, night.x[None])).max() < 1e-5
    # A 40-min recording: nothing about the length of the export's example is frozen in the graph.
    short = night.x[None, 900:980]
    assert np.abs(_onnx_probs(path, short) - _torch_probs(network, short)).max() < 1e-5
    # The same night as a 50-Hz file (no gamma, beta above 25 Hz lost): the missing-gamma gate and
    # the missing-gamma temperature are in the graph too ...
    fifty = as_sampled_at_50_hz(night.x)
    assert np.abs(_onnx_probs(path, fifty[None]) - _torch_probs(network, fifty[None])).max() < 1e-5
    # ... and it is the one the training run fitted and recorded, not left at 1.
    recorded = json.loads(path.with_suffix(".json").read_text())["trained_on"]["missing_gamma"]["temperature"]
    assert recorded != 1.0
    assert float(network.missing_gamma_temperature) == pytest.approx(recorded)


def test_export_has_dynamic_batch_and_sequence_axes(first_night, tmp_path):
    torch.manual_seed(0)
    network = ProbabilityAverage([build_network("spectral-bigru", 2) for _ in range(2)]).eval()
    # The short-recording temperature acts by the recording's length, which must not be frozen
    # at the 50 epochs of the tracing example.
    network.set_short_recording_temperature(0.6)
    meta = contract_metadata(input_kind="features", channels=["EEG Fpz-Cz", "EEG Pz-Oz"],
                             architecture="spectral-bigru", trained_on={"dataset": "none"},
                             metrics={}, feature_set="spectral-v1")
    path = export_onnx(network, tmp_path / "untrained.onnx", meta, first_night.x[:50])
    x = first_night.x
    np.testing.assert_allclose(_onnx_probs(path, x[None, :60]), _torch_probs(network, x[None, :60]), atol=1e-5)
    pair = np.stack([x[:700], x[1000:1700]])
    batch_probs = _onnx_probs(path, pair)
    assert batch_probs.shape == (2, 700, 5)
    for i in range(2):  # each member of a batch is scored as if alone
        np.testing.assert_allclose(batch_probs[i], _onnx_probs(path, pair[i:i + 1])[0], atol=1e-6)
    long_probs = _onnx_probs(path, x[None])
    np.testing.assert_allclose(long_probs, _torch_probs(network, x[None]), atol=1e-5)
    np.testing.assert_allclose(long_probs.sum(axis=-1), 1.0, atol=1e-5)
    props = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
    assert {f"sleepscore.{k}" for k in REQUIRED_KEYS} <= set(props)
    assert json.loads(props["sleepscore.stages"]) == ["W", "N1", "N2", "N3", "REM"]
    assert float(props["sleepscore.fs"]) == 100 and float(props["sleepscore.epoch_s"]) == 30


def test_standardisation_is_inside_the_graph(first_night, tmp_path):
    # Per-recording standardisation makes the output blind to a constant offset of the input
    # (e.g. a different feature floor); without it in the graph, the offset would change it.
    torch.manual_seed(1)
    network = build_network("spectral-bigru", 2, unsquash=False).eval()
    meta = contract_metadata(input_kind="features", channels=["EEG Fpz-Cz", "EEG Pz-Oz"],
                             architecture="spectral-bigru", trained_on={}, metrics={},
                             feature_set="spectral-v1")
    path = export_onnx(network, tmp_path / "plain.onnx", meta, first_night.x[:50])
    x = first_night.x[None, :800]
    # float32 rounding of the shifted input moves the standardised features by ~1e-4 at most.
    np.testing.assert_allclose(_onnx_probs(path, x + 3.0), _onnx_probs(path, x), atol=2e-3)


def test_a_network_that_measures_distance_exports_it_as_a_second_output(first_night, tmp_path):
    torch.manual_seed(0)
    x = first_night.x[:, :9]
    members = [build_network("spectral-robust", 1) for _ in range(2)]
    for member in members:
        fit_population(member, [x], [first_night.y])
    network = ProbabilityAverage(members).eval()
    network.set_temperature(1.7)
    metadata = contract_metadata(input_kind="features", channels=[ANY_EEG], architecture="spectral-robust",
                                 trained_on={}, metrics={}, feature_set="spectral-v1")
    metadata["sleepscore.distance_threshold"] = str(network.distance_threshold)
    path = export_onnx(network, tmp_path / "robust.onnx", metadata, x[:100])
    model = SleepModel(path)
    # Scored on the whole night, not the 100-epoch tracing example: nothing about the length
    # (the shrinkage weight n / (n + k)) may be frozen into the graph.
    probs, distance, _ = model.predict(x)
    with torch.no_grad():
        expected = network.input_distance(torch.from_numpy(x.astype(np.float32))[None])[0].numpy()
    np.testing.assert_allclose(distance, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(probs, _torch_probs(network, x[None])[0], atol=1e-5)  # temperature in the graph
    assert model.distance_threshold == pytest.approx(network.distance_threshold, rel=1e-6)
    assert model.unfamiliar_share(distance) == pytest.approx(np.mean(expected > network.distance_threshold))


def test_a_network_with_a_muscle_gate_exports_its_gamma_excess(first_night, tmp_path):
    torch.manual_seed(0)
    x = first_night.x[:, :9]
    members = [build_network("spectral-robust", 1, muscle_gate=True),
               build_network("spectral-robust", 1, high_frequency=False, muscle_gate=True)]
    for member in members:
        fit_population(member, [x], [first_night.y])
    network = ProbabilityAverage(members).eval()
    metadata = contract_metadata(input_kind="features", channels=[ANY_EEG], architecture="spectral-robust",
                                 trained_on={}, metrics={}, feature_set="spectral-v1")
    model = SleepModel(export_onnx(network, tmp_path / "gated.onnx", metadata, x[:100]))
    # Gamma raised 1000-fold in every other epoch of the first 400: the gate must see it in the graph.
    damaged = x[:400].copy()
    damaged[::2, 4] = np.log(1000 * (np.exp(damaged[::2, 4]) - 1e-10) + 1e-10)
    prediction = model.predict(damaged)
    with torch.no_grad():
        expected = network.gamma_excess(torch.from_numpy(damaged.astype(np.float32))[None])[0].numpy()
    np.testing.assert_allclose(prediction.gamma_excess, expected, atol=1e-5)
    assert prediction.gamma_excess[::2].mean() > 0.9
    np.testing.assert_allclose(prediction.probs, _torch_probs(network, damaged[None])[0], atol=1e-5)
    # A model without the gate has no such output.
    plain = ProbabilityAverage([build_network("spectral-robust", 1)]).eval()
    fit_population(plain.members[0], [x], [first_night.y])
    assert SleepModel(export_onnx(plain, tmp_path / "plain.onnx", metadata, x[:100])).predict(x).gamma_excess is None
