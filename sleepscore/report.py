"""Terminal tables (rich) for agreement, confusion matrices, sleep statistics and evaluations.

Each function returns a :class:`rich.table.Table`; print it with ``console.print(table)`` on any
:class:`rich.console.Console` (a terminal, or ``Console(file=io.StringIO())`` to capture it).
Only ``rich.table`` is imported, which costs a few tens of milliseconds at CLI start-up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rich import box
from rich.markup import escape
from rich.table import Table

from .metrics import Agreement, summarise
from .stages import STAGES

# Readable names and units of the keys of sleepscore.sleepstats.sleep_statistics.
STAT_LABELS: dict[str, tuple[str, str]] = {
    "TIB_min": ("Time in bed (TIB)", "min"),
    "SPT_min": ("Sleep period time (SPT)", "min"),
    "TST_min": ("Total sleep time (TST)", "min"),
    "SE_pct": ("Sleep efficiency (TST/TIB)", "%"),
    "SME_pct": ("Sleep maintenance efficiency (TST/SPT)", "%"),
    "SOL_min": ("Sleep onset latency", "min"),
    "WASO_min": ("Wake after sleep onset (WASO)", "min"),
    "REM_latency_min": ("REM latency (from sleep onset)", "min"),
    "W_min": ("Wake", "min"),
    "N1_min": ("N1", "min"),
    "N2_min": ("N2", "min"),
    "N3_min": ("N3", "min"),
    "REM_min": ("REM", "min"),
    "N1_pct": ("N1", "% of TST"),
    "N2_pct": ("N2", "% of TST"),
    "N3_pct": ("N3", "% of TST"),
    "REM_pct": ("REM", "% of TST"),
    "unscored_min": ("Unscored", "min"),
}


def _score(value: float | None) -> str:
    """Three decimals; undefined values (kappa of a single-stage night) as n/a."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.3f}"


def agreement_table(agreement: Agreement, title: str = "Agreement with the expert") -> Table:
    """Per-stage precision, recall, F1 and support, with accuracy, macro-F1 and kappa below.

    Parameters
    ----------
    agreement : Agreement
        From :func:`sleepscore.metrics.agreement` (or a pooled one).
    title : str
        Table title.

    Returns
    -------
    rich.table.Table

    Examples
    --------
    >>> from rich.console import Console
    >>> from sleepscore.metrics import agreement
    >>> table = agreement_table(agreement(np.array([0, 2]), np.array([0, 2])))
    >>> Console().print(table)  # doctest: +SKIP
    """
    table = Table(title=title)
    table.add_column("Stage")
    for column in ("Precision", "Recall", "F1", "Support"):
        table.add_column(column, justify="right")
    for i, stage in enumerate(STAGES):
        table.add_row(stage, _score(agreement.precision[i]), _score(agreement.recall[i]),
                      _score(agreement.f1[i]), str(int(agreement.support[i])),
                      end_section=stage == STAGES[-1])
    table.add_row("Accuracy", "", "", _score(agreement.accuracy), str(agreement.n_epochs))
    table.add_row("Macro-F1", "", "", _score(agreement.macro_f1), "")
    table.add_row("Cohen's kappa", "", "", _score(agreement.kappa), "")
    return table


def confusion_table(confusion: np.ndarray, title: str = "Confusion matrix (epochs)") -> Table:
    """Confusion matrix with expert stages as rows and predicted stages as columns.

    Parameters
    ----------
    confusion : np.ndarray
        int ``[5, 5]``, rows expert, columns predicted.
    title : str
        Table title.

    Returns
    -------
    rich.table.Table
        Agreeing counts (the diagonal) in bold, and each expert stage's total.
    """
    cm = np.asarray(confusion, dtype=np.int64)
    table = Table(title=title)
    table.add_column("Expert \\ predicted")
    for stage in STAGES:
        table.add_column(stage, justify="right")
    table.add_column("Total", justify="right")
    for i, stage in enumerate(STAGES):
        cells = [f"[bold]{count}[/bold]" if i == j else str(count) for j, count in enumerate(cm[i])]
        table.add_row(stage, *cells, str(int(cm[i].sum())))
    return table


def _stat_value(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def sleep_stats_table(stats: Mapping[str, Any], title: str = "Sleep statistics") -> Table:
    """Sleep statistics with readable names and units.

    Parameters
    ----------
    stats : Mapping
        From :func:`sleepscore.sleepstats.sleep_statistics`; other keys are shown as they are.
    title : str
        Table title.

    Returns
    -------
    rich.table.Table
        One row per statistic, values with one decimal, undefined ones as n/a.
    """
    table = Table(title=title)
    table.add_column("Statistic")
    table.add_column("Value", justify="right")
    table.add_column("Unit")
    for key, value in stats.items():
        label, unit = STAT_LABELS.get(key, (key, ""))
        table.add_row(label, _stat_value(value), unit)
    return table


def per_night_table(rows: Sequence[tuple[str, Agreement]],
                    title: str = "Agreement per night") -> Table:
    """One row per night, then the pooled metrics and the mean and SD over nights.

    Parameters
    ----------
    rows : Sequence[tuple[str, Agreement]]
        ``(night name, agreement)`` per night, in the order to show.
    title : str
        Table title.

    Returns
    -------
    rich.table.Table
        Columns: night, epochs, accuracy, macro-F1, kappa and the F1 of each stage. "Pooled" is
        the metrics of the summed confusion matrix; "Mean" and "SD" are over nights (see
        :func:`sleepscore.metrics.summarise`).
    """
    summary = summarise([night for _, night in rows])
    # An 80-column terminal (and a log) fits this table only without vertical rules, with
    # two-line headers and long names folded; rich would otherwise cut the names to "exce…" and
    # the scores to "0.9…".
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    longest = max(len(name) for name, _ in rows)
    table.add_column("Night", overflow="fold", min_width=min(10, longest))
    headers = ("Epochs", "Accu-\nracy", "Macro-\nF1", "Kappa",
               *(f"F1\n{stage}" for stage in STAGES))
    for column in headers:
        table.add_column(column, justify="right", no_wrap=True, min_width=5)
    for i, (name, night) in enumerate(rows):
        table.add_row(escape(name), str(night.n_epochs), _score(night.accuracy),
                      _score(night.macro_f1), _score(night.kappa), *(_score(f1) for f1 in night.f1),
                      end_section=i == len(rows) - 1)
    pooled = summary.pooled
    table.add_row("Pooled", str(pooled.n_epochs), _score(pooled.accuracy), _score(pooled.macro_f1),
                  _score(pooled.kappa), *(_score(f1) for f1 in pooled.f1), style="bold")
    keys = ("accuracy", "macro_f1", "kappa", *(f"f1_{stage}" for stage in STAGES))
    table.add_row("Mean", "", *(_score(summary.mean[key]) for key in keys))
    table.add_row("SD", "", *(_score(summary.sd[key]) for key in keys))
    return table
