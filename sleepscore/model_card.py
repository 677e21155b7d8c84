"""A model's card for people: what it takes, what it was trained on, how it scored, its limits.

Everything comes from the model's own ``sleepscore.*`` metadata (:class:`~sleepscore.model.ModelInfo`),
so the card of any contract model can be shown without its training files. Used by
``sleepscore info`` (:func:`card_tables`, a terminal card) and by the HTML night report.

``trained_on`` and ``metrics`` are free-form JSON in the contract; the card reads what this
project's exporter writes (``dataset``, ``channels``, ``subjects`` or ``train_subjects``,
``nights``, ``metrics_protocol``, ``final_model``; metrics per protocol with ``n_nights`` and
``pooled`` ``n_epochs``, ``accuracy``, ``macro_f1``, ``kappa``) and leaves anything else to
``sleepscore info --json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from .model import ModelInfo
from .protocols import label_of

if TYPE_CHECKING:
    from rich.table import Table


class HeldOutMetrics(NamedTuple):
    """Pooled held-out agreement of a model under one protocol (None where not reported)."""

    protocol: str
    description: str
    n_nights: int | None
    n_epochs: int | None
    accuracy: float | None
    macro_f1: float | None
    kappa: float | None


def held_out_metrics(info: ModelInfo) -> list[HeldOutMetrics]:
    """The pooled held-out metrics of each protocol the model's metadata reports.

    Parameters
    ----------
    info : ModelInfo
        A model's metadata (``load_model(path).info``).

    Returns
    -------
    list of HeldOutMetrics
        One per protocol, in the metadata's order; protocols whose entry is not an object with
        pooled (or top-level) accuracy, macro-F1 or kappa are left out.

    Examples
    --------
    >>> from sleepscore.model import load_model
    >>> rows = held_out_metrics(load_model().info)  # doctest: +SKIP
    >>> rows[0].protocol, round(rows[0].kappa, 3)  # doctest: +SKIP
    ('30min', 0.766)
    """
    rows = []
    metrics = info.metrics if isinstance(info.metrics, dict) else {}
    for protocol, entry in metrics.items():
        if not isinstance(entry, dict):
            continue
        pooled = entry.get("pooled", entry)
        if not isinstance(pooled, dict):
            continue
        values = {key: _number(pooled.get(key)) for key in ("accuracy", "macro_f1", "kappa")}
        if all(value is None for value in values.values()):
            continue
        rows.append(HeldOutMetrics(protocol, label_of(protocol),
                                   _count(entry.get("n_nights")), _count(pooled.get("n_epochs")),
                                   **values))
    return rows


def input_line(info: ModelInfo) -> str:
    """What the model reads, in one line, e.g. ``spectral-v1 features of EEG Fpz-Cz + EEG Pz-Oz
    (V, 100 Hz, 30-s epochs)``."""
    kind = f"{info.feature_set} features" if info.input == "features" else "raw signal"
    return (f"{kind} of {' + '.join(info.channels)} ({info.unit}, {info.fs:g} Hz, "
            f"{info.epoch_s:g}-s epochs)")


def training_line(info: ModelInfo) -> str:
    """The training data in one line, e.g. ``sleep-edf20-features: 16 nights of 8 subjects
    (00-07)``."""
    trained = info.trained_on
    if not isinstance(trained, dict):
        return str(trained)
    dataset = str(trained.get("dataset", "unknown data"))
    if trained.get("simulated_recordings"):
        dataset += f" (SIMULATED: {trained['simulated_recordings']} of {trained.get('recordings', '?')} recordings)"
    subjects = trained.get("subjects") or trained.get("train_subjects")
    nights = trained.get("nights") or trained.get("train_nights")
    amount = []
    if isinstance(nights, list):
        amount.append(f"{len(nights)} nights")
    if isinstance(subjects, list) and subjects:
        span = (f"{subjects[0]}-{subjects[-1]}" if len(subjects) > 2 else ", ".join(map(str, subjects)))
        amount.append(f"{len(subjects)} subjects ({span})")
    return f"{dataset}: {' of '.join(amount)}" if amount else dataset


def limits(info: ModelInfo) -> list[str]:
    """What the model's numbers do and do not promise, one sentence each, from its metadata."""
    trained = info.trained_on if isinstance(info.trained_on, dict) else {}
    lines = [f"Trained on {training_line(info)}, channels {', '.join(_trained_channels(info))}; "
             "recordings unlike these (other montages, ages, "
             "disorders, scorers) may score worse than the held-out metrics say."]
    if trained.get("simulated_recordings"):
        lines.append("Its training and test nights were simulated: its metrics say the code "
                     "works, not how well it scores people.")
    for key in ("metrics_protocol", "final_model"):
        if trained.get(key):
            lines.append(f"{str(trained[key])[0].upper()}{str(trained[key])[1:]}.")
    return lines


def card_tables(info: ModelInfo) -> list[Table]:
    """The terminal card of ``sleepscore info``: a short key/value table and the metrics table.

    Examples
    --------
    >>> from rich.console import Console
    >>> from sleepscore.model import load_model
    >>> for table in card_tables(load_model().info):  # doctest: +SKIP
    ...     Console().print(table)
    """
    from rich.table import Table

    card = Table(title=info.path.name, show_header=False, box=None)
    card.add_column("key", style="bold")
    card.add_column("value", overflow="fold")
    card.add_row("architecture", info.architecture)
    card.add_row("input", input_line(info))
    card.add_row("channels", ", ".join(info.channels))
    card.add_row("trained on", training_line(info))
    card.add_row("version", f"sleepscore {info.version}")
    rows = held_out_metrics(info)
    if not rows:
        card.add_row("held-out metrics", "none in its metadata")
        return [card]
    metrics = Table(title="Held-out metrics (pooled)",
                    caption="clinical-length = each night cut to ±30 min around sleep before "
                            "scoring; per-class F1, confusion matrices and the protocols' "
                            "definitions: sleepscore info --json")
    metrics.add_column("Protocol", no_wrap=True)
    for column in ("Nights", "Epochs", "Accuracy", "Macro-F1", "Kappa"):
        metrics.add_column(column, justify="right")
    for row in rows:
        metrics.add_row(row.description, _cell(row.n_nights), _cell(row.n_epochs),
                        _cell(row.accuracy), _cell(row.macro_f1), _cell(row.kappa))
    return [card, metrics]


def _trained_channels(info: ModelInfo) -> list[str]:
    trained = info.trained_on if isinstance(info.trained_on, dict) else {}
    channels = trained.get("channels")
    return [str(c) for c in channels] if isinstance(channels, list) else list(info.channels)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _cell(value: float | int | None) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.3f}"
