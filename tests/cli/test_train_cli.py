"""``sleepscore train`` on PSG files: the raw-file path reads, epochs, trains and exports a model
that ``predict``/``evaluate`` then use. Simulated nights stand in for the real PSG files, which
these machines lack; nothing here measures accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sleepscore.cli import cli
from sleepscore.model import SleepModel

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory, sleep_edf_dir) -> Path:
    from sleepscore.simulate import load_reference, simulate_dataset

    folder = tmp_path_factory.mktemp("sim")
    simulate_dataset(folder, 6, seed=3, hours=1.0, reference=load_reference(sleep_edf_dir))
    return folder


def invoke(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


class StopTraining(Exception):
    """Ends a train run once its members' tasks are known."""


def stop_at_member_tasks(monkeypatch) -> list:  # noqa: ANN001
    """The list that a train run's member tasks are put in before it stops with StopTraining."""
    import sleepscore.training.api as api

    seen: list = []

    def stop(tasks, jobs):  # noqa: ANN001, ANN202
        seen.extend(tasks)
        raise StopTraining

    monkeypatch.setattr(api, "_train_members", stop)
    return seen


def test_train_sleep_edf20_from_local_files_exports_a_contract_model(simulated, tmp_path):
    out = tmp_path / "bigru.onnx"
    result = invoke("train", "--dataset", "sleep-edf20", "--subjects", "0-2", "--data-dir", simulated,
                    "--channels", "EEG Fpz-Cz,EEG Pz-Oz", "--epochs", "2", "--val-subjects", "1",
                    "--test-subjects", "2", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    model = SleepModel(out)
    assert model.info.channels == ["EEG Fpz-Cz", "EEG Pz-Oz"]
    assert model.info.trained_on["test_subjects"] == ["02"]
    assert model.info.trained_on["dataset"] == "sleep-edf20"
    assert model.info.trained_on["simulated_recordings"] == model.info.trained_on["recordings"] == 6
    card = out.with_suffix(".md").read_text()
    assert card.split("\n")[2].startswith("**Simulated data.**")
    # The population and limits of a Sleep-EDF-shaped dataset survive the simulation flag.
    assert "the PSG signals of 2 nights laid out as Sleep-EDF-20" in card and "Population: healthy adults" in card
    assert "- Data: simulated recordings" in card
    from sleepscore.model_card import limits, training_line

    assert "SIMULATED: 6 of 6 recordings" in training_line(model.info)
    assert any("were simulated" in line for line in limits(model.info))
    assert model.info.trained_on["val_subjects"] == ["01"]
    assert set(model.info.trained_on["train_nights"]) == {"SC4001E0", "SC4002E0"}
    assert {"30min", "whole"} <= set(model.info.metrics)
    for suffix in (".log", ".json", ".md"):
        assert out.with_suffix(suffix).is_file()
    report = tmp_path / "eval.json"
    evaluated = invoke("evaluate", simulated, "--model", out, "--report", report, "-q")
    assert evaluated.exit_code == 0, evaluated.output
    assert len(json.loads(report.read_text())["nights"]) == 6


def test_train_raw_network_on_a_folder(simulated, tmp_path):
    out = tmp_path / "tiny.onnx"
    result = invoke("train", "--dataset", "folder", "--data-dir", simulated, "--arch", "tinysleepnet",
                    "--passes", "1", "--val-subjects", "", "--test-subjects", "2", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    model = SleepModel(out)
    assert model.info.input == "raw" and model.info.channels == ["EEG Fpz-Cz"]


def test_train_refuses_contradictory_options(simulated, tmp_path):
    out = tmp_path / "m.onnx"
    both = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", simulated, "--cv", "2",
                  "--test-subjects", "1", "-o", out)
    assert both.exit_code == 2 and "--cv" in both.output
    folder_subjects = invoke("train", "--dataset", "folder", "--data-dir", simulated,
                             "--subjects", "1", "-o", out)
    assert folder_subjects.exit_code == 2 and not out.exists()


def test_transition_prior_and_card_notes_reach_the_model(sleep_edf_dir, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("## What each lever gave\n\nmeasured elsewhere\n")
    out = tmp_path / "prior.onnx"
    result = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", sleep_edf_dir,
                    "--epochs", "1", "--val-subjects", "", "--test-subjects", "7",
                    "--transition-prior", sleep_edf_dir / "hypnograms-sc78", "--card-notes", notes,
                    "-o", out, "-q")
    assert result.exit_code == 0, result.output
    prior = json.loads(out.with_suffix(".json").read_text())["options"]["transition_prior"]
    assert len(prior) == 5 and all(abs(sum(row) - 1) < 1e-9 for row in prior)
    # stages persist: staying in a stage is the most likely next epoch for every stage
    assert all(row[i] == max(row) for i, row in enumerate(prior))
    assert "measured elsewhere" in out.with_suffix(".md").read_text()
    raw = invoke("train", "--dataset", "folder", "--data-dir", tmp_path, "--arch", "tinysleepnet",
                 "--transition-prior", sleep_edf_dir / "hypnograms-sc78", "-o", tmp_path / "x.onnx")
    assert raw.exit_code == 2 and "--transition-prior applies to" in raw.output


def test_evaluate_named_dataset_from_local_files(simulated, tmp_path):
    report = tmp_path / "eval.json"
    result = invoke("evaluate", "--dataset", "sleep-edf20", "--subjects", "1-2", "--data-dir", simulated,
                    "--trim", "30min", "--report", report, "-q")
    assert result.exit_code == 0, result.output
    content = json.loads(report.read_text())
    assert [n["night"] for n in content["nights"]] == ["SC4011E0", "SC4012E0", "SC4021E0", "SC4022E0"]
    assert content["protocol"] == "30min"


def test_epochs_default_to_the_architectures_own_length():
    from sleepscore.training.api import resolve_passes

    help_text = " ".join(invoke("train", "--help").output.split())
    assert "[default: the architecture's own: 300 for deepsleepnet" in help_text
    assert "60 for the others" in help_text
    # DeepSleepNet's paper schedule is 100 pre-training + 200 fine-tuning epochs.
    assert resolve_passes("deepsleepnet", None) == 300
    assert resolve_passes("tinysleepnet", None) == resolve_passes("spectral-bigru", None) == 60
    assert resolve_passes("deepsleepnet", 30) == 30


def test_train_without_epochs_runs_deepsleepnet_for_its_300(monkeypatch):
    import numpy as np

    import sleepscore.training.api as api
    from sleepscore.training.data import Night

    seen = []

    class Stop(Exception):
        """Ends the run once its configuration is known, before the 300 epochs themselves."""

    def stop(tasks, jobs):  # noqa: ANN001, ANN202
        seen.append(tasks[0].config.max_passes)
        raise Stop

    monkeypatch.setattr(api, "_train_members", stop)
    night = Night(name="n", subject="00", x=np.zeros((3, 1, 3000), np.float32), y=np.zeros(3, int))
    for passes, expected in ((None, 300), (30, 30)):
        with pytest.raises(Stop):
            api.train_model("raw", nights=[night], channels=["EEG Fpz-Cz"], arch="deepsleepnet",
                            val_subjects=[], passes=passes, quiet=True)
        assert seen.pop() == expected


def test_member_validation_own_gives_each_member_another_validation_subject(sleep_edf_dir, tmp_path,
                                                                             monkeypatch):
    seen = stop_at_member_tasks(monkeypatch)
    result = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", sleep_edf_dir,
                    "--arch", "spectral-robust", "--members", "3", "--member-validation", "own",
                    "--test-subjects", "7", "-o", tmp_path / "own.onnx", "-q")
    assert isinstance(result.exception, StopTraining)
    vals = [{n.subject for n in task.val} for task in seen]
    assert len(vals) == 3 and all(len(v) == 1 for v in vals) and len(set.union(*vals)) == 3
    for task, val in zip(seen, vals):
        trained = {n.subject for n in task.train}
        assert not trained & (val | {"07"}) and trained | val | {"07"} == {f"0{s}" for s in range(8)}
    refused = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", sleep_edf_dir,
                     "--members", "2", "--member-validation", "own", "--val-subjects", "6",
                     "-o", tmp_path / "refused.onnx")
    assert refused.exit_code != 0 and "--val-subjects" in refused.output
    assert "Traceback" not in refused.output


def test_arch_options_reach_the_network_and_the_exported_graph(sleep_edf_dir, tmp_path):
    import numpy as np
    import torch

    from sleepscore.training.api import load_checkpoint
    from sleepscore.training.feature_files import load_feature_nights

    out = tmp_path / "adapted.onnx"
    result = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", sleep_edf_dir,
                    "--arch", "spectral-robust", "--arch-option", "adapt_passes=1",
                    "--arch-option", "hidden=16", "--epochs", "1", "--val-subjects", "",
                    "--test-subjects", "7", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(out.with_suffix(".json").read_text())["options"] == {"adapt_passes": 1, "hidden": 16}
    network = load_checkpoint(out.with_suffix(".pt"))
    assert network.members[0].adapt_passes == 1 and network.members[0].gru.hidden_size == 16
    night = load_feature_nights(sleep_edf_dir, ["EEG Fpz-Cz", "EEG Pz-Oz"])[0]
    with torch.no_grad():
        expected = torch.softmax(network(torch.from_numpy(night.x[:300])[None])[0], dim=-1).numpy()
    # The second, recentred pass is part of the exported graph, not only of the torch network.
    np.testing.assert_allclose(SleepModel(out).predict_proba(night.x[:300]), expected, atol=1e-4)


def test_an_unknown_arch_option_is_refused_by_name(tmp_path):
    result = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", tmp_path,
                    "--arch", "spectral-robust", "--arch-option", "widht=3", "-o", tmp_path / "m.onnx")
    assert result.exit_code != 0 and "--arch-option widht" in result.output
    assert "hidden" in result.output and not (tmp_path / "m.onnx").exists()


def test_derivation_mixing_reaches_every_member_and_needs_any_eeg(sleep_edf_dir, tmp_path, monkeypatch):
    seen = stop_at_member_tasks(monkeypatch)
    result = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", sleep_edf_dir,
                    "--arch", "spectral-robust", "--any-eeg", "--derivation-mixing", "0.5",
                    "--test-subjects", "7", "-o", tmp_path / "mixed.onnx", "-q")
    assert isinstance(result.exception, StopTraining)
    assert seen and all(task.config.derivation_mixing == 0.5 for task in seen)
    # Each one-channel recording carries the night's other derivation to be mixed with.
    assert all(n.other_derivations is not None and n.other_derivations.shape == (len(n.y), 1, 9)
               for task in seen for n in task.train)
    refused = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", sleep_edf_dir,
                     "--derivation-mixing", "0.5", "-o", tmp_path / "refused.onnx")
    assert refused.exit_code == 2 and "--any-eeg" in refused.output and "Traceback" not in refused.output


def test_member_options_build_that_member_alone_and_survive_checkpoint_and_export(sleep_edf_dir, tmp_path):
    import numpy as np
    import torch

    from sleepscore.training.api import load_checkpoint
    from sleepscore.training.feature_files import load_feature_nights

    out = tmp_path / "mixed-trust.onnx"
    result = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", sleep_edf_dir,
                    "--arch", "spectral-robust", "--arch-option", "hidden=16", "--members", "2",
                    "--member-option", "2:high_frequency=false", "--epochs", "1", "--val-subjects", "",
                    "--test-subjects", "7", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(out.with_suffix(".json").read_text())["member_options"] == [{}, {"high_frequency": False}]
    assert "network 2 with `high_frequency=false`" in out.with_suffix(".md").read_text()
    network = load_checkpoint(out.with_suffix(".pt"))
    assert [m.inputs.high_frequency for m in network.members] == [True, False]
    assert all(m.gru.hidden_size == 16 for m in network.members)
    night = load_feature_nights(sleep_edf_dir, ["EEG Fpz-Cz", "EEG Pz-Oz"])[0]
    with torch.no_grad():
        expected = torch.softmax(network(torch.from_numpy(night.x[:300])[None])[0], dim=-1).numpy()
        # The second member does not read gamma: changing it moves the first member only.
        louder_gamma = night.x[:300].copy()
        louder_gamma[:, [4, 13]] += 3.0
        members = [m(torch.from_numpy(x)[None]) for x in (night.x[:300], louder_gamma) for m in network.members]
    assert (members[0] - members[2]).abs().max() > 1e-3
    torch.testing.assert_close(members[1], members[3])
    np.testing.assert_allclose(SleepModel(out).predict_proba(night.x[:300]), expected, atol=1e-4)
    for bad, message in ((("3:hidden=8",), "from 1 to --members (2)"), (("2:widht=8",), "--member-option widht")):
        refused = invoke("train", "--dataset", "sleep-edf20-features", "--data-dir", sleep_edf_dir,
                         "--arch", "spectral-robust", "--members", "2", "--member-option", *bad,
                         "-o", tmp_path / "refused.onnx")
        assert refused.exit_code == 2 and message in refused.output and "Traceback" not in refused.output
