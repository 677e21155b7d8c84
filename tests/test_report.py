"""Rich tables rendered to text: the right numbers land in the right rows."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

from sleepscore.metrics import agreement
from sleepscore.report import agreement_table, confusion_table, per_night_table, sleep_stats_table

sk = pytest.importorskip("sklearn.metrics")


def render(table, width: int = 120) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue().splitlines()


def row(lines: list[str], label: str) -> list[str]:
    """Cells of the first table row whose first cell is ``label``."""
    for line in lines:
        cells = [cell.strip() for cell in line.strip().split("│")[1:-1]]
        if not cells:
            continue
        if cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in:\n" + "\n".join(lines))


def words(lines: list[str], label: str) -> list[str]:
    """Cells of the first row of a table without vertical rules whose first word is ``label``."""
    for line in lines:
        if line.split()[:1] == [label]:
            return line.split()
    raise AssertionError(f"no row {label!r} in:\n" + "\n".join(lines))


# 10 epochs, expert vs model; N3 never occurs, N1 never predicted.
TRUTH = np.array([0, 0, 0, 1, 2, 2, 2, 2, 4, 4])
PRED = np.array([0, 0, 2, 0, 2, 2, 2, 4, 4, 4])


def test_agreement_table_numbers() -> None:
    lines = render(agreement_table(agreement(TRUTH, PRED), title="SC4001E0"))
    assert "SC4001E0" in lines[0]
    assert row(lines, "Accuracy")[-2:] == [f"{sk.accuracy_score(TRUTH, PRED):.3f}", "10"]
    macro = sk.f1_score(TRUTH, PRED, labels=range(5), average="macro", zero_division=np.nan)
    assert row(lines, "Macro-F1")[-2] == f"{macro:.3f}"
    assert row(lines, "Cohen's kappa")[-2] == f"{sk.cohen_kappa_score(TRUTH, PRED):.3f}"
    p, r, f, s = sk.precision_recall_fscore_support(TRUTH, PRED, labels=range(5),
                                                    zero_division=np.nan)
    for i, stage in enumerate(["W", "N1", "N2", "N3", "REM"]):
        shown = ["n/a" if np.isnan(v) else f"{v:.3f}" for v in (p[i], r[i], f[i])]
        assert row(lines, stage)[1:] == [*shown, str(s[i])]
    # N3 occurs in neither scoring, N1 is never predicted: undefined, not 0.
    assert row(lines, "N3")[1:4] == ["n/a"] * 3 and row(lines, "N1")[1] == "n/a"


def test_undefined_kappa_shows_na() -> None:
    lines = render(agreement_table(agreement(np.array([2, 2]), np.array([2, 2]))))
    assert row(lines, "Cohen's kappa")[-2] == "n/a"


def test_confusion_table_rows_are_expert() -> None:
    lines = render(confusion_table(sk.confusion_matrix(TRUTH, PRED, labels=range(5))))
    # Expert W: 2 predicted W, 1 predicted N2; expert N2: 3 N2, 1 REM.
    assert row(lines, "W")[1:] == ["2", "0", "1", "0", "0", "3"]
    assert row(lines, "N2")[1:] == ["0", "0", "3", "0", "1", "4"]
    assert row(lines, "N1")[1:] == ["1", "0", "0", "0", "0", "1"]


def test_sleep_stats_table() -> None:
    stats = {"TST_min": 412.5, "SE_pct": 88.0416, "SOL_min": None, "model": "m.onnx"}
    lines = render(sleep_stats_table(stats))
    assert row(lines, "Total sleep time (TST)")[1:] == ["412.5", "min"]
    assert row(lines, "Sleep efficiency (TST/TIB)")[1:] == ["88.0", "%"]
    assert row(lines, "Sleep onset latency")[1] == "n/a"
    assert row(lines, "model")[1] == "m.onnx"


def test_per_night_table_pooled_and_spread() -> None:
    second_truth = np.array([0, 2, 2, 3, 3, 3, 4, 4])
    second_pred = np.array([0, 2, 3, 3, 3, 2, 4, 0])
    lines = render(per_night_table([("SC4001E0", agreement(TRUTH, PRED)),
                                    ("SC4002E0", agreement(second_truth, second_pred))]))
    accuracies = [sk.accuracy_score(TRUTH, PRED), sk.accuracy_score(second_truth, second_pred)]
    assert words(lines, "SC4001E0")[1:3] == ["10", f"{accuracies[0]:.3f}"]
    assert words(lines, "SC4002E0")[1:3] == ["8", f"{accuracies[1]:.3f}"]
    pooled = sk.accuracy_score(np.r_[TRUTH, second_truth], np.r_[PRED, second_pred])
    assert words(lines, "Pooled")[1:3] == ["18", f"{pooled:.3f}"]
    # Mean and SD have no epoch count: their first number is the accuracy.
    assert words(lines, "Mean")[1] == f"{np.mean(accuracies):.3f}"
    assert words(lines, "SD")[1] == f"{np.std(accuracies, ddof=1):.3f}"
    pooled_kappa = sk.cohen_kappa_score(np.r_[TRUTH, second_truth], np.r_[PRED, second_pred])
    assert words(lines, "Pooled")[4] == f"{pooled_kappa:.3f}"
    # N3 is in neither scoring of the first night: undefined there, and its mean is the second's.
    assert words(lines, "SC4001E0")[8] == "n/a"
    assert words(lines, "Mean")[7] == words(lines, "SC4002E0")[8]


def test_per_night_table_fits_an_80_column_terminal_uncut() -> None:
    names = ["excerpt1", "subject-with-a-long-name"]
    nights = [(name, agreement(TRUTH, PRED)) for name in names]
    lines = render(per_night_table(nights), width=80)
    assert max(len(line) for line in lines) <= 80
    assert "…" not in "\n".join(lines)
    assert len(words(lines, "excerpt1")) == 1 + 1 + 3 + 5  # name, epochs, 3 scores, 5 stage F1s
    # The long name is folded onto the lines below its row, whole.
    first = next(i for i, line in enumerate(lines)
                 if line.split()[:1] and names[1].startswith(line.split()[0]))
    assert len(lines[first].split()) == 10
    pieces = [lines[first].split()[0]]
    for line in lines[first + 1:]:
        if len(line.split()) != 1:
            break
        pieces.append(line.split()[0])
    assert "".join(pieces) == names[1]


def test_night_names_are_text_not_markup() -> None:
    lines = render(per_night_table([("night[x]", agreement(TRUTH, PRED))]))
    assert words(lines, "night[x]")[1] == "10"
