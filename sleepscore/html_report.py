"""A one-page HTML report of a scored night, for a clinician to open (``predict --report``).

The page is self-contained: the figure is an inline base64 PNG, the style sheet is inline, and
there is no script and no link, so it opens the same offline, from an e-mail or an archive. It
shows the hypnogram and hypnodensity (:func:`sleepscore.plotting.night_png`, when matplotlib is
installed), the sleep statistics (:func:`sleepscore.sleepstats.sleep_statistics`), agreement
with the expert when there is one (:mod:`sleepscore.metrics`), the stretches the model was
unsure of, and the model with its limits (:mod:`sleepscore.model_card`, from the model's own
metadata).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import __version__
from .errors import UsageError
from .metrics import Agreement
from .model import ModelInfo, load_model
from .model_card import held_out_metrics, input_line, limits, training_line
from .io.writers import atomic_path, stage_runs
from .report import STAT_LABELS, _score, _stat_value
from .scoring import EXPECTED_ACCURACY_CAVEAT, NightScore
from .stages import STAGES

#: An epoch is low-confidence when its most probable stage has less than this probability.
LOW_CONFIDENCE = 0.5
#: Shortest run of low-confidence epochs listed as a stretch (a lone unsure epoch is common).
MIN_STRETCH_EPOCHS = 2
#: Most stretches listed (the longest, shown in time order); the rest are counted.
MAX_STRETCHES = 15

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto;
       max-width: 1150px; color: #222; line-height: 1.35; }
h1 { font-size: 1.5em; margin-bottom: 0.1em; } h2 { font-size: 1.15em; margin: 1.2em 0 0.4em;
     border-bottom: 1px solid #ccc; padding-bottom: 0.15em; }
.sub { color: #555; margin-top: 0; } .note { color: #555; font-size: 0.9em; }
.warn { background: #fff4e5; border-left: 4px solid #f0a020; padding: 0.4em 0.8em; }
table { border-collapse: collapse; margin: 0.3em 0 0.6em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; } thead th { background: #f3f3f3; }
td.diag { font-weight: bold; background: #eef5ff; } table.text td, table.text th { text-align: left; }
.cols { display: flex; gap: 2.5em; flex-wrap: wrap; align-items: flex-start; }
.cols > div { flex: 1 1 320px; }
img { max-width: 100%; }
"""


class Stretch(NamedTuple):
    """A run of consecutive low-confidence epochs."""

    first: int
    n_epochs: int
    mean_confidence: float
    stages: list[str]


def low_confidence_stretches(probs: np.ndarray, threshold: float = LOW_CONFIDENCE,
                             min_epochs: int = MIN_STRETCH_EPOCHS) -> list[Stretch]:
    """Runs of at least ``min_epochs`` epochs whose most probable stage is below ``threshold``.

    Parameters
    ----------
    probs : np.ndarray
        float ``[n_epochs, 5]`` stage probabilities.
    threshold : float
        Confidence (top probability) below which an epoch is unsure.
    min_epochs : int
        Shortest run listed.

    Returns
    -------
    list of Stretch
        In time order, each with the predicted stages it holds (most epochs first).

    Examples
    --------
    >>> probs = np.tile([0.9, 0.1, 0, 0, 0], (6, 1))
    >>> probs[2:5] = [0.4, 0.35, 0.25, 0, 0]
    >>> [(s.first, s.n_epochs) for s in low_confidence_stretches(probs)]
    [(2, 3)]
    """
    probs = np.asarray(probs, dtype=np.float64)
    confidence = probs.max(axis=1)
    stretches = []
    for first, n, unsure in stage_runs((confidence < threshold).astype(np.int64)):
        if unsure and n >= min_epochs:
            codes, counts = np.unique(probs[first:first + n].argmax(axis=1), return_counts=True)
            order = np.argsort(-counts, kind="stable")
            stretches.append(Stretch(first, n, float(confidence[first:first + n].mean()),
                                     [STAGES[int(codes[i])] for i in order]))
    return stretches


def render_night_report(night: NightScore, stats: Mapping[str, Any],
                        agreement: Agreement | None = None, info: ModelInfo | None = None) -> str:
    """The report as one HTML document.

    Parameters
    ----------
    night : NightScore
        From :func:`sleepscore.scoring.score_night`.
    stats : Mapping
        The night's :func:`sleepscore.sleepstats.sleep_statistics` (what ``save_night`` returns).
    agreement : Agreement, optional
        Agreement with the expert (:func:`sleepscore.metrics.agreement`), shown with the expert
        hypnogram when given.
    info : ModelInfo, optional
        The scoring model's metadata (default: read from ``night.model``).

    Returns
    -------
    str
        A complete HTML page, with nothing it needs outside it.

    Examples
    --------
    >>> from sleepscore.scoring import save_night, score_night
    >>> night = score_night("SC4001E0-PSG.edf", hypnogram="SC4001EC-Hypnogram.edf")  # doctest: +SKIP
    >>> page = render_night_report(night, save_night(night, "night.csv"))  # doctest: +SKIP
    """
    info = info if info is not None else load_model(night.model).info
    title = f"Sleep staging report: {night.psg.name}"
    duration_h = night.n_epochs * night.epoch_s / 3600
    start = f"{night.start:%Y-%m-%d %H:%M:%S}" if night.start else "unknown start time"
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">Recording from {_e(start)}, {night.n_epochs} epochs of '
        f"{night.epoch_s:g} s ({duration_h:.1f} h), channels {_e(', '.join(night.channels))}; "
        f"scored automatically by {_e(night.model.name)} with sleepscore {_e(__version__)} on "
        f"{datetime.now():%Y-%m-%d %H:%M}.</p>",
    ]
    parts += _warnings_section(night)
    parts += _figure_section(night)
    parts += ['<div class="cols">', "<div>", "<h2>Sleep statistics (scored hypnogram)</h2>",
              _stats_table(stats), "</div>", "<div>"]
    parts += _confidence_section(night)
    parts += ["</div>", "</div>"]
    if agreement is not None:
        parts += _agreement_section(agreement)
    parts += _model_section(info, night)
    parts += ['<p class="note">Automatic staging: review it before any clinical decision.</p>',
              "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def write_night_report(path: str | Path, night: NightScore, stats: Mapping[str, Any],
                       agreement: Agreement | None = None, info: ModelInfo | None = None,
                       force: bool = False) -> None:
    """Write :func:`render_night_report`'s page to ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        The HTML file to write.
    night, stats, agreement, info
        As :func:`render_night_report`.
    force : bool
        Replace an existing file.

    Raises
    ------
    UsageError
        If the file exists and ``force`` is False.
    """
    page = render_night_report(night, stats, agreement, info)
    with atomic_path(path, force=force) as temporary:
        temporary.write_text(page, encoding="utf-8")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]],
           diagonal: bool = False, text: bool = False) -> str:
    """An HTML table of already-escaped cells; ``diagonal`` marks cell (i, i + 1) of each row,
    ``text`` left-aligns every column (numbers are right-aligned otherwise)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(f'<td class="diag">{cell}</td>' if diagonal and j == i + 1
                        else f"<td>{cell}</td>" for j, cell in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    opening = '<table class="text">' if text else "<table>"
    return f"{opening}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _clock(night: NightScore, epoch: int) -> str:
    seconds = epoch * night.epoch_s
    if night.start is not None:
        return f"{night.start + timedelta(seconds=seconds):%H:%M:%S}"
    return f"{seconds / 3600:.2f} h"


def _warnings_section(night: NightScore) -> list[str]:
    flagged = int(np.count_nonzero(night.quality)) if night.quality is not None else 0
    items = list(night.warnings)
    if flagged:
        items.append(f"{flagged} epoch(s) have flat, clipped or missing signal; they were "
                     "scored and are flagged in the quality column of the table")
    if not items:
        return []
    return ['<div class="warn"><strong>Check first</strong><ul>',
            *(f"<li>{_e(item)}</li>" for item in items), "</ul></div>"]


def _figure_section(night: NightScore) -> list[str]:
    from .plotting import night_png

    heading = "<h2>Hypnogram and hypnodensity</h2>"
    try:
        png = night_png(night.probs, night.stages, night.expert, night.start, night.epoch_s)
    except UsageError as err:  # matplotlib is an optional extra
        return [heading, f'<p class="note">No figure: {_e(err)}.</p>']
    encoded = base64.b64encode(png).decode("ascii")
    panels = "predicted hypnogram, expert hypnogram, " if night.expert is not None else \
        "predicted hypnogram, "
    return [heading, f'<img alt="{panels}and stage probabilities per epoch" '
                     f'src="data:image/png;base64,{encoded}">']


def _stats_table(stats: Mapping[str, Any]) -> str:
    rows = []
    for key, value in stats.items():
        label, unit = STAT_LABELS.get(key, (key, ""))
        rows.append([_e(label), _e(_stat_value(value)), _e(unit)])
    return _table(["Statistic", "Value", "Unit"], rows)


def _confidence_section(night: NightScore) -> list[str]:
    stretches = low_confidence_stretches(night.probs)
    unsure = int(np.count_nonzero(night.probs.max(axis=1) < LOW_CONFIDENCE))
    parts = ["<h2>Confidence</h2>",
             f'<p class="note">Expected agreement with an expert: {night.expected_accuracy:.0%} of the '
             f"epochs ({_e(EXPECTED_ACCURACY_CAVEAT)}).</p>",
             "<h2>Low-confidence stretches</h2>",
             f'<p class="note">{unsure} of {night.n_epochs} epochs '
             f"({100 * unsure / night.n_epochs:.1f} %) have a most probable stage below "
             f"{LOW_CONFIDENCE:.0%}; runs of {MIN_STRETCH_EPOCHS} or more epochs:</p>"]
    if not stretches:
        return parts + ['<p class="note">none.</p>']
    shown = sorted(sorted(stretches, key=lambda s: -s.n_epochs)[:MAX_STRETCHES],
                   key=lambda s: s.first)
    rows = [[_e(_clock(night, s.first)), _e(_clock(night, s.first + s.n_epochs)),
             f"{s.n_epochs * night.epoch_s / 60:.1f}", f"{s.mean_confidence:.2f}",
             _e(" / ".join(s.stages))] for s in shown]
    parts.append(_table(["From", "To", "Minutes", "Mean confidence", "Predicted"], rows))
    if len(stretches) > len(shown):
        parts.append(f'<p class="note">{len(stretches) - len(shown)} shorter stretches not '
                     "listed.</p>")
    return parts


def _agreement_section(result: Agreement) -> list[str]:
    summary = _table(["Measure", "Value"], [
        ["Epochs compared (expert-scored)", str(result.n_epochs)],
        ["Accuracy", _score(result.accuracy)], ["Cohen's kappa", _score(result.kappa)],
        ["Macro-F1", _score(result.macro_f1)]])
    per_class = _table(["Stage", "Precision", "Recall", "F1", "Expert epochs"], [
        [stage, _score(result.precision[i]), _score(result.recall[i]), _score(result.f1[i]),
         str(int(result.support[i]))] for i, stage in enumerate(STAGES)])
    confusion = _table(["Expert \\ predicted", *STAGES, "Total"], [
        [stage, *(str(int(count)) for count in result.confusion[i]),
         str(int(result.confusion[i].sum()))] for i, stage in enumerate(STAGES)], diagonal=True)
    return ["<h2>Agreement with the expert hypnogram (whole recording)</h2>",
            '<div class="cols">', f"<div>{summary}</div>", f"<div>{per_class}</div>",
            f"<div>{confusion}</div>", "</div>",
            '<p class="note">Epochs the expert left unscored are not compared.</p>']


def _model_section(info: ModelInfo, night: NightScore) -> list[str]:
    card = _table(["Model", _e(info.path.name)], [
        ["Architecture", _e(info.architecture)], ["Input", _e(input_line(info))],
        ["Channels used", _e(", ".join(night.channels))],
        ["Trained on", _e(training_line(info))]], text=True)
    metrics = _table(["Held-out protocol (pooled)", "Nights", "Epochs", "Accuracy", "Macro-F1",
                      "Kappa"],
                     [[_e(row.description), _e(row.n_nights if row.n_nights is not None else "-"),
                       _e(row.n_epochs if row.n_epochs is not None else "-"), _score(row.accuracy),
                       _score(row.macro_f1), _score(row.kappa)]
                      for row in held_out_metrics(info)])
    return ["<h2>The model and its limits</h2>", '<div class="cols">', f"<div>{card}</div>",
            f"<div>{metrics}</div>", "</div>",
            *(f'<p class="note">{_e(note)}</p>' for note in night.notes),
            "<ul>", *(f"<li>{_e(line)}</li>" for line in limits(info)), "</ul>"]
