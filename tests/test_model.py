"""The ONNX contract loader: accepts conformant models and names what is wrong with the others."""

from __future__ import annotations

import numpy as np
import pytest

from sleepscore.errors import DataError
from sleepscore.model import Prediction, SleepModel, combine_derivations, declared_channels, default_model_path, load_model
from onnx_factory import contract_metadata, write_linear_model

CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz"]


@pytest.fixture
def weights() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(18, 5))


def test_conformant_model_gives_softmax_of_its_graph(tmp_path, weights):
    path = write_linear_model(tmp_path / "m.onnx", weights, contract_metadata(CHANNELS))
    model = SleepModel(path)
    assert model.info.channels == CHANNELS
    assert model.info.feature_set == "spectral-v1"
    assert model.info.samples_per_epoch == 3000
    x = np.random.default_rng(1).normal(size=(37, 18))
    logits = x.astype(np.float32) @ weights.astype(np.float32)
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(x), expected, atol=1e-5)


@pytest.mark.parametrize("missing", ["sleepscore.channels", "sleepscore.feature_set", "sleepscore.stages"])
def test_missing_metadata_is_named(tmp_path, weights, missing):
    path = write_linear_model(tmp_path / "m.onnx", weights, contract_metadata(CHANNELS, **{missing: None}))
    with pytest.raises(DataError, match=missing.replace(".", r"\.")):
        SleepModel(path)


def test_bad_json_metadata_is_named(tmp_path, weights):
    path = write_linear_model(tmp_path / "m.onnx", weights,
                              contract_metadata(CHANNELS, **{"sleepscore.channels": "[EEG"}))
    with pytest.raises(DataError, match="sleepscore.channels"):
        SleepModel(path)


def test_wrong_stage_order_is_refused(tmp_path, weights):
    meta = contract_metadata(CHANNELS, **{"sleepscore.stages": '["W","N1","N2","REM","N3"]'})
    with pytest.raises(DataError, match="stages"):
        SleepModel(write_linear_model(tmp_path / "m.onnx", weights, meta))


def test_outputs_that_are_not_probabilities_are_refused(tmp_path, weights):
    model = SleepModel(write_linear_model(tmp_path / "m.onnx", weights * 10, contract_metadata(CHANNELS),
                                          softmax=False))
    with pytest.raises(DataError, match="sum to 1"):
        model.predict_proba(np.ones((5, 18)))


def test_wrong_output_width_is_refused(tmp_path):
    weights = np.random.default_rng(0).normal(size=(18, 4))
    model = SleepModel(write_linear_model(tmp_path / "m.onnx", weights, contract_metadata(CHANNELS),
                                          n_outputs=4))
    with pytest.raises(DataError, match=r"shape \(1, 5, 4\)"):
        model.predict_proba(np.ones((5, 18)))


def test_feature_count_mismatch_is_a_data_error(tmp_path, weights):
    model = SleepModel(write_linear_model(tmp_path / "m.onnx", weights, contract_metadata(CHANNELS)))
    with pytest.raises(DataError, match="m.onnx"):
        model.predict_proba(np.ones((5, 9)))


def test_raw_model_must_take_rank_4_input(tmp_path, weights):
    meta = contract_metadata(CHANNELS, input_kind="raw")
    with pytest.raises(DataError, match="rank 3"):
        SleepModel(write_linear_model(tmp_path / "m.onnx", weights, meta))
    raw = SleepModel(write_linear_model(tmp_path / "r.onnx", weights[:2], meta, input_rank=4))
    assert raw.predict_proba(np.zeros((3, 2, 3000))).shape == (3, 5)


def test_not_onnx_and_truncated_files_are_refused(tmp_path, weights):
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    with pytest.raises(DataError, match="notes.onnx: not a readable ONNX model"):
        SleepModel(text)
    good = write_linear_model(tmp_path / "m.onnx", weights, contract_metadata(CHANNELS)).read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="cut.onnx"):
        SleepModel(cut)
    with pytest.raises(DataError, match="not found"):
        SleepModel(tmp_path / "absent.onnx")


def test_shipped_default_model_follows_the_contract():
    if not default_model_path().is_file():
        pytest.fail(f"the default model {default_model_path()} is not shipped")
    model = load_model()
    assert model.info.input == "features"
    assert model.info.channels == CHANNELS
    probs = model.predict_proba(np.random.default_rng(0).normal(-25, 2, size=(120, 18)))
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_feature_models_run_on_one_thread_and_raw_models_on_all_by_default(tmp_path, weights):
    # A thread pool doubles the feature models' inference time on a 2-core machine; raw
    # convolutions do gain from it. An explicit count always wins.
    features = write_linear_model(tmp_path / "f.onnx", weights, contract_metadata(CHANNELS))
    raw = write_linear_model(tmp_path / "r.onnx", weights[:2], contract_metadata(CHANNELS, input_kind="raw"),
                             input_rank=4)

    def intra_op_threads(model: SleepModel) -> int:
        return model._session.get_session_options().intra_op_num_threads

    assert intra_op_threads(SleepModel(features)) == 1
    assert intra_op_threads(SleepModel(raw)) == 0  # 0: onnxruntime's default, one per core
    assert intra_op_threads(SleepModel(features, threads=2)) == 2
    assert intra_op_threads(SleepModel(raw, threads=1)) == 1


@pytest.mark.parametrize("channels", [["EEG"], ["C4-M1"], ["EEG Fpz-Cz", "EEG Pz-Oz"], ["Ünïcode-M1"]])
def test_declared_channels_read_without_onnxruntime_equal_the_sessions(tmp_path, channels):
    path = write_linear_model(tmp_path / "m.onnx", np.zeros((9 * len(channels), 5)), contract_metadata(channels))
    assert declared_channels(path) == channels == SleepModel(path).info.channels


def test_declared_channels_of_the_shipped_models_equal_the_sessions():
    for path in default_model_path().parent.glob("*.onnx"):
        assert declared_channels(path) == SleepModel(path).info.channels, path


def test_declared_channels_of_a_non_model_name_the_file(tmp_path):
    bogus = tmp_path / "notes.onnx"
    bogus.write_text("these are not the weights you are looking for")
    with pytest.raises(DataError, match="notes.onnx"):
        declared_channels(bogus)


def test_exporter_metadata_decodes_to_what_it_was_given(tmp_path):
    # One encoding for writer and reader: what contract_metadata writes, decode_metadata reads back.
    from sleepscore.contract import contract_metadata as encode, decode_metadata

    props = encode(input_kind="features", channels=["EEG", "x"], architecture="spectral-robust",
                   trained_on={"dataset": "sleep-edf20-features", "nights": 16},
                   metrics={"30min": {"kappa": 0.8}}, feature_set="spectral-v1", unit="uV")
    info = decode_metadata(tmp_path / "m.onnx", props)
    assert (info.input, info.channels, info.unit, info.architecture, info.feature_set) == (
        "features", ["EEG", "x"], "uV", "spectral-robust", "spectral-v1")
    assert info.trained_on == {"dataset": "sleep-edf20-features", "nights": 16}
    assert info.metrics == {"30min": {"kappa": 0.8}}
    assert (info.fs, info.epoch_s) == (100.0, 30.0)


def _random_probs(rng: np.random.Generator, n: int) -> np.ndarray:
    probs = rng.dirichlet(np.ones(5), size=n)
    return probs.astype(np.float32)


def test_derivations_combine_as_a_sharpened_geometric_mean_and_one_is_left_alone():
    rng = np.random.default_rng(3)
    a, b, c = (_random_probs(rng, 40) for _ in range(3))
    assert np.allclose(combine_derivations([Prediction(a)]).probs, a, atol=1e-6)
    for members in ([a, b], [a, b, c]):
        # Written out: prod(p_i) ** (1 / n ** 0.74), normalised per epoch.
        pooled = np.prod(np.stack(members).astype(np.float64), axis=0) ** (1 / len(members) ** 0.74)
        expected = pooled / pooled.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(combine_derivations([Prediction(p) for p in members]).probs, expected, atol=1e-6)
    # Two derivations that agree give a sharper answer than each (1.2 x their log-probabilities).
    same = combine_derivations([Prediction(a), Prediction(a)]).probs
    assert (same.max(axis=1) >= a.max(axis=1) - 1e-6).all()


def test_an_epochs_unusable_derivations_are_left_out_of_it_unless_all_are():
    rng = np.random.default_rng(4)
    a, b = _random_probs(rng, 3), _random_probs(rng, 3)
    distance = [np.array([1.0, 2.0, 3.0], np.float32), np.array([3.0, 4.0, 5.0], np.float32)]
    usable = np.array([[True, False], [False, False], [True, True]])
    combined = combine_derivations([Prediction(a, distance[0]), Prediction(b, distance[1])], usable)
    np.testing.assert_allclose(combined.probs[0], a[0], atol=1e-6)
    both = combine_derivations([Prediction(a), Prediction(b)]).probs
    np.testing.assert_allclose(combined.probs[1:], both[1:], atol=1e-6)
    np.testing.assert_allclose(combined.distance, [1.0, 3.0, 4.0])
    assert combined.gamma_excess is None
