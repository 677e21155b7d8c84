"""The command line's human outputs and hypnogram options: ``info``'s card, ``predict --report``,
``--hypnogram-epoch``, and what ``evaluate`` writes when nights fail."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edf_factory import Channel, sine, write_psg
from onnx_factory import contract_metadata, write_linear_model
from sleepscore.cli import cli

CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz"]
METRICS = {"30min": {"n_nights": 7, "pooled": {"n_epochs": 5555, "accuracy": 0.8111,
                                               "macro_f1": 0.7222, "kappa": 0.6333}}}
TRAINED_ON = {"dataset": "hand-made", "subjects": ["01", "02"], "nights": ["a", "b", "c"]}


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def model(tmp_path: Path) -> Path:
    weights = np.random.default_rng(5).normal(size=(18, 5))
    meta = contract_metadata(CHANNELS, **{"sleepscore.metrics": json.dumps(METRICS),
                                          "sleepscore.trained_on": json.dumps(TRAINED_ON)})
    return write_linear_model(tmp_path / "card.onnx", weights, meta)


def psg(path: Path, epochs: int) -> Path:
    seconds = 30 * epochs
    return write_psg(path, [Channel("EEG Fpz-Cz", sine(100, seconds, 10, 30), 100),
                            Channel("EEG Pz-Oz", sine(100, seconds, 3, 60), 100)])


def expert_column(table: Path) -> list[str]:
    rows = [line.split(",") for line in table.read_text().splitlines()
            if line and not line.startswith("#")]
    index = rows[0].index("expert")
    return [row[index] for row in rows[1:]]


# --- info -----------------------------------------------------------------------------------------


def test_info_prints_a_short_card_with_the_metrics_table(model: Path) -> None:
    result = run("info", model)
    assert result.exit_code == 0, result.output
    out = result.output
    assert len(out.splitlines()) < 25 and "{" not in out  # no nested JSON
    assert "test-linear" in out and "EEG Fpz-Cz, EEG Pz-Oz" in out
    assert "hand-made: 3 nights of 2 subjects (01, 02)" in out
    row = next(line for line in out.splitlines() if "±30 min of whole recording" in line)
    assert ["7", "5555", "0.811", "0.722", "0.633"] == row.replace("│", " ").split()[-5:]


def test_info_of_a_model_without_metrics_says_so(tmp_path: Path) -> None:
    bare = write_linear_model(tmp_path / "bare.onnx", np.ones((18, 5)), contract_metadata(CHANNELS))
    result = run("info", bare)
    assert result.exit_code == 0, result.output
    assert "none in its metadata" in result.output and "Kappa" not in result.output


def test_info_json_prints_the_raw_metadata(model: Path) -> None:
    result = run("info", model, "--json")
    assert result.exit_code == 0, result.output
    meta = json.loads(result.output)
    assert meta["metrics"] == METRICS and meta["trained_on"] == TRAINED_ON
    assert meta["channels"] == CHANNELS and meta["architecture"] == "test-linear"


# --- predict --report ---------------------------------------------------------------------------


class Headings(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.h2: list[str] = []
        self._in = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self._in = tag == "h2"
        if self._in:
            self.h2.append("")

    def handle_endtag(self, tag):  # noqa: ANN001
        self._in = False

    def handle_data(self, data):  # noqa: ANN001
        if self._in:
            self.h2[-1] += data


def test_predict_report_with_and_without_an_expert(tmp_path: Path, model: Path) -> None:
    night = psg(tmp_path / "night.edf", 8)
    expert = tmp_path / "expert.txt"
    expert.write_text("W\nW\nN1\nN2\nN2\nN3\nREM\nW\n")
    report = tmp_path / "night.html"
    result = run("predict", night, "-o", tmp_path / "n.csv", "--model", model, "--report", report,
                 "--hypnogram", expert, "-q")
    assert result.exit_code == 0, result.output
    headings = Headings(report.read_text(encoding="utf-8")).h2
    assert "Agreement with the expert hypnogram (whole recording)" in headings
    assert "The model and its limits" in headings
    alone = tmp_path / "alone.html"
    assert run("predict", night, "-o", tmp_path / "m.csv", "--model", model,
               "--report", alone).exit_code == 0
    assert not any(h.startswith("Agreement") for h in Headings(alone.read_text()).h2)
    # An existing report is kept unless --force, before any scoring.
    again = run("predict", night, "-o", tmp_path / "o.csv", "--model", model, "--report", report)
    assert again.exit_code == 2 and "--force" in again.output and not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(("options", "message"), [
    (["--report", "r.html"], "--report applies to one night"),
    (["--hypnogram-epoch", "5"], "--hypnogram-epoch applies to one night"),
    (["--plot", "p.png", "--report", "r.html"], "--plot, --report apply to one night"),
])
def test_per_night_options_on_several_nights(tmp_path: Path, model: Path, options: list[str],
                                             message: str) -> None:
    psg(tmp_path / "a.edf", 2)
    psg(tmp_path / "b.edf", 2)
    result = run("predict", tmp_path / "a.edf", tmp_path / "b.edf", "-o", tmp_path / "out",
                 "--model", model, *options)
    assert result.exit_code == 2 and message in result.output, result.output


# --- --hypnogram-epoch ----------------------------------------------------------------------------


def test_five_second_hypnogram_detected_or_given(tmp_path: Path, model: Path) -> None:
    night = psg(tmp_path / "night.edf", 4)
    expert = tmp_path / "expert-5s.txt"
    # Epoch 1 is a 3-3 tie of N1 and N2: the label first in the epoch (N1) wins.
    expert.write_text("[Hypnogram]\n" + "W\n" * 6 + "N1\n" * 3 + "N2\n" * 9 + "REM\n" * 6)
    for extra in ([], ["--hypnogram-epoch", "5"]):
        out = tmp_path / f"night{len(extra)}.csv"
        result = run("predict", night, "-o", out, "--model", model, "--hypnogram", expert, "-q",
                     *extra)
        assert result.exit_code == 0, result.output
        assert expert_column(out) == ["W", "N1", "N2", "REM"]


def test_a_hypnogram_that_does_not_fit_is_an_error_and_nothing_is_written(tmp_path: Path,
                                                                          model: Path) -> None:
    night = psg(tmp_path / "night.edf", 4)
    expert = tmp_path / "expert.txt"
    expert.write_text("N2\n" * 24)  # 5-s labels of 2 min
    out = tmp_path / "night.csv"
    result = run("predict", night, "-o", out, "--model", model, "--hypnogram", expert,
                 "--hypnogram-epoch", "30")
    assert result.exit_code == 1
    assert "24 labels of 30 s span 720 s, but the recording is 120 s" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_a_small_overhang_is_a_one_line_cli_warning(tmp_path: Path, model: Path) -> None:
    night = psg(tmp_path / "night.edf", 60)
    expert = tmp_path / "expert.txt"
    expert.write_text("N2\n" * 61)
    result = run("predict", night, "-o", tmp_path / "n.csv", "--model", model,
                 "--hypnogram", expert, "-q")
    assert result.exit_code == 0, result.output
    assert (f"sleepscore: warning: {expert}: 1 label(s) of 30 s from line 61 on lie past the end "
            "of the 1800-s recording and were cut") in result.output


def test_hypnogram_options_need_a_hypnogram(tmp_path: Path, model: Path) -> None:
    result = run("predict", psg(tmp_path / "n.edf", 2), "-o", tmp_path / "n.csv", "--model", model,
                 "--hypnogram-epoch", "20")
    assert result.exit_code == 2 and "--hypnogram" in result.output


# --- evaluate -----------------------------------------------------------------------------------


def test_evaluate_takes_the_hypnogram_epoch(tmp_path: Path, model: Path) -> None:
    psg(tmp_path / "a.edf", 4)
    expert = tmp_path / "a.txt"
    expert.write_text("W\nW\nN2\nN2\nN2\nN2\n")  # 20-s labels: 120 s
    report = tmp_path / "eval.json"
    result = run("evaluate", tmp_path / "a.edf", expert, "--model", model, "--hypnogram-epoch",
                 "20", "--report", report, "-q")
    assert result.exit_code == 0, result.output
    night = json.loads(report.read_text())["nights"][0]
    # 20-s W, W, N2, ... into 30 s: W (0-30), then N2 10 s of W + 20 s N2, N2, N2
    assert night["agreement"]["per_class"]["W"]["support"] == 1
    assert night["agreement"]["per_class"]["N2"]["support"] == 3
    assert night["model"] == str(model) and night["channels"] == CHANNELS


def test_evaluate_writes_no_report_when_no_night_was_scored(tmp_path: Path, model: Path) -> None:
    for name in ("a", "b"):
        psg(tmp_path / f"{name}.edf", 4)
    (tmp_path / "a.tsv").write_text("onset\tduration\tdescription\n0\t30\tDeep sleep\n")
    (tmp_path / "b.tsv").write_text("onset\tduration\tdescription\n0\t45\tW\n")
    report, per_night = tmp_path / "eval.json", tmp_path / "nights.csv"
    result = run("evaluate", tmp_path / "a.edf", tmp_path / "a.tsv", tmp_path / "b.edf",
                 tmp_path / "b.tsv", "--model", model, "--report", report, "--csv", per_night)
    assert result.exit_code == 1
    assert not report.exists() and not per_night.exists()
    lines = result.output.splitlines()
    # Each failed night on one line of its own, with its reason, then the verdict.
    assert any(line.startswith("sleepscore: warning: a: ") and "'Deep sleep'" in line
               for line in lines), result.output
    assert any(line.startswith("sleepscore: warning: b: ") and "epoch grid" in line
               for line in lines), result.output
    assert "none of the 2 nights could be scored, so no report was written" in result.output


def test_predict_reads_nsrr_xml_and_refuses_a_label_map_for_it(tmp_path: Path, model: Path) -> None:
    night = psg(tmp_path / "night.edf", 6)
    xml = tmp_path / "profusion.xml"
    # Profusion codes in 20-s epochs: W 0-40 s, REM (5) 40-80 s, R&K stage 4 80-120 s, N2 to 180 s.
    xml.write_text("<CMPStudyConfig><EpochLength>20</EpochLength><SleepStages>"
                   + "".join(f"<SleepStage>{code}</SleepStage>" for code in "005544222")
                   + "</SleepStages></CMPStudyConfig>")
    out = tmp_path / "night.csv"
    result = run("predict", night, "-o", out, "--model", model, "--hypnogram", xml, "-q")
    assert result.exit_code == 0, result.output
    # 30-60 s holds 10 s of W and 20 s of REM; 60-90 s 20 s of REM and 10 s of stage 4.
    assert expert_column(out) == ["W", "REM", "REM", "N3", "N2", "N2"]
    refused = run("predict", night, "-o", tmp_path / "x.csv", "--model", model, "--hypnogram", xml,
                  "--label-map", "0=W")
    assert refused.exit_code == 2 and "NSRR XML stage codes are fixed" in refused.output
