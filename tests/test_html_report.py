"""The one-page HTML night report: parsed with html.parser and checked against values the tests
compute themselves from the night they built."""

from __future__ import annotations

import base64
import json
import sys
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from sleepscore.html_report import (
    LOW_CONFIDENCE,
    low_confidence_stretches,
    render_night_report,
    write_night_report,
)
from sleepscore.metrics import agreement
from sleepscore.model import ModelInfo
from sleepscore.scoring import NightScore
from sleepscore.sleepstats import sleep_statistics

START = datetime(2021, 3, 4, 22, 15, 0)
N = 120
HELD_OUT_KAPPA = 0.7123
MODEL_METRICS = {
    "30min": {"n_nights": 12, "pooled": {"n_epochs": 9876, "accuracy": 0.8234,
                                         "macro_f1": 0.7456, "kappa": HELD_OUT_KAPPA}},
    "whole": {"n_nights": 12, "pooled": {"n_epochs": 30000, "accuracy": 0.93,
                                         "macro_f1": 0.8, "kappa": 0.85}},
}


class Page(HTMLParser):
    """Every tag with its attributes, the text under each heading, and every table's cells."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.title = ""
        self.text: list[str] = []
        self._where: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append((tag, dict(attrs)))
        self._where.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.tables[-1][-1].append("")
        elif tag == "h2":
            self.headings.append("")

    def handle_endtag(self, tag):  # noqa: ANN001
        while self._where and self._where.pop() != tag:
            pass

    def handle_data(self, data):  # noqa: ANN001
        self.text.append(data)
        if not self._where:
            return
        if self._where[-1] in ("td", "th"):
            self.tables[-1][-1][-1] += data
        elif self._where[-1] == "h2":
            self.headings[-1] += data
        elif self._where[-1] == "title":
            self.title += data

    def table_after(self, first_cell: str) -> dict[str, list[str]]:
        """The table whose header row starts with ``first_cell``, as row label → other cells."""
        for table in self.tables:
            if table and table[0] and table[0][0] == first_cell:
                return {row[0]: row[1:] for row in table[1:]}
        raise AssertionError(f"no table headed {first_cell!r}")


def model_info(tmp_path: Path) -> ModelInfo:
    return ModelInfo(path=tmp_path / "lab-model.onnx", input="features",
                     channels=["EEG C4-M1"], unit="V", fs=100.0, epoch_s=30.0,
                     stages=["W", "N1", "N2", "N3", "REM"], architecture="test-gru",
                     trained_on={"dataset": "lab-cohort", "subjects": ["a", "b", "c"],
                                 "nights": ["a1", "b1", "c1", "c2"],
                                 "metrics_protocol": "leave-one-subject-out"},
                     metrics=MODEL_METRICS, version="9.9.9", feature_set="spectral-v1")


def built_night(tmp_path: Path, expert: bool = True, name: str = "night.edf") -> NightScore:
    """120 epochs: W, N1, N2, N3, REM blocks; epochs 40-44 unsure (top probability 0.4)."""
    stages = np.repeat([0, 1, 2, 3, 2, 4, 0], [20, 10, 10, 30, 20, 20, 10])
    probs = np.full((N, 5), 0.02)
    probs[np.arange(N), stages] = 0.92
    probs[40:45] = [0.1, 0.1, 0.4, 0.3, 0.1]  # predicted N2, unsure
    probs[60] = [0.1, 0.1, 0.15, 0.45, 0.2]  # one unsure N3 epoch alone: not a stretch
    labels = None
    if expert:
        labels = stages.copy()
        labels[25:30] = 2  # the expert saw N2 where the model says N1
        labels[100:103] = -1  # and left three epochs unscored
    quality = np.full(N, "", dtype=object)
    quality[7] = "flat:EEG C4-M1"
    return NightScore(probs=probs, start=START, epoch_s=30.0, quality=quality, expert=labels,
                      psg=tmp_path / name, channels=["EEG C4-M1"], model=tmp_path / "lab-model.onnx",
                      warnings=["night.edf: something to check"],
                      notes=["chose EEG C4-M1 (central derivation)"])


def report(tmp_path: Path, night: NightScore) -> Page:
    stats = sleep_statistics(night.stages, night.epoch_s)
    result = agreement(night.expert, night.stages) if night.expert is not None else None
    return Page(render_night_report(night, stats, result, info=model_info(tmp_path)))


def test_the_page_needs_nothing_outside_it(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    page = report(tmp_path, built_night(tmp_path))
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for _, attrs in page.tags:
        for key in ("src", "href"):
            assert not (attrs.get(key) or "data:").lower().startswith(("http", "//", "file")), attrs
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 1
    prefix = "data:image/png;base64,"
    assert images[0].startswith(prefix)
    assert base64.b64decode(images[0][len(prefix):]).startswith(b"\x89PNG\r\n\x1a\n")
    assert page.title == "Sleep staging report: night.edf"


def test_sections_and_sleep_statistics(tmp_path: Path) -> None:
    night = built_night(tmp_path)
    page = report(tmp_path, night)
    assert page.headings[0] == "Hypnogram and hypnodensity"
    assert {"Sleep statistics (scored hypnogram)", "Confidence", "Low-confidence stretches",
            "Agreement with the expert hypnogram (whole recording)",
            "The model and its limits"} <= set(page.headings)
    stats = page.table_after("Statistic")
    # 20 W, then sleep to the final 10 W: TST is the 90 sleep epochs, 45 min.
    assert stats["Total sleep time (TST)"] == ["45.0", "min"]
    assert stats["Time in bed (TIB)"] == [f"{N * 30 / 60:.1f}", "min"]
    assert stats["Sleep onset latency"] == ["10.0", "min"]
    text = " ".join(page.text)
    assert "night.edf: something to check" in text
    assert "1 epoch(s) have flat, clipped or missing signal" in text
    assert "chose EEG C4-M1 (central derivation)" in text
    # The expected agreement is the night's mean confidence, computed here from its probabilities.
    assert f"Expected agreement with an expert: {night.probs.max(axis=1).mean():.0%} of the epochs" in text


def test_agreement_tables_match_counts_made_here(tmp_path: Path) -> None:
    night = built_night(tmp_path)
    page = report(tmp_path, night)
    expert, predicted = night.expert, night.probs.argmax(axis=1)
    scored = expert >= 0
    confusion = page.table_after("Expert \\ predicted")
    for i, stage in enumerate(["W", "N1", "N2", "N3", "REM"]):
        counts = [int(np.sum(scored & (expert == i) & (predicted == j))) for j in range(5)]
        assert confusion[stage] == [str(c) for c in counts] + [str(sum(counts))], stage
    measures = page.table_after("Measure")
    assert measures["Epochs compared (expert-scored)"] == [str(int(scored.sum()))]
    accuracy = np.mean(expert[scored] == predicted[scored])
    assert measures["Accuracy"] == [f"{accuracy:.3f}"]
    # N1: the model says N1 for epochs 20-29; the expert agrees on 20-24 only.
    per_class = page.table_after("Stage")
    precision, recall = 5 / 10, 5 / 5
    assert per_class["N1"][:3] == [f"{precision:.3f}", f"{recall:.3f}",
                                   f"{2 * precision * recall / (precision + recall):.3f}"]
    assert float(measures["Cohen's kappa"][0]) < accuracy


def test_low_confidence_stretches_are_listed_with_clock_times(tmp_path: Path) -> None:
    page = report(tmp_path, built_night(tmp_path))
    stretches = page.table_after("From")
    assert stretches == {f"{START + timedelta(seconds=40 * 30):%H:%M:%S}": [
        f"{START + timedelta(seconds=45 * 30):%H:%M:%S}", "2.5", "0.40", "N2"]}
    assert "6 of 120 epochs (5.0 %)" in " ".join(page.text)


def test_model_card_and_limits_come_from_the_metadata(tmp_path: Path) -> None:
    page = report(tmp_path, built_night(tmp_path))
    card = page.table_after("Model")
    assert card["Architecture"] == ["test-gru"]
    assert card["Trained on"] == ["lab-cohort: 4 nights of 3 subjects (a-c)"]
    held_out = page.table_after("Held-out protocol (pooled)")
    assert held_out["±30 min of whole recording"] == ["12", "9876", "0.823", "0.746",
                                                          f"{HELD_OUT_KAPPA:.3f}"]
    text = " ".join(page.text)
    assert "Leave-one-subject-out." in text and "recordings unlike these" in text


def test_without_an_expert_there_is_no_agreement(tmp_path: Path) -> None:
    page = report(tmp_path, built_night(tmp_path, expert=False))
    assert not any(h.startswith("Agreement") for h in page.headings)
    with pytest.raises(AssertionError):
        page.table_after("Expert \\ predicted")


def test_without_matplotlib_the_page_says_how_to_get_the_figure(tmp_path: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import now fails
    page = report(tmp_path, built_night(tmp_path))
    assert not [tag for tag, _ in page.tags if tag == "img"]
    assert "pip install 'sleepscore[plot]'" in " ".join(page.text)
    assert page.table_after("Statistic")  # the rest is there


def test_names_are_escaped(tmp_path: Path) -> None:
    page = report(tmp_path, built_night(tmp_path, name="<b>night<i>&.edf"))
    assert page.title == "Sleep staging report: <b>night<i>&.edf"
    assert not {"b", "i"} & {tag for tag, _ in page.tags}


def test_write_is_atomic_and_refuses_to_overwrite(tmp_path: Path) -> None:
    from sleepscore.errors import UsageError

    night = built_night(tmp_path)
    out = tmp_path / "out" / "night.html"
    out.parent.mkdir()
    stats = sleep_statistics(night.stages)
    write_night_report(out, night, stats, info=model_info(tmp_path))
    assert [p.name for p in out.parent.iterdir()] == ["night.html"]  # no temporary left
    first = out.read_text()
    with pytest.raises(UsageError, match="--force"):
        write_night_report(out, night, stats, info=model_info(tmp_path))
    assert out.read_text() == first


def test_stretch_finder_on_hand_made_probabilities() -> None:
    probs = np.tile([0.9, 0.025, 0.025, 0.025, 0.025], (12, 1))
    probs[[2, 3, 4]] = [0.2, 0.45, 0.15, 0.1, 0.1]   # N1, unsure
    probs[5] = [0.1, 0.1, 0.1, 0.3, 0.4]             # REM, unsure, same run
    probs[8] = [0.3, 0.3, 0.2, 0.1, 0.1]             # alone: too short
    probs[10:12] = [0.1, 0.1, LOW_CONFIDENCE, 0.2, 0.1]  # exactly at the threshold: sure
    stretches = low_confidence_stretches(probs)
    assert [(s.first, s.n_epochs, s.stages) for s in stretches] == [(2, 4, ["N1", "REM"])]
    assert stretches[0].mean_confidence == pytest.approx((0.45 * 3 + 0.4) / 4)
    assert [s.first for s in low_confidence_stretches(probs, min_epochs=1)] == [2, 8]


def test_metadata_the_card_cannot_read_is_left_out(tmp_path: Path) -> None:
    info = model_info(tmp_path)
    odd = ModelInfo(**{**info.__dict__, "metrics": {"30min": "see paper", "x": {"pooled": 3},
                                                     "whole": json.loads('{"kappa": 0.5}')},
                       "trained_on": "my lab"})
    page = Page(render_night_report(built_night(tmp_path), sleep_statistics(np.zeros(N, int)),
                                    info=odd))
    held_out = page.table_after("Held-out protocol (pooled)")
    assert held_out == {"whole recording": ["-", "-", "n/a", "n/a", "0.500"]}
    assert page.table_after("Model")["Trained on"] == ["my lab"]
