"""Which EEG channels of a recording to score: standard derivations in a documented order.

Clinical PSG files name the same derivation many ways (``C4-M1``, ``C4-A1``, ``EEG C4-M1``,
``C4:M1``, ``EEG C4-A1``, ``C4/M1``, ``C4_M1``, ``C4M1``). :func:`derivation_key` reduces a label
to one spelling, and :func:`choose_eeg` takes the first derivation of :data:`EEG_PRIORITY` the file
has, else any other channel that looks like EEG, and then a second derivation from the farthest
other scalp region the file has, for the single-EEG model to score each alone and combine. EOG,
EMG, ECG and the respiratory and oximetry channels are never taken for EEG.

Why this order: the AASM scores sleep on central derivations first (C4-M1, backup C3-M2), with
frontal ones for slow waves and occipital ones for alpha; the Sleep-EDF derivations the models
were trained on (Fpz-Cz, Pz-Oz) are rare in clinics and come last only because a file that has
both is scored by the two-channel model before this list is consulted. Linked ears (``C4-LE``,
MASS's ``C4-LER`` and ``C4-CLE``, ``C4-A1A2``) are a reference as far from the scalp as the
contralateral mastoid, so such a derivation follows the mastoid ones of its region. Bipolar chains
(``Fp2-F4``, ``F4-C4``, ``C4-P4``, ``P4-O2``, as in CAP files) contribute the two links that
look most like the Sleep-EDF derivations: parietal-occipital (``P4-O2``, Pz-Oz's geometry one
hemisphere over) and frontopolar-frontal (``Fp2-F4``, eye movements and frontal slow waves like
Fpz-Cz). A derivation against some other reference (``EEG C4-REF``, ``C4-AVG``) ranks by its
active electrode, after every standard derivation.

Many recorders export each electrode against one common reference (``C4``, ``A1`` or ``EEG
C4-REF``, ``EEG A1-REF``) rather than as derivations. The difference of two such channels is the
derivation between their electrodes, since the common reference cancels: :func:`referenced_pairs`
finds them, and a standard derivation the file lacks but can build this way (``C4-M1`` from
``C4-REF`` and ``A1-REF``) is a candidate at its place in :data:`EEG_PRIORITY`, after the file's
own channel of the same rank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import DataError

#: Standard EEG derivations in the order they are chosen (:func:`derivation_key` spellings).
EEG_PRIORITY: tuple[str, ...] = (
    "c4-m1", "c3-m2", "c4-m2", "c3-m1", "cz-m1", "cz-m2", "c4-le", "c3-le", "cz-le",
    "f4-m1", "f3-m2", "f4-m2", "f3-m1", "fz-m1", "fz-m2", "f4-le", "f3-le", "fz-le",
    "o2-m1", "o1-m2", "o2-m2", "o1-m1", "o2-le", "o1-le",
    "fpz-cz", "pz-oz", "p4-o2", "p3-o1", "fp2-f4", "fp1-f3",
    "c4", "c3", "cz", "f4", "f3", "o2", "o1",
)
_PRIORITY_RANK = {key: i for i, key in enumerate(EEG_PRIORITY)}
# Words and electrode names of channels that are never EEG. E1/E2 (LOC/ROC) are the AASM's EOG
# electrodes, so `E1-M2` is an eye channel even though it is referred to a mastoid like EEG.
_NOT_EEG = re.compile(
    r"eog|emg|ecg|ekg|chin|leg|tib|resp|spo2|sao2|flow|thor|abd|snor|pos|light|marker|event|"
    r"temp|pleth|pulse|\bhr\b|cpap|pres|sum|nasal|oral|belt|effort|\be[12]\b|\bloc\b|\broc\b|"
    r"\blat\b|\brat\b|\bdc\d|\bmic\b|audio|oxy")
# 10-20 (and 10-10) electrode names: a label made of them, alone, as a pair or against a common
# reference (the recorder's, the average, linked ears), is EEG.
_ELECTRODE = r"(?:fp[z12]|af[z3478]|f[z1-8]|fc[z1-6]|c[z1-6]|cp[z1-6]|t[3-8]|tp[78]|p[z1-8]|po[z3478]|o[z12]|m[12]|a[12])"
_COMMON_REFERENCE = r"(?:ref|avg|ave|ar|le)"
# Spellings of a linked-ears reference, each read as ``le``: after a separator, at the end.
_LINKED_EARS = re.compile(
    r"(?<=[\s:/_-])(?:ler|cle|lnk|le|a1a2|m1m2|\(?[am]1\s*\+\s*[am]2\)?(?:\s*/\s*2)?)\s*$")
# Two electrode names written without a separator (``C4M1``, ``C3A2``).
_JOINED = re.compile(rf"^({_ELECTRODE})({_ELECTRODE})$")
_EEG_LABEL = re.compile(rf"^{_ELECTRODE}(?:-(?:{_ELECTRODE}|{_COMMON_REFERENCE}))?$")
# An electrode against a reference of any name (another electrode, REF, AVG, LE...), or alone.
_REFERENCED = re.compile(rf"^({_ELECTRODE})(?:-([a-z0-9]+))?$")
_EAR = ("m1", "m2")


def derivation_key(label: str) -> str:
    """One spelling per derivation: lower case, no ``EEG`` word, ``-`` between electrodes, A1/A2 as
    M1/M2, any linked-ears reference as ``le``.

    Earlobe (A1, A2) and mastoid (M1, M2) references are treated as the same derivation, as
    clinical scorers do.

    Examples
    --------
    >>> [derivation_key(s) for s in ["EEG C4-A1", "C4:M1", "c4/m1", "C4_M1", "C4M1", "EEG Fpz-Cz"]]
    ['c4-m1', 'c4-m1', 'c4-m1', 'c4-m1', 'c4-m1', 'fpz-cz']
    >>> [derivation_key(s) for s in ["EEG C3-LER", "EEG C3-CLE", "C3-(A1+A2)/2", "C3-A1A2"]]
    ['c3-le', 'c3-le', 'c3-le', 'c3-le']
    """
    key = re.sub(r"^\s*eeg[\s_-]*", "", label.strip().lower()).strip()
    key = _LINKED_EARS.sub("le", key)  # first: "(A1+A2)/2" holds a separator
    key = re.sub(r"\s*[:/_]\s*|\s+-\s*|\s*-\s+|\s+", "-", key)
    key = _JOINED.sub(r"\1-\2", key)
    return re.sub(r"\ba([12])\b", r"m\1", key)


def is_eeg(label: str) -> bool:
    """Whether a channel label names an EEG derivation (never EOG, EMG, ECG or respiration).

    Examples
    --------
    >>> [is_eeg(s) for s in ["EEG C4-M1", "C3:A2", "C4-Ref", "E1-M2", "EOG horizontal", "EMG Chin", "O2"]]
    [True, True, True, False, False, False, True]
    """
    lowered = label.strip().lower()
    if _NOT_EEG.search(re.sub(r"^\s*eeg\b", "", lowered)):
        return False
    return lowered.startswith("eeg") or bool(_EEG_LABEL.match(derivation_key(label)))


@dataclass(frozen=True)
class ChannelChoice:
    """The EEG channels chosen for a recording, and why.

    Attributes
    ----------
    labels : list of str
        The file's labels of the chosen channels (or the names of derivations built from two of
        its channels, see :func:`referenced_pairs`), in :data:`EEG_PRIORITY` order.
    reason : str
        One line for the user: which rule picked them.
    """

    labels: list[str]
    reason: str


def derivation_name(key: str) -> str:
    """The conventional spelling of a :func:`derivation_key`.

    Examples
    --------
    >>> [derivation_name(k) for k in ["c4-m1", "fpz-cz", "o2"]]
    ['C4-M1', 'Fpz-Cz', 'O2']
    """
    return "-".join(e.upper().replace("Z", "z").replace("FP", "Fp") for e in key.split("-"))


def referenced_pairs(labels: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The derivations that two EEG channels recorded against one common reference make.

    Two channels ``X-R`` and ``Y-R`` (or ``X`` and ``Y``, referenced alike) give the derivation
    ``X-Y`` as their difference: the reference cancels. A derivation two references could give
    is built from the channels first in the file.

    Returns
    -------
    dict
        :func:`derivation_key` of ``X-Y`` → (label of ``X-R``, label of ``Y-R``).

    Examples
    --------
    >>> referenced_pairs(["EEG C4-REF", "EEG A1-REF", "EOG E1-REF"])["c4-m1"]
    ('EEG C4-REF', 'EEG A1-REF')
    >>> referenced_pairs(["EEG Fpz-Cz", "EEG Pz-Oz"])
    {}
    """
    by_reference: dict[str, list[tuple[str, str]]] = {}
    for label in labels:
        parts = _REFERENCED.match(derivation_key(label)) if is_eeg(label) else None
        if parts:
            by_reference.setdefault(parts[2] or "", []).append((parts[1], label))
    pairs: dict[str, tuple[str, str]] = {}
    for reference, channels in by_reference.items():
        for active, active_label in channels:
            for other, other_label in channels:
                if len({active, other, reference}) == 3:
                    pairs.setdefault(f"{active}-{other}", (active_label, other_label))
    return pairs


def _rank(key: str) -> int:
    """Place of a derivation in :data:`EEG_PRIORITY`, else of its active electrode; a mastoid or
    earlobe channel against some reference last of all."""
    active = key.split("-")[0]
    return _PRIORITY_RANK.get(key, _PRIORITY_RANK.get(active, len(EEG_PRIORITY) + (active in _EAR)))


def eeg_candidates(labels: Sequence[str], rates: Sequence[float] | None = None,
                   min_rate: float = 50.0) -> list[str]:
    """The EEG-looking labels of a file, in :data:`EEG_PRIORITY` order, then in file order, with
    the standard derivations the file can build from referential channels (:func:`referenced_pairs`)
    among them under their :func:`derivation_name`.

    Channels sampled below ``min_rate`` Hz (when ``rates`` are given) are left out: they cannot
    be resampled to the models' 100 Hz without losing the bands the models read.

    Examples
    --------
    >>> eeg_candidates(["E1-M2", "EEG O2-M1", "Chin", "EEG C3-M2", "EEG F4-M1"])
    ['EEG C3-M2', 'EEG F4-M1', 'EEG O2-M1']
    >>> eeg_candidates(["EEG O1-REF", "EEG C3-REF", "EEG A2-REF", "EOG E1-REF"])
    ['C3-M2', 'O1-M2', 'EEG C3-REF', 'EEG O1-REF', 'EEG A2-REF']
    """
    usable = [label for i, label in enumerate(labels)
              if is_eeg(label) and (rates is None or rates[i] >= min_rate)]
    own = {derivation_key(label) for label in usable}
    built = [derivation_name(key) for key in referenced_pairs(usable)
             if key in EEG_PRIORITY and key not in own]
    order = usable + built
    return sorted(order, key=lambda label: (_rank(derivation_key(label)), order.index(label)))


#: Scalp regions of the standard derivations, by their active electrode's first letter.
REGIONS: dict[str, str] = {"c": "central", "f": "frontal", "o": "occipital", "p": "occipital"}
#: Per region of the first derivation chosen, the regions a second one is taken from, in order:
#: the farthest the file has. Derivations far apart see sleep differently (frontal slow waves and
#: eye movements, posterior alpha); Fpz-Cz with Pz-Oz is the pair whose combination was measured
#: (``benchmarks/results/derivations.md``). Each derivation costs a read, a resampling and a pass
#: of the model (about 0.06 s on an 8-h 256-Hz night), and the speed targets of
#: ``benchmarks/results/clinical_vs_peers.md`` leave room for two, not every one.
SECOND_REGION: dict[str, tuple[str, ...]] = {"central": ("occipital", "frontal"),
                                             "frontal": ("occipital", "central"),
                                             "occipital": ("frontal", "central")}


def choose_eeg(path: str | Path, labels: Sequence[str], rates: Sequence[float] | None = None) -> ChannelChoice:
    """The EEG channels a single-EEG model scores in this file, each alone.

    The first EEG candidate (:func:`eeg_candidates`: the first standard derivation in
    :data:`EEG_PRIORITY` order), then, when it is a standard derivation, the first standard
    two-electrode derivation of the farthest other scalp region the file has
    (:data:`SECOND_REGION`). ``predict`` scores each alone and combines their stage probabilities
    (:func:`sleepscore.model.combine_derivations`).

    Parameters
    ----------
    path : str or Path
        The recording, named in messages.
    labels : sequence of str
        Its channel labels.
    rates : sequence of float, optional
        Their sampling rates in Hz.

    Returns
    -------
    ChannelChoice

    Raises
    ------
    DataError
        The file has no usable EEG channel; the message lists its channels and names ``--channels``.

    Examples
    --------
    >>> choose_eeg("night.edf", ["EEG F4-M1", "EEG C4-A1", "EEG C3-A2", "EOG E1-M2", "O2-M1"]).labels
    ['EEG C4-A1', 'O2-M1']
    >>> choose_eeg("night.edf", ["EEG F4-M1", "EEG C4-A1", "EEG C3-A2", "EOG E1-M2"]).labels
    ['EEG C4-A1', 'EEG F4-M1']
    >>> choose_eeg("night.edf", ["EEG T3-T5", "EOG E1-M2"]).labels
    ['EEG T3-T5']
    """
    candidates = eeg_candidates(labels, rates)
    if not candidates:
        listing = ", ".join(repr(label) for label in labels)
        raise DataError(f"{path}: no EEG channel found (none of {listing} is a sampled-at-50-Hz-or-"
                        "more EEG derivation); name one with --channels")
    chosen = candidates[:1]
    first = derivation_key(chosen[0])
    standard = first in EEG_PRIORITY
    by_region: dict[str, str] = {}
    for label in candidates[1:]:
        key = derivation_key(label)
        if key in EEG_PRIORITY and "-" in key:
            by_region.setdefault(REGIONS[key[0]], label)
    first_region = REGIONS.get(first[:1])
    if standard and first_region:
        chosen += [by_region[region] for region in SECOND_REGION[first_region] if region in by_region][:1]
    rule = ("the first standard derivation (C4-M1, C3-M2, ... order) in the file" if standard
            else "no standard derivation in the file, first EEG-looking channel")
    if len(chosen) > 1:
        rule += ", and the first of the farthest other scalp region"
    built = [f"'{label}' as '{anode}' minus '{cathode}'" for label in chosen if label not in labels
             for anode, cathode in [referenced_pairs(labels)[derivation_key(label)]]]
    if built:
        rule += f"; built {', '.join(built)}, recorded against one reference"
    others = [label for label in candidates if label not in chosen][:3]
    listed = ", ".join(f"'{label}'" for label in chosen)
    how = ", each alone, stages from their combined probabilities" if len(chosen) > 1 else ""
    return ChannelChoice(chosen, f"{Path(path).name}: scoring EEG channel{'s' * (len(chosen) > 1)} "
                                 f"{listed} ({rule}{how}"
                                 f"{'; other EEG: ' + ', '.join(others) if others else ''}; override with --channels)")
