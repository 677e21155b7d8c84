"""Training on the real Sleep-EDF features: loading, splits, the loop, reproducibility, protocols."""

from __future__ import annotations

import dataclasses
import json

import mne
import numpy as np
import pytest
torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sleepscore.errors import DataError, UsageError  # noqa: E402
from sleepscore.features import spectral_features  # noqa: E402
from sleepscore.model import REQUIRED_KEYS, SleepModel  # noqa: E402
from sleepscore.nets import ProbabilityAverage, build_network  # noqa: E402
from sleepscore.nets.spectral import LogPowerUnsquash  # noqa: E402
from sleepscore.training import api  # noqa: E402
from sleepscore.training.api import cross_validate, load_checkpoint, train_model  # noqa: E402
from sleepscore.training.augment import as_sampled_at_50_hz, spectral_augment  # noqa: E402
from sleepscore.training.data import Night  # noqa: E402
from sleepscore.training.evaluate import (TemperatureViews, fit_temperature,  # noqa: E402
                                         fit_view_temperature, predict_held_out, protocol_labels,
                                         recording_cut, sleep_pieces)
from sleepscore.training.feature_files import (FEATURE_FILE_CHANNELS, load_feature_night,  # noqa: E402
                                               load_feature_nights)
from sleepscore.training.loop import TrainConfig, fit  # noqa: E402
from sleepscore.training.splits import split_by_subject, subject_folds  # noqa: E402
from sleepscore.training.transitions import transition_probabilities  # noqa: E402

# Small, fast settings: a few short windows per step keep each training test to seconds.
FAST = TrainConfig(max_passes=3, window=128, batch_size=16, patience=100, threads=1)


@pytest.fixture(scope="module")
def nights(sleep_edf_dir):
    return load_feature_nights(sleep_edf_dir)


def _edf_hypnogram_labels(sleep_edf_dir, night: str) -> list[str]:
    """Per-30-s R&K labels of a night read with MNE from the original EDF+ hypnogram."""
    (path,) = (sleep_edf_dir / "hypnograms").glob(f"{night[:7]}*-Hypnogram.edf")
    annotations = mne.read_annotations(path)
    labels: list[str] = []
    for description, duration in zip(annotations.description, annotations.duration):
        labels += [description] * int(round(duration / 30))
    return labels


def test_feature_night_puts_rows_back_at_hypnogram_positions(sleep_edf_dir):
    # SC4042E0 has four unscored epochs inside the recording; its EDF+ hypnogram (read by MNE,
    # not by our text parser) says where they are.
    night = load_feature_night(sleep_edf_dir / "features" / "SC4042E0.npz",
                               sleep_edf_dir / "hypnograms-sc78" / "SC4042E0.txt")
    edf_labels = _edf_hypnogram_labels(sleep_edf_dir, "SC4042E0")[: len(night.y)]
    unscored = [i for i, label in enumerate(edf_labels) if label in ("Sleep stage ?", "Movement time")]
    assert unscored and list(np.flatnonzero(night.y == -1)) == unscored
    with np.load(sleep_edf_dir / "features" / "SC4042E0.npz") as data:
        rows, y = data["X"][:, :18], data["y"]
    scored = night.y != -1
    np.testing.assert_array_equal(night.y[scored], y)
    np.testing.assert_allclose(night.x[scored], rows, rtol=1e-6)
    for position in unscored:  # filled with the previous epoch's features
        np.testing.assert_array_equal(night.x[position], night.x[position - 1])
    assert night.subject == "04"


def test_loader_selects_channel_columns_and_rejects_unknown_channel(sleep_edf_dir):
    both = load_feature_nights(sleep_edf_dir)[0]
    pz = load_feature_nights(sleep_edf_dir, ["EEG Pz-Oz"])[0]
    np.testing.assert_array_equal(pz.x, both.x[:, 9:18])
    with pytest.raises(DataError, match="EEG C4-M1"):
        load_feature_nights(sleep_edf_dir, ["EEG C4-M1"])


@settings(max_examples=200, deadline=None)
@given(n_subjects=st.integers(2, 20), nights_per_subject=st.integers(1, 3),
       k=st.integers(2, 20), seed=st.integers(0, 2**32 - 1))
def test_subject_folds_never_split_a_subject(n_subjects, nights_per_subject, k, seed):
    k = min(k, n_subjects)
    nights = [Night(f"SC4{s:02d}{n}E0", f"{s:02d}", np.zeros((1, 9)), np.zeros(1, dtype=np.int64))
              for s in range(n_subjects) for n in range(1, nights_per_subject + 1)]
    subjects = sorted({n.subject for n in nights})
    folds = subject_folds(subjects, k, seed)
    assert sorted(s for fold in folds for s in fold) == subjects  # a partition of the subjects
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for test in folds:
        rest = [s for s in subjects if s not in test]
        val = rest[:1] if len(rest) > 1 else []  # as cross-validation does, keeping a train subject
        train, val_nights, test_nights = split_by_subject(nights, val, test)
        sides = [{n.subject for n in part} for part in (train, val_nights, test_nights)]
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
        assert len(train) + len(val_nights) + len(test_nights) == len(nights)


def test_split_rejects_subject_on_both_sides_and_unknown_subject():
    nights = [Night(f"SC4{s}1E0", s, np.zeros((1, 9)), np.zeros(1, dtype=np.int64)) for s in ("00", "01", "02")]
    with pytest.raises(UsageError, match="'01'"):
        split_by_subject(nights, ["01"], ["01"])
    with pytest.raises(UsageError, match="'09'"):
        split_by_subject(nights, [], ["09"])


def test_30min_protocol_keeps_30_minutes_around_sleep():
    # 100 wake epochs, sleep from 100 to 199 (one unscored), 150 wake epochs: 60 epochs either side.
    y = np.array([0] * 100 + [2] * 50 + [-1] + [4] * 49 + [0] * 150)
    kept = protocol_labels(y, "30min")
    assert list(np.flatnonzero(kept != -1)) == [i for i in range(40, 260) if i != 150]
    assert list(np.flatnonzero(protocol_labels(y, "whole") != -1)) == [i for i in range(350) if i != 150]


def test_augmented_gain_equals_features_of_amplified_signal():
    # Independent reference: the feature extractor run on the amplified signal.
    signal = np.random.default_rng(3).normal(0, 20e-6, (6, 2, 3000))

    class FixedGain:  # a generator whose uniform draw is fixed and whose noise is zero
        def uniform(self, low, high):
            return 0.5

        def normal(self, loc, scale, size):
            return np.zeros(size)

    augmented = spectral_augment(spectral_features(signal), FixedGain(), max_gain=3.0, noise=0.0)
    np.testing.assert_allclose(augmented, spectral_features(np.sqrt(3.0) * signal), atol=1e-9)


def test_unsquash_recovers_log_power_and_mobility_of_the_signal():
    signal = np.random.default_rng(4).normal(0, 10e-6, (4, 1, 3000))
    features = torch.from_numpy(spectral_features(signal))
    out = LogPowerUnsquash(9)(features).numpy()
    np.testing.assert_allclose(out[:, 7], np.log(signal[:, 0].var(axis=-1)), rtol=1e-9)
    mobility = np.sqrt(np.diff(signal[:, 0], axis=-1).var(axis=-1) / signal[:, 0].var(axis=-1))
    np.testing.assert_allclose(out[:, 8], mobility, rtol=1e-9)


def test_training_decreases_loss_and_exports_contract_model(nights, tmp_path):
    subset = [n for n in nights if n.subject in ("00", "01", "02")]
    output = tmp_path / "tiny.onnx"
    result = train_model("subset", nights=subset, channels=list(FEATURE_FILE_CHANNELS),
                         val_subjects=["01"], test_subjects=["02"], passes=4, seed=1,
                         output=output, quiet=True, config=FAST)
    losses = [row["loss"] for row in json.loads(output.with_suffix(".json").read_text())["history"][0]]
    assert losses[-1] < losses[0]
    model = SleepModel(output)  # the lead's contract loader checks names, ranks and metadata
    props = model._session.get_modelmeta().custom_metadata_map
    assert all(f"sleepscore.{key}" in props for key in (*REQUIRED_KEYS, "feature_set"))
    assert model.info.channels == list(FEATURE_FILE_CHANNELS) and model.info.feature_set == "spectral-v1"
    assert json.loads(props["sleepscore.trained_on"])["test_subjects"] == ["02"]
    assert set(json.loads(props["sleepscore.metrics"])) == {"30min", "whole", "30min_recording", "30min_pieces"}
    for length in (37, 1000):
        probs = model.predict_proba(subset[0].x[:length])
        assert probs.shape == (length, 5)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert result.metrics["whole"].summary.pooled.n_epochs == sum((n.y != -1).sum() for n in subset
                                                               if n.subject == "02")
    for suffix in (".log", ".md", ".pt"):
        assert output.with_suffix(suffix).stat().st_size > 0


def test_same_seed_gives_same_weights_and_other_seed_does_not(nights):
    train, val = nights[:4], nights[4:5]

    def trained(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        net = build_network("spectral-bigru", 2)
        fit(net, train, val, TrainConfig(max_passes=2, window=128, batch_size=16, seed=seed), quiet=True)
        return net

    first, again, other = trained(7), trained(7), trained(8)
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7)
    x = torch.from_numpy(nights[6].x)[None]
    with torch.no_grad():
        assert (first(x) - other(x)).abs().max() > 1e-3


def test_cross_validation_tests_every_subject_once_and_pools_the_folds(nights):
    subset = [n for n in nights if n.subject in ("00", "01", "02", "03")]
    result = cross_validate("subset", nights=subset, channels=list(FEATURE_FILE_CHANNELS), k=2,
                            passes=1, seed=5, quiet=True, config=FAST)
    tested = [s for fold in result.folds for s in fold.test_subjects]
    assert sorted(tested) == ["00", "01", "02", "03"]
    for fold in result.folds:
        assert not set(fold.val_subjects) & set(fold.test_subjects)
    for protocol in ("30min", "whole"):
        pooled = result.metrics[protocol].summary.pooled
        summed = sum(fold.scores[protocol].summary.pooled.confusion for fold in result.folds)
        np.testing.assert_array_equal(pooled.confusion, summed)
    assert result.metrics["whole"].summary.pooled.n_epochs == sum(int((n.y != -1).sum()) for n in subset)


def test_members_trained_in_worker_processes_match_training_in_this_one(nights, tmp_path):
    """--jobs only changes the wall time: same folds, weights, temperatures, log and model."""
    subset = [n for n in nights if n.subject in ("00", "01", "02", "03")]
    runs = {}
    for jobs in (1, 2):
        output = tmp_path / f"jobs{jobs}" / "model.onnx"
        output.parent.mkdir()
        runs[jobs] = (cross_validate("subset", nights=subset, channels=list(FEATURE_FILE_CHANNELS), k=2,
                                     passes=2, seed=3, quiet=True, config=FAST, members=2, jobs=jobs,
                                     output=output), output)
    (serial, serial_path), (pooled, pooled_path) = runs[1], runs[2]
    for a, b in zip(serial.folds, pooled.folds):
        assert (a.test_subjects, a.val_subjects, a.kept_passes) == (b.test_subjects, b.val_subjects,
                                                                     b.kept_passes)
        assert a.temperature == pytest.approx(b.temperature, abs=1e-6)
        np.testing.assert_array_equal(a.scores["whole"].summary.pooled.confusion,
                                      b.scores["whole"].summary.pooled.confusion)
    assert serial_path.with_suffix(".log").read_text() == pooled_path.with_suffix(".log").read_text()
    serial_weights = torch.load(serial_path.with_suffix(".pt"), weights_only=True)["state_dict"]
    pooled_weights = torch.load(pooled_path.with_suffix(".pt"), weights_only=True)["state_dict"]
    assert serial_weights.keys() == pooled_weights.keys()
    for name in serial_weights:
        torch.testing.assert_close(serial_weights[name], pooled_weights[name], rtol=0, atol=1e-6)
    # The members differ (seeds 3 and 4), so members swapped between processes would fail above.
    assert any((serial_weights[name] - serial_weights[name.replace("members.0.", "members.1.", 1)]).abs().max() > 1e-4
               for name in serial_weights if name.startswith("members.0."))


def test_members_with_validation_of_their_own_hold_it_out_and_are_calibrated_on_it(nights, tmp_path):
    """--member-validation own: each member stops on a different subject, never trains on it,
    and is calibrated alone on it; the exported graph applies each member's temperature."""
    subset = [n for n in nights if n.subject in ("00", "01", "02", "03")]
    output = tmp_path / "own.onnx"
    result = train_model("subset", nights=subset, channels=list(FEATURE_FILE_CHANNELS),
                         test_subjects=["03"], passes=2, seed=2, quiet=True, config=FAST, members=3,
                         member_validation="own", arch="spectral-robust", output=output)
    member_val = result.trained_on["val_subjects"]
    assert sorted(member_val) == ["00", "01", "02"]  # three members, three different subjects
    assert result.trained_on["temperature"] == 1.0
    drawn_val, splits = api._drawn_member_splits(subset, ["03"], np.random.default_rng(2), 3, "own")
    assert drawn_val == member_val  # the splits train_model drew with seed 2
    for (train, val), own in zip(splits, member_val):
        assert {n.subject for n in val} == {own}
        assert {n.subject for n in train} == {"00", "01", "02"} - {own}
    network = load_checkpoint(output.with_suffix(".pt"))
    for member, (_, val), stored in zip(network.members, splits, result.trained_on["member_temperatures"]):
        assert fit_temperature(val, predict_held_out(member, val)) == pytest.approx(stored)
    temperatures = network.member_temperatures.numpy()
    assert len(set(temperatures.round(6))) > 1  # else swapped temperatures would pass below
    x = subset[-1].x[:400]
    with torch.no_grad():
        member_probs = [torch.softmax(member(torch.from_numpy(x)[None])[0] / t, dim=-1).numpy()
                        for member, t in zip(network.members, temperatures)]
    np.testing.assert_allclose(SleepModel(output).predict_proba(x), np.mean(member_probs, axis=0), atol=1e-4)
    with pytest.raises(UsageError, match="val-subjects"):
        train_model("subset", nights=subset, channels=list(FEATURE_FILE_CHANNELS), val_subjects=["00"],
                    members=2, member_validation="own", quiet=True, config=FAST)


def test_transition_prior_counts_consecutive_scored_epochs(tmp_path):
    rows = [("16:00:00", 90, "Sleep stage W"), ("16:01:30", 30, "Sleep stage 1"),
            ("16:02:00", 30, "Sleep stage ?"), ("16:02:30", 60, "Sleep stage 2")]
    text = "Onset\tDuration\tAnnotation\n" + "".join(
        f"1989-04-24T{clock}.0000000\t{duration}\t{label}\n" for clock, duration, label in rows)
    (tmp_path / "SC4251E0.txt").write_text(text)
    (tmp_path / "SC4011E0.txt").write_text(text.replace("Sleep stage 2", "Sleep stage R"))  # excluded
    # Epochs W W W N1 ? N2 N2: pairs W-W twice, W-N1 once, N2-N2 once (pairs with ? skipped),
    # plus the pseudo-count of one in every cell.
    expected = np.ones((5, 5))
    expected[0, 0] += 2
    expected[0, 1] += 1
    expected[2, 2] += 1
    probabilities = transition_probabilities(tmp_path, exclude_subjects=range(20))
    np.testing.assert_allclose(probabilities, expected / expected.sum(axis=1, keepdims=True))


def test_recording_cut_is_the_30min_window_scored_as_a_recording():
    from sleepscore.training.evaluate import (RECORDING_CUT, SLEEP_PIECES, HeldOutPrediction,
                                              recording_cut, score_held_out)

    y = np.array([0] * 100 + [2, 2, 3, 4] + [0] * 100)
    x = np.arange(len(y), dtype=np.float32)[:, None]
    cut = recording_cut(Night("n", "00", x, y))
    # 60 wake epochs (30 min) either side of the 4 sleep epochs, counted by hand
    assert len(cut.y) == 124 and cut.x[0, 0] == 40 and cut.x[-1, 0] == 163
    perfect = np.eye(5)[np.clip(y, 0, 4)]
    scores = score_held_out([Night("n", "00", x, y)],
                            [HeldOutPrediction(perfect, np.eye(5)[cut.y], pieces=[])])
    assert scores[RECORDING_CUT].summary.pooled.n_epochs == 124
    assert scores[RECORDING_CUT].summary.pooled.accuracy == 1.0
    assert SLEEP_PIECES not in scores  # 4 sleep epochs hold no 30-min piece


def test_recording_crops_keep_the_sleep_period_and_at_most_two_hours_around_it():
    from sleepscore.training.loop import _MAX_CROP_MARGIN, _recording_crop

    y = np.array([0] * 1000 + [2] * 500 + [0] * 1000)
    rng = np.random.default_rng(0)
    assert _recording_crop(y, 0.0, rng) == (0, len(y))
    for _ in range(50):
        start, stop = _recording_crop(y, 1.0, rng)
        assert 1000 - _MAX_CROP_MARGIN <= start <= 1000 and 1500 <= stop <= 1500 + _MAX_CROP_MARGIN


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-1, 4), min_size=1, max_size=40), min_size=1, max_size=4),
       st.integers(0, 2**32 - 1))
def test_balanced_epochs_oversample_every_stage_to_the_majority_count(nights, seed):
    from sleepscore.training.loop import _balanced_epochs

    labels = [np.array(y) for y in nights]
    crops = _balanced_epochs(labels, np.random.default_rng(seed))
    assert crops == _balanced_epochs(labels, np.random.default_rng(seed))
    assert all(stop == start + 1 for _, start, stop in crops)
    stages = np.array([labels[i][t] for i, t, _ in crops], dtype=int)
    assert not (stages == -1).any()
    present = np.bincount(np.concatenate(labels)[np.concatenate(labels) != -1], minlength=5)
    counts = np.bincount(stages, minlength=5)
    np.testing.assert_array_equal(counts, np.where(present > 0, present.max(), 0))
    labelled = {(i, t) for i, y in enumerate(labels) for t in np.flatnonzero(y != -1)}
    times = {}
    for i, t, _ in crops:
        times[(i, t)] = times.get((i, t), 0) + 1
    assert set(times) == labelled
    # Whole copies of a stage's epochs, then a remainder drawn without repetition.
    for (i, t), n in times.items():
        stage = labels[i][t]
        assert n in (present.max() // present[stage], -(-present.max() // present[stage]))


def test_stop_after_runs_the_first_epochs_of_the_full_schedule():
    # The model shipped after cross-validation stops at the folds' kept epoch but must follow the
    # folds' schedule up to there (DeepSleepNet's pre-training length depends on max_passes).
    rng = np.random.default_rng(0)
    train = [Night(f"n{i}", f"0{i}", rng.normal(size=(40, 18)), rng.integers(0, 5, 40)) for i in range(2)]
    seen = []

    def spy(model, pass_number, optimizer, max_passes):
        seen.append((pass_number, max_passes))

    result = fit(build_network("spectral-bigru", 2), train, [],
                 dataclasses.replace(FAST, max_passes=6, stop_after=2), on_pass_start=spy, quiet=True)
    assert seen == [(1, 6), (2, 6)]
    assert [row["epoch"] for row in result.history] == [1, 2]


def test_the_missing_gamma_temperature_fit_recovers_how_much_too_soft_the_logits_are():
    rng = np.random.default_rng(0)
    true = rng.normal(0, 3, (20000, 5))
    labels = np.array([rng.choice(5, p=p) for p in np.exp(true) / np.exp(true).sum(1, keepdims=True)])
    missing = rng.random(20000) < 0.5
    # Where gamma is missing the network is too unsure (logits x0.7); elsewhere calibrated, so
    # one global temperature could not fix it and the fit must use the share.
    logits = np.where(missing[:, None], 0.7 * true, true)
    views = TemperatureViews(logits, missing.astype(float), labels)
    assert fit_view_temperature([views]) == pytest.approx(0.7, rel=0.03)
    assert fit_view_temperature([TemperatureViews(true, missing.astype(float), labels)]) == pytest.approx(1, rel=0.03)


def test_cross_validation_fits_the_missing_gamma_temperature_on_other_folds_and_ships_it(nights, tmp_path):
    """Each fold's network is calibrated on 50-Hz views of the other fold's test nights only; the
    exported graph carries the temperature fitted on every fold's, and applies it."""
    subset = [n for n in nights if n.subject in ("00", "01", "02", "03")]
    output = tmp_path / "gated.onnx"
    result = cross_validate("subset", nights=subset, channels=list(FEATURE_FILE_CHANNELS), k=2, passes=1,
                            seed=5, quiet=True, config=FAST, members=2, arch="spectral-robust",
                            options={"missing_gamma_gate": True}, output=output)
    views = []
    for fold in result.folds:
        test = [n for n in subset if n.subject in fold.test_subjects]
        views.append(TemperatureViews.missing_gamma(fold.network, test))
        # predict leaves the network's own temperature in place
        assert float(fold.network.missing_gamma_temperature) == pytest.approx(
            result.trained_on["missing_gamma"]["fold_temperatures"][len(views) - 1])
    fitted = result.trained_on["missing_gamma"]
    assert fitted["fold_temperatures"] == [fit_view_temperature([views[1]]),
                                           fit_view_temperature([views[0]])]
    assert fitted["temperature"] == fit_view_temperature(views)
    assert set(fitted["metrics_50_hz"]) == set(result.metrics.by_protocol)
    network = load_checkpoint(output.with_suffix(".pt"))
    assert float(network.missing_gamma_temperature) == pytest.approx(fitted["temperature"])
    short = result.trained_on["short_recording"]["temperature"]
    assert short != 1.0 and float(network.short_recording_temperature) == pytest.approx(short)
    # A 50-Hz file of 400 epochs and a 30-min recording: both temperatures are in the graph.
    for x in (as_sampled_at_50_hz(subset[0].x[:400]), subset[0].x[500:560]):
        x = x.astype(np.float32)
        with torch.no_grad():
            expected = torch.softmax(network(torch.from_numpy(x)[None])[0], dim=-1).numpy()
        np.testing.assert_allclose(SleepModel(output).predict_proba(x), expected, atol=1e-4)
    card = output.with_suffix(".md").read_text()
    assert "files sampled at 50 Hz" in card
    assert ", ".join(f"{t:.3f}" for t in result.trained_on["short_recording"]["fold_temperatures"]) in card


def test_short_recording_views_share_each_recording_by_its_length(nights):
    night = nights[0]
    network = ProbabilityAverage([build_network("spectral-bigru", 2)]).eval()
    network.set_short_recording_temperature(0.5)
    views = TemperatureViews.short_recordings(network, [night])
    lengths = [len(night.y), len(recording_cut(night).y), *(len(p.y) for p in sleep_pieces(night))]
    scored = [int((r.y != -1).sum()) for r in [night, recording_cut(night), *sleep_pieces(night)]]
    expected = np.repeat([120 / (n + 120) for n in lengths], scored)
    np.testing.assert_allclose(views.shares, expected, rtol=1e-6)
    # The logits are the network's with the temperature at 1, and it is put back afterwards.
    with torch.no_grad():
        network.set_short_recording_temperature(1.0)
        whole = network(torch.from_numpy(night.x.astype(np.float32))[None])[0].numpy()
    np.testing.assert_allclose(views.logits[:scored[0]], whole[night.y != -1], rtol=1e-5, atol=1e-6)
    network.set_short_recording_temperature(0.5)
    TemperatureViews.short_recordings(network, [night])
    assert float(network.short_recording_temperature) == 0.5


def test_leaving_a_derivation_out_calibrates_on_the_trained_derivation_only(sleep_edf_dir):
    """The short-recording temperatures of a leave-one-derivation-out run are fitted on the
    trained derivation's held-out nights; the left-out derivation only gets scored."""
    result = cross_validate("sleep-edf20-features", sleep_edf_dir, channels=["EEG Fpz-Cz"], any_eeg=True,
                            score_channels=["EEG Pz-Oz"], k=2, passes=1, seed=3, quiet=True, config=FAST)
    views = {}
    for channel in ("EEG Fpz-Cz", "EEG Pz-Oz"):
        recordings = api.resolve_nights("sleep-edf20-features", sleep_edf_dir, None, [channel], True)[0]
        views[channel] = [TemperatureViews.short_recordings(
            fold.network, [n for n in recordings if n.subject in fold.test_subjects]) for fold in result.folds]
    fitted = result.trained_on["short_recording"]["fold_temperatures"]
    assert fitted == [fit_view_temperature([views["EEG Fpz-Cz"][1]]), fit_view_temperature([views["EEG Fpz-Cz"][0]])]
    # The left-out derivation's nights would have given other temperatures.
    assert fitted != [fit_view_temperature([views["EEG Pz-Oz"][1]]), fit_view_temperature([views["EEG Pz-Oz"][0]])]


def test_a_single_split_fits_the_missing_gamma_temperature_on_its_shared_validation_nights(nights, tmp_path):
    subset = [n for n in nights if n.subject in ("00", "01", "02")]
    output = tmp_path / "split.onnx"
    result = train_model("subset", nights=subset, channels=list(FEATURE_FILE_CHANNELS), val_subjects=["01"],
                         passes=1, seed=2, quiet=True, config=FAST, members=2, arch="spectral-robust",
                         options={"missing_gamma_gate": True}, output=output)
    network = load_checkpoint(output.with_suffix(".pt"))
    val = [n for n in subset if n.subject == "01"]
    stored = result.trained_on["missing_gamma"]["temperature"]
    assert stored == fit_view_temperature([TemperatureViews.missing_gamma(network, val)])
    assert float(network.missing_gamma_temperature) == pytest.approx(stored)
    # The short-recording temperature, fitted first, on the same nights.
    short = result.trained_on["short_recording"]["temperature"]
    network.set_missing_gamma_temperature(1.0)
    assert short == fit_view_temperature([TemperatureViews.short_recordings(network, val)])
    assert float(network.short_recording_temperature) == pytest.approx(short)
