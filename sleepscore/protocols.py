"""Evaluation protocols: which epochs of a night count, and how the night is given to the model.

The one vocabulary that evaluation, training, the model cards, the CLI and the benchmarks share.
A protocol's ``name`` is the key its metrics are stored under (in the JSON summaries and in the
models' ``sleepscore.metrics``); its ``trim`` is the :func:`sleepscore.alignment.trim_mask` rule
that keeps the counted epochs; its ``scoring`` says what the model is given.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Trimming rules of :func:`sleepscore.alignment.trim_mask`.
TRIMS: tuple[str, ...] = ("none", "30min", "lights")
#: What the model is given: the whole recording; each night cut to the trim window first (a
#: clinical-length recording); or 30-min recordings cut one after another from the sleep period,
#: each scored alone (a nap, an MSLT trial, an excerpt).
SCORINGS: tuple[str, ...] = ("recording", "cut", "pieces")


@dataclass(frozen=True)
class Protocol:
    """One way of counting agreement.

    Attributes
    ----------
    name : str
        Key of its metrics.
    trim : str
        One of :data:`TRIMS`: the expert epochs that count.
    scoring : str
        One of :data:`SCORINGS`.
    label : str
        A few words, for a row of a metrics table (``sleepscore info``, the HTML report).
    description : str
        Short, for table titles.
    title : str
        Long, for model cards.
    """

    name: str
    trim: str
    scoring: str
    label: str
    description: str
    title: str


#: Every protocol, by name, in the order cards and summaries list them.
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("30min", "30min", "recording", "±30 min of whole recording",
             "from 30 min before the first to 30 min after the last sleep epoch (±30 min)",
             "±30 min (30 min before the first to 30 min after the last sleep epoch of each night)"),
    Protocol("whole", "none", "recording", "whole recording", "whole recording",
             "whole recording (every scored epoch, wake included)"),
    Protocol("lights", "lights", "recording", "lights-off to lights-on", "from lights-off to lights-on",
             "lights-off to lights-on (the lab's own recording period)"),
    Protocol("30min_recording", "30min", "cut", "clinical-length recording",
             "each night cut to ±30 min before scoring",
             "each night cut to its ±30-min window before scoring (a clinical-length recording, "
             "as the literature's models see it)"),
    Protocol("30min_pieces", "30min", "pieces", "30-min pieces, each alone",
             "30-min pieces of the sleep period, each scored alone",
             "30-min recordings cut one after another from each night's sleep period, each scored "
             "alone (naps, MSLT trials, excerpts)"),
)}
#: Epochs in one ``pieces`` recording (30 min).
PIECE_EPOCHS = 60


def by_trim(trim: str) -> Protocol:
    """The protocol that scores whole recordings and counts the ``trim`` epochs (``evaluate --trim``)."""
    return next(p for p in PROTOCOLS.values() if p.trim == trim and p.scoring == "recording")


def label_of(key: str) -> str:
    """The table label of a metrics key: a protocol name, or a trim (``evaluate --trim`` reports
    under the trim); anything else is shown as it is.

    Examples
    --------
    >>> label_of("30min_pieces"), label_of("none"), label_of("custom")
    ('30-min pieces, each alone', 'whole recording', 'custom')
    """
    if key in PROTOCOLS:
        return PROTOCOLS[key].label
    return by_trim(key).label if key in TRIMS else key
