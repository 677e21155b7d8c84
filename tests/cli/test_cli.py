"""End-to-end tests of the command line: real files from ../shared where they exist, generated
EDFs and small generated ONNX models elsewhere."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edf_factory import Channel, sine, sleep_edf_like, write_psg
from onnx_factory import contract_metadata, write_linear_model
from sleepscore.cli import cli

CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz"]


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def read_table(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if not row["epoch"].startswith("#")]


@pytest.fixture
def linear_model(tmp_path) -> Path:
    weights = np.random.default_rng(3).normal(size=(18, 5))
    return write_linear_model(tmp_path / "linear.onnx", weights, contract_metadata(CHANNELS))


def test_features_reproduce_the_reference_features_of_a_real_night(tmp_path, sleep_edf_dir):
    out = tmp_path / "features.csv"
    result = run("features", sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf", "-o", out)
    assert result.exit_code == 0, result.output
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    reference = np.load(sleep_edf_dir / "features" / "SC4001E0.npz")["X"][:10, :18]
    assert table.shape == (10, 20)
    np.testing.assert_array_equal(table[:, 1], np.arange(10) * 30.0)
    np.testing.assert_allclose(table[:, 2:], reference, rtol=0, atol=1e-12)


def test_predict_real_excerpt_with_expert_hypnogram(tmp_path, sleep_edf_dir):
    out, metrics = tmp_path / "hypno.csv", tmp_path / "m.json"
    result = run("predict", sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf",
                 "--hypnogram", sleep_edf_dir / "hypnograms" / "SC4001EC-Hypnogram.edf",
                 "-o", out, "--metrics-json", metrics)
    assert result.exit_code == 0, result.output
    rows = read_table(out)
    assert len(rows) == 10
    assert rows[0]["onset_time"] == "1989-04-24T16:13:00"
    assert {row["expert"] for row in rows} == {"W"}
    report = json.loads(metrics.read_text())
    assert report["agreement"]["n_epochs"] == 10
    assert report["agreement"]["per_class"]["W"]["support"] == 10
    # the excerpt is quiet wake from the start of the recording: the shipped model must see it
    assert sum(row["stage"] == "W" for row in rows) >= 8


@pytest.fixture
def soft_model(tmp_path):
    """A linear model with small weights: confidences that differ from epoch to epoch."""
    weights = np.random.default_rng(3).normal(size=(18, 5)) * 0.05
    return write_linear_model(tmp_path / "soft.onnx", weights, contract_metadata(CHANNELS))


def noisy_psg(path: Path, epochs: int) -> Path:
    """Two EEG channels whose noise grows epoch by epoch, so that each epoch's features differ."""
    samples = 3000 * epochs
    noise = np.random.default_rng(5).normal(size=(2, samples)) * np.repeat(np.geomspace(1, 300, epochs), 3000)
    return write_psg(path, [Channel("EEG Fpz-Cz", sine(100, 30 * epochs, 10, 30) + noise[0], 100),
                            Channel("EEG Pz-Oz", sine(100, 30 * epochs, 3, 60) + noise[1], 100)])


def test_predict_reports_the_agreement_its_confidence_expects(tmp_path, soft_model):
    """The expected agreement printed and written to the metrics JSON is the mean of the
    confidence column the same run wrote, not some other summary of the probabilities."""
    psg = noisy_psg(tmp_path / "night.edf", 20)
    out, metrics = tmp_path / "night.csv", tmp_path / "m.json"
    result = run("predict", psg, "-o", out, "--model", soft_model, "--metrics-json", metrics)
    assert result.exit_code == 0, result.output
    confidence = np.array([float(row["confidence"]) for row in read_table(out)])
    expected = json.loads(metrics.read_text())["expected_accuracy"]
    assert expected == pytest.approx(confidence.mean(), abs=1e-4)
    assert confidence.min() < expected < confidence.max()
    assert f"expected agreement with an expert: {expected:.0%}" in " ".join(result.output.split())


def test_evaluate_sets_the_expected_accuracy_of_the_compared_epochs_against_the_measured(tmp_path, soft_model):
    """Per night, the confidence's expected accuracy covers the epochs the agreement compares
    (an unscored one left out), and the pooled figure weighs nights by those epochs."""
    stages = {"a": ["W", "N2", "N2", "N3", "N3", "R", "W", "W"], "b": ["W", "N2", "?", "N2", "W", "W"]}
    confidences = {}
    (tmp_path / "scored").mkdir()
    for name, labels in stages.items():
        psg = noisy_psg(tmp_path / f"{name}.edf", len(labels))
        (tmp_path / f"{name}.tsv").write_text("onset\tduration\tdescription\n" + "".join(
            f"{30 * i}\t30\t{stage}\n" for i, stage in enumerate(labels)))
        scored = tmp_path / "scored" / f"{name}.csv"
        assert run("predict", psg, "-o", scored, "--model", soft_model).exit_code == 0
        confidence = np.array([float(row["confidence"]) for row in read_table(scored)])
        confidences[name] = confidence[[label != "?" for label in labels]]
    report, per_night = tmp_path / "eval.json", tmp_path / "nights.csv"
    result = run("evaluate", tmp_path, "--model", soft_model, "--report", report, "--csv", per_night)
    assert result.exit_code == 0, result.output
    content = json.loads(report.read_text())
    nights = {n["night"]: n for n in content["nights"]}
    for name, confidence in confidences.items():
        assert nights[name]["expected_accuracy"] == pytest.approx(confidence.mean(), abs=1e-4)
    pooled = np.concatenate(list(confidences.values())).mean()
    assert content["expected_accuracy"] == pytest.approx(pooled, abs=1e-4)
    rows = {row["night"]: row for row in csv.DictReader(per_night.open())}
    assert float(rows["b"]["expected_accuracy"]) == pytest.approx(confidences["b"].mean(), abs=1e-4)
    assert f"expected {pooled:.1%}" in " ".join(result.output.split())


def test_predict_writes_argmax_and_probabilities_of_the_model(tmp_path, linear_model):
    seconds = 30 * 12 + 10
    psg = write_psg(tmp_path / "night.edf", [Channel("EEG Fpz-Cz", sine(100, seconds, 10, 30), 100),
                                             Channel("EEG Pz-Oz", sine(100, seconds, 3, 60), 100)])
    out = tmp_path / "night.csv"
    result = run("predict", psg, "-o", out, "--model", linear_model)
    assert result.exit_code == 0, result.output
    assert "10 s do not fill" in result.output  # the trailing partial epoch is reported
    rows = read_table(out)
    assert [int(r["epoch"]) for r in rows] == list(range(12))
    probs = np.array([[float(r[f"p_{s}"]) for s in ["W", "N1", "N2", "N3", "REM"]] for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-3)
    stages = ["W", "N1", "N2", "N3", "REM"]
    assert [r["stage"] for r in rows] == [stages[i] for i in probs.argmax(axis=1)]
    assert rows[1]["onset_time"] == "2021-03-04T22:16:00"  # START of edf_factory + 30 s
    assert "TST" in out.read_text()  # sleep statistics follow the table


def test_predict_edf_output_opens_in_mne(tmp_path, linear_model):
    import mne

    psg = sleep_edf_like(tmp_path / "night.edf", seconds=300)
    out = tmp_path / "night-hypnogram.edf"
    assert run("predict", psg, "-o", out, "--model", linear_model).exit_code == 0
    annotations = mne.read_annotations(out)
    assert annotations.duration.sum() == pytest.approx(300)
    assert all(d.startswith("Sleep stage") for d in annotations.description)


def test_channels_override_and_missing_channel_message(tmp_path, linear_model):
    psg = write_psg(tmp_path / "c4.edf", [Channel("C4-A1", sine(100, 90, 10, 30), 100),
                                           Channel("O2-A1", sine(100, 90, 6, 30), 100)])
    out = tmp_path / "out.csv"
    missing = run("predict", psg, "-o", out, "--model", linear_model)
    assert missing.exit_code == 1
    assert "C4-A1" in missing.output and "O2-A1" in missing.output  # lists what the file has
    assert "Traceback" not in missing.output and not out.exists()
    override = run("predict", psg, "-o", out, "--model", linear_model, "--channels", "c4-a1, O2-A1")
    assert override.exit_code == 0, override.output
    assert len(read_table(out)) == 3


def test_usage_errors_exit_2_and_outputs_are_not_overwritten(tmp_path, linear_model):
    psg = sleep_edf_like(tmp_path / "night.edf", seconds=120)
    out = tmp_path / "night.csv"
    out.write_text("previous result\n")
    result = run("predict", psg, "-o", out, "--model", linear_model)
    assert result.exit_code == 2 and "--force" in result.output
    assert out.read_text() == "previous result\n"
    assert run("predict", psg, "-o", out, "--model", linear_model, "--force").exit_code == 0
    assert len(read_table(out)) == 4
    assert run("evaluate").exit_code == 2


def write_night(folder: Path, name: str, stages: list[str]) -> None:
    seconds = 30 * len(stages)
    write_psg(folder / f"{name}.edf", [Channel("EEG Fpz-Cz", sine(100, seconds, 10, 30), 100),
                                      Channel("EEG Pz-Oz", sine(100, seconds, 3, 60), 100)])
    (folder / f"{name}.tsv").write_text(
        "onset\tduration\tdescription\n"
        + "".join(f"{30 * i}\t30\t{stage}\n" for i, stage in enumerate(stages)))


def test_evaluate_folder_per_night_pooled_and_reports(tmp_path, linear_model):
    data = tmp_path / "data"
    data.mkdir()
    write_night(data, "a", ["W", "W", "N1", "N2", "N2", "N3", "R", "W"])
    write_night(data, "b", ["W", "N2", "N2", "N2", "?", "W"])
    report, per_night = tmp_path / "eval.json", tmp_path / "nights.csv"
    result = run("evaluate", data, "--model", linear_model, "--report", report, "--csv", per_night)
    assert result.exit_code == 0, result.output
    content = json.loads(report.read_text())
    assert content["protocol"] == "none"
    nights = {n["night"]: n for n in content["nights"]}
    assert nights["a"]["agreement"]["n_epochs"] == 8
    assert nights["b"]["agreement"]["n_epochs"] == 5  # the '?' epoch is excluded
    pooled = np.array(content["summary"]["pooled"]["confusion"])
    summed = sum(np.array(n["agreement"]["confusion"]) for n in nights.values())
    np.testing.assert_array_equal(pooled, summed)
    rows = list(csv.DictReader(per_night.open()))
    assert [r["night"] for r in rows] == ["a", "b"] and rows[0]["protocol"] == "none"
    in_pool = tmp_path / "eval-jobs2.json"
    result = run("evaluate", data, "--model", linear_model, "--report", in_pool, "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert json.loads(in_pool.read_text()) == content


def test_evaluate_goes_on_after_a_bad_night_and_exits_1(tmp_path, linear_model):
    data = tmp_path / "data"
    data.mkdir()
    write_night(data, "good", ["W", "N2", "N2", "W"])
    write_night(data, "bad", ["W", "N2", "N2", "W"])
    (data / "bad.tsv").write_text("onset\tduration\tdescription\n0\t30\tDeep sleep\n")
    report = tmp_path / "eval.json"
    result = run("evaluate", data, "--model", linear_model, "--report", report)
    assert result.exit_code == 1
    assert "Deep sleep" in result.output and "1 of 2 nights failed" in result.output
    nights = {n["night"]: n for n in json.loads(report.read_text())["nights"]}
    assert nights["good"]["agreement"]["n_epochs"] == 4
    assert nights["bad"]["agreement"] is None and "Deep sleep" in nights["bad"]["error"]


def test_evaluate_explicit_pairs_and_30min_trim(tmp_path, linear_model):
    stages = ["W"] * 100 + ["N2"] * 10 + ["W"] * 100
    write_night(tmp_path, "long", stages)
    report = tmp_path / "eval.json"
    result = run("evaluate", tmp_path / "long.edf", tmp_path / "long.tsv", "--trim", "30min",
                 "--model", linear_model, "--report", report)
    assert result.exit_code == 0, result.output
    night = json.loads(report.read_text())["nights"][0]
    assert night["recording_epochs"] == 210
    assert night["agreement"]["n_epochs"] == 60 + 10 + 60


def test_predict_with_a_cap_scoring_placed_by_its_time_of_day(tmp_path, linear_model):
    # The PSG starts at 23:59:00 and the CAP scoring, which has no date, at 00:00:00.
    stages = ["SLEEP-S0", "SLEEP-S2", "SLEEP-S3", "SLEEP-REM"]
    seconds = 30 * (len(stages) + 2)
    psg = write_psg(tmp_path / "n5.edf", [Channel("EEG Fpz-Cz", sine(100, seconds, 10, 30), 100),
                                          Channel("EEG Pz-Oz", sine(100, seconds, 3, 60), 100)],
                    start=datetime(2021, 3, 4, 23, 59, 0))
    rows = "".join(f"S\tLeft\t{datetime(2021, 3, 5) + timedelta(seconds=30 * i):%H:%M:%S}\t{stage}"
                   "\t30\tC4-A1\n" for i, stage in enumerate(stages))
    scoring = tmp_path / "n5.txt"
    scoring.write_text("Patient Information:\n\nSleep Stage\tPosition\tTime [hh:mm:ss]\tEvent"
                       "\tDuration[s]\tLocation\n" + rows
                       + "S\tLeft\t00:00:40\tMCAP-A2\t6\tC4-A1\n")
    out = tmp_path / "n5.csv"
    result = run("predict", psg, "-o", out, "--model", linear_model, "--hypnogram", scoring)
    assert result.exit_code == 0, result.output
    assert [row["expert"] for row in read_table(out)] == ["", "", "W", "N2", "N3", "REM"]


def test_evaluate_a_dreams_folder_with_the_defaults(tmp_path):
    # The DREAMS layout: central and frontal derivations against the ear at 200 Hz, scorings named
    # after the recording holding one code per 5 s in DREAMS' own coding, and a night scored
    # both AASM and R&K. Its documentation: 5 W, 4 REM, 3-0 stages 1-4, -1 to -3 not a stage.
    documented = {5: "W", 4: "REM", 3: "N1", 2: "N2", 1: "N3", 0: "N3"}
    codes = [5, 5, 3, 2, 2, 1, 0, 4, -2, 5]
    data = tmp_path / "dreams"
    data.mkdir()
    seconds = 30 * len(codes)
    for name in ("excerpt1", "subject1"):
        write_psg(data / f"{name}.edf", [Channel("CZ-A1", sine(200, seconds, 12, 40), 200),
                                         Channel("FP1-A1", sine(200, seconds, 2, 60), 200)])
    five_s = "".join(f"{code}\n" for code in codes for _ in range(6))
    (data / "Hypnogram_excerpt1.txt").write_text("[Hypnogram]\n" + five_s)
    (data / "HypnogramAASM_subject1.txt").write_text("[HypnogramAASM]\n" + five_s)
    (data / "HypnogramR&K_subject1.txt").write_text("[HypnogramR&K]\n" + "0\n" * 6 * len(codes))
    report = tmp_path / "eval.json"
    result = run("evaluate", data, "--report", report)
    assert result.exit_code == 0, result.output
    assert "HypnogramR&K_subject1.txt left out" in " ".join(result.output.split())
    expected = {stage: sum(documented.get(code) == stage for code in codes)
                for stage in ("W", "N1", "N2", "N3", "REM")}
    for night in json.loads(report.read_text())["nights"]:
        agreement = night["agreement"]
        assert agreement["n_epochs"] == sum(expected.values()), night["night"]
        assert {stage: agreement["per_class"][stage]["support"] for stage in expected} == expected


def test_a_recording_named_like_a_glob_is_one_night_with_one_output_file(tmp_path, linear_model):
    seconds = 30 * 4
    psg = write_psg(tmp_path / "night[x].edf",
                    [Channel("EEG Fpz-Cz", sine(100, seconds, 10, 30), 100),
                     Channel("EEG Pz-Oz", sine(100, seconds, 3, 60), 100)])
    out = tmp_path / "out[x].csv"
    result = run("predict", psg, "-o", out, "--model", linear_model)
    assert result.exit_code == 0, result.output
    assert out.is_file() and len(read_table(out)) == 4
    assert "night[x].edf: 4 epochs scored" in result.output and "out[x].csv" in result.output


def test_info_prints_the_contract_metadata(linear_model):
    result = run("info", linear_model)
    assert result.exit_code == 0
    assert "test-linear" in result.output and "EEG Pz-Oz" in result.output


def test_predict_does_not_import_torch_matplotlib_scipy_or_pyedflib(tmp_path, linear_model):
    psg = sleep_edf_like(tmp_path / "night.edf", seconds=120)
    code = (
        "import sys\n"
        "from sleepscore.cli import main\n"
        "try:\n"
        f"    main(['predict', {str(psg)!r}, '-o', {str(tmp_path / 'o.csv')!r}, '--model', {str(linear_model)!r}, '-q'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "heavy = sorted(m for m in ('torch', 'matplotlib', 'mne', 'sklearn', 'scipy', 'pyedflib') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr


def test_predict_folder_in_parallel_matches_single_night_runs(tmp_path, linear_model):
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    for name, seconds in (("a", 300), ("b", 600), ("c", 450)):
        sleep_edf_like(cohort / f"{name}.edf", seconds=seconds)
    (cohort / "broken.edf").write_bytes(b"0       not an edf at all")
    scored = tmp_path / "scored"
    result = run("predict", cohort, "-o", scored, "--model", linear_model, "--jobs", "2")
    assert result.exit_code == 1 and "broken" in result.output  # the bad night is named ...
    assert sorted(p.name for p in scored.iterdir()) == ["a.csv", "b.csv", "c.csv"]  # ... the rest written
    single = tmp_path / "b-single.csv"
    assert run("predict", cohort / "b.edf", "-o", single, "--model", linear_model).exit_code == 0
    assert (scored / "b.csv").read_bytes() == single.read_bytes()
    assert len(read_table(scored / "c.csv")) == 15


def test_predict_several_nights_refuses_per_night_options(tmp_path, linear_model):
    sleep_edf_like(tmp_path / "a.edf", seconds=120)
    result = run("predict", tmp_path, "-o", tmp_path / "out", "--plot", tmp_path / "p.png")
    assert result.exit_code == 2 and "--plot" in result.output
