"""Training nights read from PSG files (``--dataset sleep-edf20`` or ``folder``).

The literature protocol for raw-signal networks on Sleep-EDF: Fpz-Cz at 100 Hz, S3+S4 -> N3,
``?`` and movement unscored, ±30 min around the sleep period. Feature networks get the same
nights as ``spectral-v1`` features of the whole recording, because at predict time they see
the whole recording too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..datasets import SIMULATION_MARK, get_dataset, load_nights
from ..io.edf import read_header
from .data import Night
from .recipes import registered_architecture


def nights_for_training(dataset: str, data_dir: str | Path | None, arch: str,
                        channels: list[str] | None, subjects: list[int] | None = None
                        ) -> tuple[list[Night], list[str], dict[str, Any]]:
    """Read every night of ``dataset`` in the input kind ``arch`` takes.

    Parameters
    ----------
    dataset : str
        A registered dataset of PSG files (:data:`sleepscore.datasets.DATASETS`): ``sleep-edf20``
        (from ``data_dir`` when the files are there, else downloaded) or ``folder`` (the
        PSG/hypnogram pairs of ``data_dir``, :func:`sleepscore.datasets.pair_folder`).
    data_dir : str or Path, optional
        Where the files are (required for ``folder``).
    arch : str
        Registered architecture; decides raw epochs or features, and the trimming.
    channels : list of str, optional
        Input channels (default: the dataset's, Fpz-Cz).
    subjects : list of int, optional
        Subjects of a published dataset (default: all of them).

    Returns
    -------
    (list of Night, list of str, dict)
        The nights, the channel labels in input order, and their provenance for the model's
        ``trained_on`` metadata and card: ``recordings``, ``simulated_recordings`` (those written
        by :mod:`sleepscore.simulate`, whose EDF header's recording field carries the mark, so
        that a model trained on simulated nights can never pass for one trained on real data) and
        ``trimmed_when_read`` (raw networks read ±30 min around sleep, the literature protocol,
        so their whole-recording metrics cover those epochs only).
    """
    spec = get_dataset(dataset)
    pairs = spec.pairs(data_dir, subjects)
    channels = list(channels or spec.channels)
    features = registered_architecture(arch).input_kind == "features"
    # Feature networks see the whole recording at predict time, so they train on it whole.
    nights = load_nights(pairs, channels, spec, trim="none" if features else None,
                         input_kind="features" if features else "raw")
    provenance = {"recordings": len(pairs),
                  "simulated_recordings": sum(SIMULATION_MARK in read_header(pair.psg).recording for pair in pairs),
                  "trimmed_when_read": not features}
    return nights, channels, provenance
