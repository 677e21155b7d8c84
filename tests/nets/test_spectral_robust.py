"""The any-derivation, any-length network (spectral-robust) and the training pieces it needs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sleepscore.features import spectral_features  # noqa: E402
from sleepscore.alignment import trim_mask  # noqa: E402
from sleepscore.metrics import expected_calibration_error  # noqa: E402
from sleepscore.nets import ProbabilityAverage, build_network  # noqa: E402
from sleepscore.nets.spectral import LogPowerUnsquash  # noqa: E402
from sleepscore.nets.spectral_robust import MISSING_GAMMA_WEIGHT, TrustedSpectralInputs  # noqa: E402
from sleepscore.training.augment import (band_powers, mixed_derivation, montage_augment,  # noqa: E402
                                         set_band_powers)
from sleepscore.training.data import Night, per_channel_nights  # noqa: E402
from sleepscore.training.evaluate import (HeldOutPrediction, fit_temperature,  # noqa: E402
                                          sleep_pieces)
from sleepscore.training.loop import (_RANDOM_CROP_EPOCHS, POPULATION_TRIM, TrainConfig,  # noqa: E402
                                     _batches, _random_crop, fit, fit_population)


def eeg_epochs(n_epochs: int, seed: int = 0) -> np.ndarray:
    """``[n, 1, 3000]`` pink-ish EEG in volts (tens of uV), different per epoch."""
    rng = np.random.default_rng(seed)
    white = rng.normal(0, 1, (n_epochs, 1, 3000))
    spectrum = np.fft.rfft(white, axis=-1) / np.maximum(np.fft.rfftfreq(3000, 0.01), 0.5)
    signal = np.fft.irfft(spectrum, n=3000, axis=-1)
    return 20e-6 * signal / signal.std() * rng.uniform(0.5, 2.0, (n_epochs, 1, 1))


def night_labels(n_epochs: int) -> np.ndarray:
    y = np.zeros(n_epochs, dtype=np.int64)
    y[n_epochs // 4: 3 * n_epochs // 4] = np.resize([1, 2, 2, 3, 2, 4], n_epochs // 2)
    return y


def test_relative_powers_do_not_change_with_gain_and_the_level_moves_by_its_log() -> None:
    epochs = eeg_epochs(20)
    inputs = TrustedSpectralInputs(1, high_frequency=True)
    plain = inputs.trusted(torch.from_numpy(spectral_features(epochs).astype(np.float32))[None])[0]
    louder = inputs.trusted(torch.from_numpy(spectral_features(3 * epochs).astype(np.float32))[None])[0]
    relative = [0, 1, 2, 3, 4, 6]  # four bands and gamma relative to the level, log mobility
    # float32 inputs near ln(1e-10) resolve log powers to a few 1e-3.
    np.testing.assert_allclose(louder[:, relative], plain[:, relative], atol=5e-3)
    np.testing.assert_allclose(louder[:, 5] - plain[:, 5], 2 * np.log(3), atol=5e-3)


def test_short_recordings_are_centred_on_the_population_and_long_ones_on_themselves() -> None:
    inputs = TrustedSpectralInputs(1, shrinkage_epochs=120)
    long_night = spectral_features(eeg_epochs(2400)).astype(np.float32)
    fit_population(inputs, [long_night], [night_labels(2400)])
    width = 5
    for n_epochs, recording_weight in ((20, 20 / 140), (2400, 2400 / 2520)):
        # A recording louder than the population: its own mean is 2 ln 4 above in the level.
        x = torch.from_numpy(spectral_features(4 * eeg_epochs(n_epochs, seed=1)).astype(np.float32))[None]
        out = inputs(x)[0].double()
        population_z, recording_z, weight = out[:, :width], out[:, width:2 * width], out[:, -1]
        np.testing.assert_allclose(weight, recording_weight, rtol=1e-6)
        # recording_z = population_z - w * (recording mean in population units)
        np.testing.assert_allclose((population_z - recording_z).mean(dim=0),
                                   recording_weight * population_z.mean(dim=0), atol=1e-4)


def test_training_epochs_stay_within_the_distance_threshold_99_percent_of_the_time() -> None:
    net = build_network("spectral-robust", 1)
    x = spectral_features(eeg_epochs(600)).astype(np.float32)
    y = night_labels(600)
    fit_population(net, [x], [y])
    distance = net.input_distance(torch.from_numpy(x)[None])[0].numpy()
    population = trim_mask(y, "30min") & (y >= 0)  # the epochs the statistics are fitted on
    assert np.mean(distance[population] <= net.distance_threshold) == pytest.approx(0.99, abs=0.005)
    flat = np.full_like(x, np.log(1e-10))  # a disconnected electrode: every power at the epsilon
    assert (net.input_distance(torch.from_numpy(flat)[None]) > net.distance_threshold).all()


def test_montage_augment_keeps_the_features_consistent_and_damages_the_high_bands() -> None:
    x = spectral_features(eeg_epochs(300)).astype(np.float64)
    rng = np.random.default_rng(3)
    changed_gamma = 0
    for _ in range(40):
        out = montage_augment(x, rng)
        assert out.shape == x.shape and out.dtype == x.dtype
        # The ratio columns follow from the augmented log powers, as the extractor computes them.
        np.testing.assert_allclose(out[:, 5], out[:, 1] / (out[:, 2] + 1e-10))
        np.testing.assert_allclose(out[:, 6], out[:, 2] / (out[:, 0] + 1e-10))
        log_power = np.log(np.maximum(np.exp(out[:, :5]) - 1e-10, 1e-30))
        original = np.log(np.exp(x[:, :5]) - 1e-10)
        relative_gamma_shift = np.ptp((log_power[:, 4] - log_power[:, 0]) - (original[:, 4] - original[:, 0]))
        changed_gamma += relative_gamma_shift > 0.1  # per-epoch (muscle) or 50-Hz change
    # Only the 50-Hz loss or the muscle artefact change gamma relative to delta differently from
    # the night's constant band gains: P(neither) = 0.85 * 0.65, so ~18 of 40 nights.
    assert 5 <= changed_gamma <= 25


@pytest.mark.parametrize("muscle_uv", [2.0, 10.0])
def test_new_band_powers_move_variance_and_mobility_as_the_extractor_does(sleep_edf_dir, muscle_uv) -> None:
    """Muscle added to the real excerpt's signal, then extracted, against the same band powers
    written into the clean features: the augmentation's (and the damaged-real benchmark's) model."""
    import mne
    from scipy.signal import butter, sosfiltfilt

    raw = mne.io.read_raw_edf(sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf", verbose="error")
    signal = raw.get_data(picks=["EEG Pz-Oz"])[0]
    muscle = sosfiltfilt(butter(4, [30, 45], btype="bandpass", fs=100, output="sos"),
                         np.random.default_rng(0).normal(0, 1, len(signal)))
    muscle *= muscle_uv * 1e-6 / muscle.std()
    clean = spectral_features(signal.reshape(-1, 1, 3000))
    dirty = spectral_features((signal + muscle).reshape(-1, 1, 3000))
    rewritten = clean.copy()
    set_band_powers(rewritten, band_powers(dirty))
    assert dirty[:, 8].mean() > 1.1 * clean[:, 8].mean()  # the muscle does move mobility
    np.testing.assert_allclose(rewritten[:, :7], dirty[:, :7], rtol=1e-9)  # band powers and ratios
    np.testing.assert_allclose(rewritten[:, 7], dirty[:, 7], atol=0.3)  # log variance
    np.testing.assert_allclose(rewritten[:, 8], dirty[:, 8], rtol=0.15)  # Hjorth mobility
    # A gain scales every power alike: the variance and the mobility column (whose epsilon is of
    # the order of this channel's variance in V^2) then follow exactly.
    louder = spectral_features(2.5 * signal.reshape(-1, 1, 3000))
    rewritten = clean.copy()
    set_band_powers(rewritten, 2.5**2 * band_powers(clean))
    assert np.all(np.abs(louder[:, 8] / clean[:, 8] - 1) > 0.01)  # the column does move with the gain
    np.testing.assert_allclose(rewritten[:, 7:], louder[:, 7:], rtol=1e-6)


def test_random_crops_are_inside_the_night_of_every_length_and_half_in_the_sleep_period() -> None:
    y = night_labels(2600)
    sleep = np.flatnonzero(y > 0)
    rng = np.random.default_rng(0)
    crops = [_random_crop(y, rng) for _ in range(2000)]
    assert all(0 <= start < stop <= len(y) for start, stop in crops)
    assert {stop - start for start, stop in crops} == set(_RANDOM_CROP_EPOCHS)
    inside = np.mean([sleep[0] <= start and stop <= sleep[-1] + 1 for start, stop in crops])
    assert 0.5 <= inside <= 0.8  # half drawn inside, plus the anywhere-crops that land inside
    assert _random_crop(y[:15], rng) == (0, 15)  # a night shorter than any crop is kept whole


def test_batches_stack_only_crops_of_equal_length_and_keep_every_crop_once() -> None:
    crops = [(0, 0, 10), (1, 5, 25), (2, 0, 10), (3, 0, 10), (4, 2, 22), (5, 0, 7)]
    batches = _batches(crops, batch_size=2)
    assert sorted(c for b in batches for c in b) == sorted(crops)
    for batch in batches:
        assert len(batch) <= 2 and len({stop - start for _, start, stop in batch}) == 1
    assert batches[0][0] == crops[0]


def test_sleep_pieces_are_consecutive_half_hours_of_the_sleep_period() -> None:
    y = np.array([0] * 30 + [2] * 125 + [0] * 40)
    night = Night("n", "00", np.arange(len(y), dtype=np.float32)[:, None], y)
    pieces = sleep_pieces(night)
    assert [len(p.y) for p in pieces] == [60, 60]
    assert pieces[0].x[0, 0] == 30 and pieces[1].x[0, 0] == 90


def test_expected_calibration_error() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.2, 1.0, 200_000)
    calibrated = rng.random(confidence.size) < confidence
    assert expected_calibration_error(confidence, calibrated) < 0.01
    overconfident = rng.random(confidence.size) < confidence - 0.15
    assert expected_calibration_error(confidence, overconfident) == pytest.approx(0.15, abs=0.01)


def test_fit_temperature_undoes_sharpened_logits() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    y = rng.integers(0, 5, n)
    true_logits = rng.normal(0, 1, (n, 5))
    true_logits[np.arange(n), y] += 1.5
    # Labels drawn from the softmax of true_logits: those logits are calibrated; x3 is overconfident.
    probs = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(5, p=p) for p in probs])
    y[:100] = 0  # wake before the sleep period, so the clinical cut and pieces are real views
    night = Night("n", "00", np.zeros((n, 9)), y)
    logits = 3 * true_logits
    keep = trim_mask(y, "30min")
    pieces = [logits[int(p.name.split("@")[1]):][:len(p.y)] for p in sleep_pieces(night)]
    prediction = HeldOutPrediction(whole=logits, cut=logits[keep], pieces=pieces)
    assert fit_temperature([night], [prediction]) == pytest.approx(3.0, rel=0.1)


def test_ensemble_temperature_divides_the_log_probabilities() -> None:
    members = [build_network("spectral-robust", 1) for _ in range(2)]
    ensemble = ProbabilityAverage(members).eval()
    x = torch.from_numpy(spectral_features(eeg_epochs(30)).astype(np.float32))[None]
    with torch.no_grad():
        plain = ensemble(x)
        ensemble.set_temperature(2.0)
        np.testing.assert_allclose(ensemble(x), plain / 2.0, rtol=1e-6)


def test_per_channel_nights_keep_the_subject_and_labels() -> None:
    night = Night("SC4001E0", "00", np.arange(36.0).reshape(2, 18), np.array([0, 2]))
    split = per_channel_nights([night], ["EEG Fpz-Cz", "EEG Pz-Oz"])
    assert [n.name for n in split] == ["SC4001E0:EEG Fpz-Cz", "SC4001E0:EEG Pz-Oz"]
    assert all(n.subject == "00" and (n.y == night.y).all() for n in split)
    np.testing.assert_array_equal(np.hstack([n.x for n in split]), night.x)
    # Each carries the other derivation's same epochs, for derivation mixing.
    np.testing.assert_array_equal(split[0].other_derivations[:, 0], split[1].x)
    np.testing.assert_array_equal(split[1].other_derivations[:, 0], split[0].x)


def alpha_epochs(n_epochs: int, seed: int) -> np.ndarray:
    """``[n, 1, 3000]`` 8-13 Hz noise plus a little white noise: a posterior derivation's wake."""
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    alpha = sosfiltfilt(butter(4, [8, 13], btype="bandpass", fs=100, output="sos"),
                        rng.normal(0, 1, (n_epochs, 1, 3000)), axis=-1)
    return 30e-6 * alpha / alpha.std() + rng.normal(0, 3e-6, (n_epochs, 1, 3000))


@pytest.mark.parametrize("share", [0.0, 0.3, 0.8, 1.0])
def test_mixed_derivation_features_are_the_extractors_on_the_mixed_signal(share) -> None:
    """Independent signals: the extractor run on sqrt(s) a + sqrt(1 - s) b is the reference."""
    a, b = eeg_epochs(30, seed=2), alpha_epochs(30, seed=3)
    expected = spectral_features(np.sqrt(share) * a + np.sqrt(1 - share) * b)
    got = mixed_derivation(spectral_features(a), spectral_features(b), share)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    unsquash = LogPowerUnsquash(9)
    got_log, expected_log = (unsquash(torch.from_numpy(f)).numpy() for f in (got, expected))
    # Log band powers and variance: only the two noises' chance correlation is left out.
    np.testing.assert_allclose(got_log[:, [0, 1, 2, 3, 4, 7]], expected_log[:, [0, 1, 2, 3, 4, 7]], atol=0.1)
    np.testing.assert_allclose(got[:, 8], expected[:, 8], rtol=0.05)  # Hjorth mobility
    # The ratio columns follow from the mixed log powers, as the extractor computes them.
    np.testing.assert_allclose(got[:, 5], got[:, 1] / (got[:, 2] + 1e-10))


def _inputs_seen_by_training(mixing: float, with_other_derivations: bool) -> tuple[list[np.ndarray], dict]:
    """What the loop hands the architecture's augmentation in one pass, and the weights it trains."""
    night = Night("n", "00", np.hstack([spectral_features(eeg_epochs(300, seed=4)),
                                        spectral_features(alpha_epochs(300, seed=5))]).astype(np.float32),
                  night_labels(300))
    recordings = per_channel_nights([night], ["A", "B"])
    if not with_other_derivations:
        recordings = [Night(r.name, r.subject, r.x, r.y) for r in recordings]
    seen = []

    def spy(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        seen.append(np.array(x))
        return x

    torch.manual_seed(0)
    net = build_network("spectral-robust", 1)
    fit(net, recordings, [], TrainConfig(max_passes=1, window=64, batch_size=16, seed=3,
                                         derivation_mixing=mixing), augment=spy, quiet=True)
    return seen, net.state_dict()


def test_derivation_mixing_trains_on_mixtures_and_leaves_unmixed_runs_as_they_were() -> None:
    seen, _ = _inputs_seen_by_training(1.0, True)
    own, other = (band_powers(spectral_features(e)) for e in (eeg_epochs(300, seed=4), alpha_epochs(300, seed=5)))
    for x in seen:
        power = band_powers(x.astype(np.float64))
        # A mixture: every band power between the two derivations', and not one of them.
        low, high = np.minimum(own, other), np.maximum(own, other)
        assert np.all((power >= low * (1 - 1e-4)) & (power <= high * (1 + 1e-4)))
        assert not (np.allclose(power, own, rtol=1e-3, atol=0) or np.allclose(power, other, rtol=1e-3, atol=0))
    # Mixing off: the recordings as recorded, and the same random draws (so the same weights) as
    # recordings that carry no other derivation.
    seen_off, weights_off = _inputs_seen_by_training(0.0, True)
    seen_plain, weights_plain = _inputs_seen_by_training(0.0, False)
    for x, y in zip(seen_off, seen_plain):
        np.testing.assert_array_equal(x, y)
    for name in weights_off:
        torch.testing.assert_close(weights_off[name], weights_plain[name], rtol=0, atol=0)


def staged_epochs(labels: np.ndarray, seed: int) -> np.ndarray:
    """:func:`eeg_epochs` with a 1-Hz wave whose amplitude depends on the stage (N3 the largest)."""
    slow_uv = np.array([0.0, 10.0, 20.0, 60.0, 5.0])[labels]
    wave = np.sin(2 * np.pi * np.arange(3000) / 100)
    return eeg_epochs(len(labels), seed) + 1e-6 * slow_uv[:, None, None] * wave


def test_stage_centring_removes_the_recordings_offset_but_keeps_its_stage_mix() -> None:
    inputs = TrustedSpectralInputs(1, shrinkage_epochs=120, stage_centring=True)
    labels = night_labels(2400)
    fit_population(inputs, [spectral_features(staged_epochs(labels, 0)).astype(np.float32)], [labels])
    deep = np.full(600, 3)  # a recording of N3 only, 4 times louder than the population
    x = torch.from_numpy(spectral_features(4 * staged_epochs(deep, 1)).astype(np.float32))[None]
    width, delta, level = 5, 0, 4
    plain = inputs(x)[0].double()
    staged = inputs(x, torch.nn.functional.one_hot(torch.from_numpy(deep), 5)[None])[0].double()
    population_z = plain[:, :width].mean(dim=0)
    assert population_z[delta] > 1  # N3 has much more relative delta than the population
    shrink = 600 / 720
    # Centred on its own mean, the N3 recording loses most of its delta excess ...
    np.testing.assert_allclose(plain[:, width + delta].mean(), (1 - shrink) * population_z[delta], atol=0.05)
    # ... centred on the N3 population mean it keeps it, and only the loudness is removed.
    np.testing.assert_allclose(staged[:, width + delta].mean(), population_z[delta], atol=0.15)
    sd_level = float(inputs.population_sd[level])
    np.testing.assert_allclose(staged[:, width + level].mean(),
                               population_z[level] - shrink * 2 * np.log(4) / sd_level, atol=0.15)


def _with_muscle(epochs: np.ndarray, hit: np.ndarray, rms_volts: float = 10e-6, seed: int = 2) -> np.ndarray:
    """``epochs`` with 30-45 Hz noise of ``rms_volts`` added to the ``hit`` epochs (chin muscle)."""
    from scipy.signal import butter, sosfiltfilt

    noise = sosfiltfilt(butter(4, [30, 45], btype="bandpass", fs=100, output="sos"),
                        np.random.default_rng(seed).normal(0, 1, epochs.shape), axis=-1)
    return epochs + rms_volts * noise / noise.std() * hit[:, None, None]


def _at_50_hz(epochs: np.ndarray) -> np.ndarray:
    """``epochs`` as a file sampled at 50 Hz gives them once resampled to 100 Hz: nothing above 25 Hz."""
    from scipy.signal import resample_poly

    night = epochs.reshape(-1)
    return resample_poly(resample_poly(night, 1, 2), 2, 1)[:night.size].reshape(epochs.shape)


def _gated_inputs() -> TrustedSpectralInputs:
    inputs = TrustedSpectralInputs(1, high_frequency=True, muscle_gate=True, missing_gamma_gate=True)
    fit_population(inputs, [spectral_features(eeg_epochs(2400)).astype(np.float32)], [night_labels(2400)])
    return inputs


def test_the_gates_line_is_the_least_squares_optimum_of_the_lower_bands() -> None:
    inputs = _gated_inputs()
    v = inputs.trusted(torch.from_numpy(spectral_features(eeg_epochs(2400)).astype(np.float32))[None])[0]
    v = v[torch.from_numpy(trim_mask(night_labels(2400), POPULATION_TRIM))]
    relative = v[:, :5].numpy()  # delta, theta, alpha, beta, gamma relative to the level
    # Every lower band's relative power, alpha included, with the level and a constant: numpy's SVD
    # solver finds the smallest residual this rank-deficient design allows.
    design = np.column_stack([relative[:, :4], v[:, 5].numpy(), np.ones(len(v))])
    best, *_ = np.linalg.lstsq(design, relative[:, 4], rcond=None)
    residual = relative[:, 4] - inputs._gamma_predictors(v)[:, 0].numpy() @ inputs.gamma_fit[0].numpy()
    np.testing.assert_allclose(residual, relative[:, 4] - design @ best, atol=1e-9)
    assert float(inputs.gamma_residual_sd[0]) == pytest.approx(residual.std(ddof=1), rel=1e-9)


def test_the_muscle_gate_flags_added_30_45_hz_power_but_not_a_gain() -> None:
    inputs = _gated_inputs()
    epochs, hit = eeg_epochs(200, seed=1), np.arange(200) < 100

    def excess(signal: np.ndarray) -> np.ndarray:
        return inputs.gamma_excess(torch.from_numpy(spectral_features(signal).astype(np.float32))[None])[0].numpy()

    # Beyond what 99 % of the training epochs reach: about 1 % of like epochs, at any gain.
    assert np.mean(excess(epochs) > 0) < 0.05
    assert np.mean(excess(3 * epochs) > 0) < 0.05
    with_muscle = excess(_with_muscle(epochs, hit))
    assert np.all(with_muscle[hit] == 1)
    assert np.mean(with_muscle[~hit] > 0) < 0.05


def test_the_missing_gamma_gate_flags_a_50_hz_recording_but_not_a_gain_or_muscle() -> None:
    inputs = _gated_inputs()
    epochs = eeg_epochs(200, seed=1)

    def missing(signal: np.ndarray) -> np.ndarray:
        return inputs.gamma_missing(torch.from_numpy(spectral_features(signal).astype(np.float32))[None])[0].numpy()

    # Below what 99 % of the training epochs reach: about 1 % of like epochs, at any gain.
    assert np.mean(missing(epochs) > 0) < 0.05
    assert np.mean(missing(0.3 * epochs) > 0) < 0.05
    assert np.all(missing(_at_50_hz(epochs)) == 1)
    assert np.all(missing(_with_muscle(epochs, np.ones(200, bool))) == 0)


def test_the_distance_leaves_out_a_missing_gamma_and_nothing_else() -> None:
    inputs = _gated_inputs()
    epochs = eeg_epochs(300, seed=1)

    def distance(signal: np.ndarray) -> np.ndarray:
        return inputs.distance(torch.from_numpy(spectral_features(signal).astype(np.float32))[None])[0].numpy()

    def by_hand(signal: np.ndarray, bands: int) -> np.ndarray:
        # The RMS z-distance to the nearest stage over the first ``bands`` relative powers.
        v = inputs.trusted(torch.from_numpy(spectral_features(signal).astype(np.float32))[None])[0]
        z = ((inputs._relative_z(v)[:, None, :bands] - inputs.stage_mean[:, :bands])
             / inputs.stage_sd[:, :bands])
        return z.pow(2).mean(dim=-1).sqrt().amin(dim=-1).numpy()

    threshold = float(inputs.distance_threshold)
    fifty = _at_50_hz(epochs)
    np.testing.assert_allclose(distance(fifty), by_hand(fifty, 4), rtol=1e-5)
    # Counting the missing gamma put every epoch of a 50-Hz file beyond the training epochs' 99 %;
    # what is left is its beta's loss above 25 Hz, large in this 1/f noise.
    assert np.mean(by_hand(fifty, 5) > threshold) > 0.95
    assert np.mean(distance(fifty) > threshold) < 0.5
    # Where the gamma is there, it counts as before: muscle is still far, a clean epoch is not.
    assert np.mean(distance(epochs) > threshold) < 0.05
    hit = np.ones(300, bool)
    assert np.mean(distance(_with_muscle(epochs, hit, rms_volts=50e-6)) > threshold) > 0.9


def _gated_ensemble(**gate: bool | float) -> tuple[torch.nn.Module, torch.nn.Module, ProbabilityAverage]:
    """A network that reads gamma and a gamma-blind one, both built with ``gate`` and fitted on one
    night, and their ensemble."""
    torch.manual_seed(0)
    night = spectral_features(eeg_epochs(2400)).astype(np.float32)
    gated = build_network("spectral-robust", 1, **gate)
    blind = build_network("spectral-robust", 1, high_frequency=False, **gate)
    for member in (gated, blind):
        fit_population(member, [night], [night_labels(2400)])
    return gated, blind, ProbabilityAverage([gated, blind]).eval()


def test_an_ensemble_leaves_gated_epochs_to_its_gamma_blind_networks() -> None:
    gated, blind, ensemble = _gated_ensemble(muscle_gate=True)
    hit = np.arange(300) < 150
    x = torch.from_numpy(spectral_features(_with_muscle(eeg_epochs(300, seed=1), hit)).astype(np.float32))[None]
    with torch.no_grad():
        probs = ensemble(x).softmax(dim=-1)[0].numpy()
        own, blind_probs = gated(x).softmax(dim=-1)[0].numpy(), blind(x).softmax(dim=-1)[0].numpy()
        excess = ensemble.gamma_excess(x)[0].numpy()
    assert ensemble.reports_gamma_excess and np.all(excess[hit] == 1)
    assert np.all(blind.trust(x)[0].numpy() == 1)
    np.testing.assert_allclose(probs[hit], blind_probs[hit], atol=1e-3)
    calm = excess == 0
    assert calm.sum() > 100
    np.testing.assert_allclose(probs[calm], (own[calm] + blind_probs[calm]) / 2, atol=1e-5)
    # Without the option the networks average as before, and report nothing.
    plain = ProbabilityAverage([build_network("spectral-robust", 1), blind]).eval()
    assert not plain.reports_gamma_excess


def test_the_missing_gamma_temperature_rescales_only_epochs_whose_gamma_is_missing() -> None:
    gated, blind, ensemble = _gated_ensemble(missing_gamma_gate=True)
    clean = eeg_epochs(300, seed=1)
    shares = []
    with torch.no_grad():
        for signal in (_at_50_hz(clean), clean):
            x = torch.from_numpy(spectral_features(signal).astype(np.float32))[None]
            plain = ensemble(x)[0]
            missing = gated.inputs.gamma_missing(x)[0]
            ensemble.set_missing_gamma_temperature(0.8)
            sharpened = ensemble(x)[0]
            ensemble.set_missing_gamma_temperature(1.0)
            np.testing.assert_allclose(sharpened.numpy(),
                                       (plain / (1 - 0.2 * missing).unsqueeze(-1)).numpy(), rtol=1e-5)
            shares.append(float((missing == 1).float().mean()))
    # The 50-Hz file is sharpened by the whole factor, the clean one almost nowhere.
    assert shares[0] == 1 and shares[1] < 0.05


@pytest.mark.parametrize("weight", [None, 0.25])
def test_an_ensemble_weighs_its_gamma_reading_networks_down_on_a_50_hz_recording(weight: float | None) -> None:
    option = {} if weight is None else {"missing_gamma_weight": weight}
    gated, blind, ensemble = _gated_ensemble(missing_gamma_gate=True, **option)
    clean = eeg_epochs(300, seed=1)
    with torch.no_grad():
        for signal, gated_weight in ((_at_50_hz(clean), weight or MISSING_GAMMA_WEIGHT), (clean, 1.0)):
            x = torch.from_numpy(spectral_features(signal).astype(np.float32))[None]
            own, blind_probs = gated(x).softmax(dim=-1)[0].numpy(), blind(x).softmax(dim=-1)[0].numpy()
            expected = (gated_weight * own + blind_probs) / (gated_weight + 1)
            calm = gated.trust(x)[0][0].numpy() == gated_weight
            assert calm.sum() > 250
            np.testing.assert_allclose(ensemble(x).softmax(dim=-1)[0].numpy()[calm], expected[calm], atol=1e-5)
    # The gamma_excess output (the muscle warning) belongs to the muscle gate alone.
    assert not ensemble.reports_gamma_excess
