"""The raw-signal networks: shapes, ONNX parity, learning, and the papers' layer arithmetic."""

from __future__ import annotations

import ast
import math
import pkgutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import scipy.signal
torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import sleepscore.nets  # noqa: E402
from sleepscore.errors import UsageError  # noqa: E402
from sleepscore.nets import (ProbabilityAverage, UnknownArchitectureError, architecture_names,  # noqa: E402
                             build_network, get_architecture)
from sleepscore.nets.attnsleep import AttnSleep  # noqa: E402
from sleepscore.nets.deepsleepnet import DeepSleepNet  # noqa: E402
from sleepscore.nets.eegmobile import EEGMobile  # noqa: E402
from sleepscore.nets.layers import LogSpectrogram  # noqa: E402
from sleepscore.nets.mc2sleepnet import MC2SleepNet  # noqa: E402
from sleepscore.nets.tinysleepnet import TinySleepNet  # noqa: E402
from sleepscore.training.augment import shift_signal  # noqa: E402
from sleepscore.training.data import Night  # noqa: E402
from sleepscore.training.export import contract_metadata, export_onnx  # noqa: E402
from sleepscore.training.loop import PassPlan, TrainConfig, fit  # noqa: E402
from sleepscore.training.recipes import (RECIPES, get_recipe, info_nce,  # noqa: E402
                                         mc2sleepnet_pretrain_loss, two_step_hook)

NETWORKS: dict[str, Callable[[], nn.Module]] = {
    "deepsleepnet": DeepSleepNet,
    "tinysleepnet": TinySleepNet,
    "attnsleep": AttnSleep,
    "eegmobile": EEGMobile,
    "mc2sleepnet": MC2SleepNet,
}
FS = 100
# One sine frequency per stage: a structure every network can learn in a few steps.
STAGE_FREQUENCIES_HZ = (1.0, 3.0, 6.0, 11.0, 20.0)


def n_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def synthetic_batch(batch: int, seq: int, n_channels: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Epochs in volts whose stage is the frequency of a 40-µV sine under 10-µV noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(STAGE_FREQUENCIES_HZ), size=(batch, seq))
    t = np.arange(3000) / FS
    phase = rng.uniform(0, 2 * np.pi, size=(batch, seq, n_channels, 1))
    frequency = np.asarray(STAGE_FREQUENCIES_HZ)[y][..., None, None]
    x = 40e-6 * np.sin(2 * np.pi * frequency * t + phase) + 10e-6 * rng.standard_normal((batch, seq, n_channels, 3000))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


@pytest.mark.parametrize("name", NETWORKS)
def test_onnx_export_matches_torch_for_other_batch_and_seq(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = NETWORKS[name]().eval()
    night, _ = synthetic_batch(1, 3)
    metadata = contract_metadata(
        input_kind="raw", channels=["EEG Fpz-Cz"], architecture=name, trained_on={}, metrics={}
    )
    with warnings.catch_warnings():
        # The TorchScript exporter's deprecation and tracer warnings are expected here.
        warnings.simplefilter("ignore")
        path = export_onnx(model, tmp_path / f"{name}.onnx", metadata, night[0].numpy())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, seq in ((1, 5), (3, 2)):
        x, _ = synthetic_batch(batch, seq, seed=batch)
        (probs,) = session.run(["probs"], {"x": x.numpy()})
        with torch.no_grad():
            expected = model(x).softmax(dim=-1).numpy()
        assert probs.shape == (batch, seq, 5)
        np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(probs, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", ["features", "raw"])
def test_the_short_recording_temperature_acts_by_the_recording_length(kind: str) -> None:
    # A 30-min recording (60 epochs) gets two thirds of the temperature's effect, a 22-h one
    # (2640 epochs) 120 / 2760 of it: K = 1 h of epochs, whatever the input's shape.
    torch.manual_seed(0)
    member = build_network("spectral-bigru", 1) if kind == "features" else TinySleepNet()
    ensemble = ProbabilityAverage([member]).eval()
    for seq, share in ((60, 120 / 180), (2640, 120 / 2760)):
        x = torch.randn(1, seq, 9) if kind == "features" else synthetic_batch(1, seq)[0]
        with torch.no_grad():
            plain = ensemble(x)
            ensemble.set_short_recording_temperature(0.7)
            sharpened = ensemble(x)
            ensemble.set_short_recording_temperature(1.0)
        np.testing.assert_allclose(sharpened.numpy(), (plain / (1 - 0.3 * share)).numpy(), rtol=1e-5)
        # The stages stay those of the plain ensemble: one factor per recording.
        assert torch.equal(sharpened.argmax(-1), plain.argmax(-1))


@pytest.mark.parametrize("name", NETWORKS)
def test_sequences_of_a_batch_do_not_mix(name: str) -> None:
    # Folding [batch, seq] into one axis and back must keep each night's epochs together.
    torch.manual_seed(0)
    model = NETWORKS[name]().eval()
    x, _ = synthetic_batch(3, 4)
    with torch.no_grad():
        together = model(x)
        alone = model(x[1:2])
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-4)


def without_dropout(model: nn.Module) -> nn.Module:
    """Training mode (batch-norm on batch statistics) with every dropout switched off.

    Dropout of 0.5 makes a few-step loss curve too noisy to compare its ends; the test is
    about whether the architecture can learn, not about regularisation.
    """
    model.train()
    for module in model.modules():
        if isinstance(module, (nn.Dropout, nn.LSTM)):
            module.eval()
    if isinstance(model, MC2SleepNet):
        model.mask_ratio = 0.0
    return model


@pytest.mark.parametrize("name", NETWORKS)
def test_loss_decreases_in_a_few_steps(name: str) -> None:
    torch.manual_seed(0)
    model = without_dropout(NETWORKS[name]())
    x, y = synthetic_batch(2, 3)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_per_epoch_networks_ignore_neighbouring_epochs() -> None:
    # AttnSleep and EEGMobile classify one epoch at a time, as in their papers.
    torch.manual_seed(0)
    x, _ = synthetic_batch(1, 3)
    shuffled = x[:, [2, 0, 1]]
    for net in (AttnSleep().eval(), EEGMobile().eval()):
        with torch.no_grad():
            torch.testing.assert_close(net(shuffled), net(x)[:, [2, 0, 1]], atol=1e-5, rtol=1e-4)


def test_tinysleepnet_lstm_is_unidirectional() -> None:
    # The paper's LSTM is causal: an epoch's output must not change with later epochs.
    torch.manual_seed(0)
    net = TinySleepNet().eval()
    x, _ = synthetic_batch(1, 4)
    changed = x.clone()
    changed[:, 3] = 0.0
    with torch.no_grad():
        torch.testing.assert_close(net(changed)[:, :3], net(x)[:, :3])
        assert not torch.allclose(net(changed)[:, 3], net(x)[:, 3])


def test_log_spectrogram_equals_scipy() -> None:
    rng = np.random.default_rng(1)
    x = 30.0 * rng.standard_normal((2, 2, 3000)) + 7.0
    _, _, expected = scipy.signal.spectrogram(
        x, fs=FS, window="hann", nperseg=200, noverlap=150, detrend="constant", scaling="density", mode="psd"
    )
    power = LogSpectrogram(FS, 200, 150).power(torch.tensor(x, dtype=torch.float32)).numpy()
    assert power.shape == expected.shape
    np.testing.assert_allclose(power, expected, rtol=1e-3, atol=1e-4 * expected.max())


def conv_bn(in_channels: int, out_channels: int, kernel: int) -> int:
    """Bias-free convolution plus batch norm (scale and shift)."""
    return in_channels * out_channels * kernel + 2 * out_channels


def lstm(in_size: int, units: int) -> int:
    """One LSTM direction in PyTorch: 4 gates, input and recurrent weights, two biases."""
    return 4 * units * (in_size + units) + 2 * 4 * units


def test_tinysleepnet_has_the_papers_layers() -> None:
    # 3000 samples, stride 6 → 500, "SAME" pool 8 → 63, pool 4 → 16 steps of 128 filters.
    flattened = 128 * math.ceil(math.ceil(500 / 8) / 4)
    expected = conv_bn(1, 128, 50) + 3 * conv_bn(128, 128, 8) + lstm(flattened, 128) + 128 * 5 + 5
    assert n_parameters(TinySleepNet()) == expected


def test_deepsleepnet_has_the_papers_layers() -> None:
    small = conv_bn(1, 64, 50) + conv_bn(64, 128, 8) + 2 * conv_bn(128, 128, 8)
    large = conv_bn(1, 64, 400) + conv_bn(64, 128, 6) + 2 * conv_bn(128, 128, 6)
    # Small branch: 500 → pool 8 → pool 4 = 16 steps; large: 3000 / 50 = 60 → pool 4 → pool 2 = 8.
    features = 128 * math.ceil(math.ceil(500 / 8) / 4) + 128 * math.ceil(math.ceil(60 / 4) / 2)
    bilstm = 2 * lstm(features, 512) + 2 * lstm(2 * 512, 512)
    shortcut = features * 1024 + 2 * 1024
    heads = (features * 5 + 5) + (1024 * 5 + 5)
    assert n_parameters(DeepSleepNet()) == small + large + bilstm + shortcut + heads


def test_eegmobile_is_mobilenet_v3_large() -> None:
    # torchvision documents mobilenet_v3_large (3-channel stem, 1000 classes) at 5,483,032
    # parameters; here the stem takes 1 channel and the last layer has 5 outputs.
    torchvision_large = 5_483_032
    expected = torchvision_large - 16 * 2 * 3 * 3 - 1280 * (1000 - 5) - (1000 - 5)
    assert n_parameters(EEGMobile()) == expected


def test_attnsleep_size_is_the_papers() -> None:
    # Eldele et al. 2021 report about 0.51 M parameters.
    assert abs(n_parameters(AttnSleep()) - 0.51e6) < 0.01e6


def test_deepsleepnet_two_step_groups_cover_every_parameter_once() -> None:
    # A parameter in neither group would silently stay untrained during fine-tuning.
    net = DeepSleepNet()
    groups = [
        {id(p) for p in net.cnn_parameters()},
        {id(p) for p in net.sequence_parameters()},
        {id(p) for p in net.pretrain_head.parameters()},
    ]
    assert sum(len(g) for g in groups) == len(set().union(*groups)) == len(list(net.parameters()))


def test_info_nce_limits() -> None:
    n = 6
    # Embeddings that are all the same carry no pairing: every candidate is equally likely.
    same = torch.ones(n, 4)
    assert info_nce(same, same, temperature=0.1).item() == pytest.approx(math.log(n), rel=1e-5)
    # Orthogonal, perfectly paired embeddings: the right partner wins by 1/temperature = 100 nats.
    eye = torch.eye(n)
    assert info_nce(eye, eye, temperature=0.01).item() < 1e-6


def test_mc2sleepnet_pretrain_loss_decreases_and_frozen_backbones_stay_put() -> None:
    torch.manual_seed(0)
    net = MC2SleepNet().train()
    x, y = synthetic_batch(4, 5)
    y[0, 0] = -1
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        optimiser.zero_grad()
        loss = mc2sleepnet_pretrain_loss(net, x, y)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses

    net.freeze_backbones()
    net.train()
    backbone_before = [t.clone() for m in net.backbone_modules() for t in m.state_dict().values()]
    head_before = net.classifier[1].weight.clone()
    optimiser = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-3)
    optimiser.zero_grad()
    nn.functional.cross_entropy(net(x).flatten(0, 1), y.flatten(), ignore_index=-1).backward()
    optimiser.step()
    backbone_after = [t for m in net.backbone_modules() for t in m.state_dict().values()]
    # state_dict includes batch-norm running statistics, which must not move either.
    assert all(torch.equal(a, b) for a, b in zip(backbone_before, backbone_after, strict=True))
    assert not torch.equal(head_before, net.classifier[1].weight)


def synthetic_nights(n_nights: int, n_epochs: int) -> list[Night]:
    nights = []
    for i in range(n_nights):
        x, y = synthetic_batch(1, n_epochs, seed=10 + i)
        nights.append(Night(name=f"synthetic{i}", subject=str(i), x=x[0].numpy(), y=y[0].numpy()))
    return nights


@pytest.mark.parametrize("name", NETWORKS)
def test_registered_network_trains_in_the_shared_loop(name: str) -> None:
    architecture, recipe = get_architecture(name), get_recipe(name)
    assert architecture.input_kind == "raw"
    net = architecture.build(1)
    before = [p.detach().clone() for p in net.parameters()]
    result = fit(
        net,
        synthetic_nights(2, 6),
        [],
        TrainConfig(max_passes=1, window=3, batch_size=2),
        augment=recipe.augment,
        on_pass_start=recipe.on_pass_start,
        training_loss=recipe.training_loss,
        quiet=True,
    )
    assert np.isfinite(result.history[0]["loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_deepsleepnet_two_steps_in_the_shared_loop() -> None:
    hook = two_step_hook()
    seen: dict[str, object] = {}

    def spy(model: nn.Module, pass_number: int, optimizer: torch.optim.Optimizer, max_passes: int) -> PassPlan:
        plan = hook(model, pass_number, optimizer, max_passes)
        seen[f"lrs{pass_number}"] = sorted(group["lr"] for group in optimizer.param_groups)
        if pass_number == 2:
            seen["lstm_after_pretraining"] = model.bilstm.weight_ih_l0.detach().clone()
        return plan

    net = DeepSleepNet()
    lstm_initial = net.bilstm.weight_ih_l0.detach().clone()
    # 3 passes: 1 of pre-training, 2 of fine-tuning (the paper's 1:2 split).
    fit(net, synthetic_nights(2, 4), [], TrainConfig(max_passes=3, window=2, batch_size=2),
        on_pass_start=spy, quiet=True)
    # Step 1 trains only the CNN and its per-epoch head; the BiLSTM waits for step 2.
    assert torch.equal(seen["lstm_after_pretraining"], lstm_initial)
    assert not torch.equal(net.bilstm.weight_ih_l0, lstm_initial)
    assert seen["lrs1"] == [1e-4]
    assert seen["lrs2"] == seen["lrs3"] == [1e-6, 1e-4]
    assert not net.pretraining


# Imbalanced stages, as in real nights: W dominates, N1 and N3 are rare; one unscored epoch.
_STAGE_RUN = [0] * 14 + [1] * 2 + [2] * 6 + [3] + [4] * 3 + [-1]


@pytest.fixture(scope="module")
def deepsleepnet_run() -> dict[str, object]:
    """One short DeepSleepNet run through the registered hook (1 pre-training + 2 fine-tuning
    epochs), recording every training forward pass, gradient clip and what was kept.

    Sample 0 of each training epoch carries its ``night * 1000 + t`` (in nanovolts, within the
    noise) so that a batch tells which epochs it holds; validation kappas are scripted so that
    pre-training scores best.
    """
    import sleepscore.training.loop as loop

    rng = np.random.default_rng(0)
    nights = []
    for i in range(3):
        y = np.array(_STAGE_RUN * 3)  # 81 epochs: 4 windows of 25 per night, 12 in all
        x = 20e-6 * rng.standard_normal((len(y), 1, 3000)).astype(np.float32)
        x[:, 0, 0] = (i * 1000 + np.arange(len(y))) * 1e-9
        nights.append(Night(name=f"raw{i}", subject=str(i), x=x, y=y))
    val = [Night(name="val", subject="9", x=nights[0].x[:5], y=nights[0].y[:5])]
    net = DeepSleepNet(lstm_units=8)
    calls: list[tuple[bool, tuple[int, ...], np.ndarray]] = []
    clips: list[tuple[bool, float]] = []
    forward, clip = net.forward, torch.nn.utils.clip_grad_norm_

    def spy_forward(x: torch.Tensor) -> torch.Tensor:
        if net.training:
            ids = np.rint(x[:, :, 0, 0].detach().numpy() * 1e9).astype(int)
            calls.append((bool(net.pretraining), tuple(x.shape), ids))
        return forward(x)

    def spy_clip(parameters, max_norm, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        clips.append((bool(net.pretraining), max_norm))
        return clip(parameters, max_norm, *args, **kwargs)

    kappas = iter([0.9, 0.1, 0.2])  # pre-training's epoch scores best on validation
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(net, "forward", spy_forward)
        patch.setattr(torch.nn.utils, "clip_grad_norm_", spy_clip)
        patch.setattr(loop, "_validation_kappa", lambda model, val_nights, short_recordings: next(kappas))
        recipe = get_recipe("deepsleepnet")
        result = fit(net, nights, val, TrainConfig(max_passes=3, patience=5),
                     on_pass_start=recipe.on_pass_start, quiet=True)
    return {"nights": nights, "calls": calls, "clips": clips, "result": result, "net": net}


def test_deepsleepnet_pretrains_on_class_balanced_single_epochs(deepsleepnet_run: dict) -> None:
    nights = deepsleepnet_run["nights"]
    pretraining = [(shape, ids) for pre, shape, ids in deepsleepnet_run["calls"] if pre]
    assert pretraining
    assert all(shape[1] == 1 and shape[0] <= 100 for shape, _ in pretraining)
    assert pretraining[0][0][0] == 100
    ids = np.concatenate([ids.ravel() for _, ids in pretraining])
    stages = np.array([nights[j // 1000].y[j % 1000] for j in ids])
    counts = np.bincount(stages, minlength=5)
    assert (counts == counts[0]).all() and counts[0] == 3 * _STAGE_RUN.count(0) * 3
    labelled = {i * 1000 + t for i, n in enumerate(nights) for t in np.flatnonzero(n.y != -1)}
    assert set(ids.tolist()) == labelled


def test_deepsleepnet_finetunes_on_batches_of_ten_sequences_of_25_epochs(deepsleepnet_run: dict) -> None:
    finetuning = [shape for pre, shape, _ in deepsleepnet_run["calls"] if not pre]
    assert finetuning
    assert all(shape[1] == 25 and shape[0] <= 10 for shape in finetuning)
    # 12 windows per fine-tuning epoch: a batch of 10, then the remaining 2, twice.
    assert [shape[0] for shape in finetuning] == [10, 2, 10, 2]


def test_deepsleepnet_clips_gradients_at_ten_in_finetuning_only(deepsleepnet_run: dict) -> None:
    clips = deepsleepnet_run["clips"]
    assert clips and all(not pre and max_norm == 10.0 for pre, max_norm in clips)
    assert len(clips) == 4  # one per fine-tuning step


def test_deepsleepnet_keeps_a_finetuning_epoch_even_if_pretraining_validates_better(
        deepsleepnet_run: dict) -> None:
    result = deepsleepnet_run["result"]
    assert [row["selectable"] for row in result.history] == [False, True, True]
    assert result.best_pass == 3 and result.best_val_kappa == 0.2
    assert not deepsleepnet_run["net"].pretraining


def test_tinysleepnet_shift_is_a_shift_of_the_whole_night_within_a_tenth_of_an_epoch() -> None:
    x, _ = synthetic_batch(1, 5, n_channels=2)
    night = x[0].numpy()
    continuous = np.concatenate(list(night), axis=1)
    for seed in range(5):
        shifted = shift_signal(night, np.random.default_rng(seed))
        assert shifted.shape == night.shape
        joined = np.concatenate(list(shifted), axis=1)
        matches = [s for s in range(-300, 301) if np.array_equal(joined, np.roll(continuous, s, axis=1))]
        assert len(matches) == 1


def test_networks_see_the_edf_microvolts_when_given_mne_volts(sleep_edf_dir: Path) -> None:
    # The contract feeds volts (what MNE returns); the papers trained on the µV the EDF stores.
    import mne
    import pyedflib

    from sleepscore.nets.layers import to_microvolts

    path = sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf"
    volts = mne.io.read_raw_edf(path, include=["EEG Fpz-Cz"], verbose="error").get_data()[0]
    with pyedflib.EdfReader(str(path)) as edf:
        index = edf.getSignalLabels().index("EEG Fpz-Cz")
        assert edf.getPhysicalDimension(index) == "uV"
        stored = edf.readSignal(index)
    converted = to_microvolts(torch.tensor(volts, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(converted, stored, rtol=1e-9, atol=1e-9)


def test_mc2sleepnet_trains_with_infonce_in_the_shared_loop_until_its_backbones_freeze(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sleepscore.training.recipes as recipes

    calls = []
    original = recipes.info_nce

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(recipes, "info_nce", spy)
    net = MC2SleepNet()
    hook = recipes.freeze_backbones_hook(1)
    per_pass = []

    def count(model: nn.Module, pass_number: int, optimizer: torch.optim.Optimizer, max_passes: int) -> None:
        per_pass.append(len(calls))
        hook(model, pass_number, optimizer, max_passes)

    fit(net, synthetic_nights(2, 4), [], TrainConfig(max_passes=2, window=2, batch_size=2),
        on_pass_start=count, training_loss=recipes.mc2sleepnet_loss, quiet=True)
    in_stage_one = per_pass[1] - per_pass[0]
    in_stage_two = len(calls) - per_pass[1]
    assert in_stage_one > 0  # the contrastive term is part of stage 1's loss
    assert in_stage_two == 0 and net.backbones_frozen  # stage 2: cross-entropy only


NETS_MODULES = ["sleepscore.nets",
                *(f"sleepscore.nets.{m.name}" for m in pkgutil.iter_modules(sleepscore.nets.__path__))]


@pytest.mark.parametrize("module", NETS_MODULES)
def test_nets_modules_import_no_other_part_of_the_package(module: str) -> None:
    # The networks are plain modules: torch, numpy, the stage constants and one another, nothing
    # of training, errors, I/O or the pipeline (the recipes in sleepscore.training hold the rest).
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'sleepscore'))"
    loaded = ast.literal_eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                             check=True).stdout.strip())
    assert module in loaded
    assert [m for m in loaded if m not in ("sleepscore", "sleepscore.stages")
            and m.split(".")[:2] != ["sleepscore", "nets"]] == []


def test_every_network_has_a_recipe_and_an_unknown_name_is_a_usage_error() -> None:
    assert sorted(RECIPES) == architecture_names()
    message = r"unknown architecture 'nope'; known: attnsleep, deepsleepnet, eegmobile, mc2sleepnet, "
    with pytest.raises(UnknownArchitectureError, match=message):
        get_architecture("nope")
    with pytest.raises(UsageError, match=message):
        get_recipe("nope")
