"""Datasets described as data, folder pairing, the Sleep-EDF-20 download and night loading.

A dataset is a frozen :class:`DatasetSpec` (subjects, channels, label map, pairing rule, trim
protocol), in the spirit of U-Time's dataset configuration files: code reads the spec, it never
branches on the dataset's name.

Pairing rules
-------------
Sleep-EDF layout (:func:`pair_sleep_edf`)
    ``SC4ssNE0-PSG.edf`` is paired with the ``SC4ssN?-Hypnogram.edf`` that shares its first
    7 characters (``SC4001E0-PSG.edf`` <-> ``SC4001EC-Hypnogram.edf``).
Any folder (:func:`pair_folder`)
    Sleep-EDF-named files are paired as above. Every other ``NAME.edf`` (or ``NAME PSG.edf``,
    ``NAME-PSG.edf``) is paired with exactly one of ``NAME.tsv``, ``NAME.csv``, ``NAME.txt`` or a
    file named as a scoring (:func:`is_scoring_name`: ``hypnogram``, ``sleepscoring``, a last word
    ``base``) that starts with ``NAME`` and a separator or ends with a separator and
    ``NAME`` (any case, any extension: ``NAME-hypnogram.edf``, ``NAME_Hypnogram.txt``, DREAMS'
    ``Hypnogram_NAME.txt`` and ``HypnogramAASM_NAME.txt``, HMC's ``NAME_sleepscoring.edf``, MASS's
    ``NAME Base.edf``). An ``.edf`` named as a scoring is never a recording. Two candidates for
    one recording are an error, unless exactly one names AASM (DREAMS'
    ``HypnogramAASM_NAME.txt`` beside ``HypnogramR&K_NAME.txt``): that one is used and the
    others are named in a warning. A recording without hypnogram and a hypnogram-named file
    without recording are *unmatched*: an error naming them by default, a warning naming them
    with ``strict=False``. Other text files (``SHA256SUMS.txt``, a README, DREAMS' spindle
    scorings) are left alone, and named beside an unmatched recording.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from sleepscore.errors import DataError, UsageError
from sleepscore.stages import STAGES, UNSCORED

#: Rechtschaffen & Kales annotation texts of Sleep-EDF, mapped to stage codes (S3+S4 -> N3).
RK_LABELS: Mapping[str, int] = MappingProxyType({
    "Sleep stage W": 0,
    "Sleep stage 1": 1,
    "Sleep stage 2": 2,
    "Sleep stage 3": 3,
    "Sleep stage 4": 3,
    "Sleep stage R": 4,
    "Sleep stage ?": UNSCORED,
    "Movement time": UNSCORED,
})

#: Written into the EDF header's recording field of every PSG ``sleepscore simulate`` writes, and
#: looked for by training, so that a model trained on simulated nights says so in its metadata
#: and card whatever dataset the files were laid out as.
SIMULATION_MARK = "simulated"
SLEEP_EDF_NAME = re.compile(r"SC4(\d\d)(\d)")
_SLEEP_EDF_PSG = re.compile(r"(SC4\d{3}[A-Z])[A-Z0-9]-PSG\.edf", re.IGNORECASE)
_SLEEP_EDF_HYPNOGRAM = re.compile(r"(SC4\d{3}[A-Z])[A-Z0-9]-Hypnogram\.edf", re.IGNORECASE)
_TABLE_SUFFIXES = (".tsv", ".csv", ".txt")


@dataclass(frozen=True)
class Provenance:
    """Where a dataset's recordings come from, for model metadata and cards.

    Attributes
    ----------
    what : str
        What a model was trained on, with ``{nights}`` for the number of nights.
    title : str
        The dataset's published name (empty for a user's own folder).
    limits : str
        Markdown bullet lines for the model card's limits (population, scoring rules, input).
    source : str
        Where the files are published (empty for a user's own folder).
    licence : str
        Their licence (empty when unknown).
    simulated : bool
        Whether the dataset itself is simulated. Recordings written by ``sleepscore simulate``
        inside any dataset are also counted per training run (``simulated_recordings``).
    """

    what: str
    title: str = ""
    limits: str = ""
    source: str = ""
    licence: str = ""
    simulated: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset as data: what its files hold, how to pair and label them, where they come from.

    Attributes
    ----------
    name : str
        Name used on the command line and in model metadata (``trained_on.dataset``).
    files : {"psg", "features"}
        Recordings with hypnograms, or precomputed per-night spectral-v1 feature files.
    pairing : {"sleep-edf", "folder", "feature-files"}
        How recordings are found: Sleep-EDF names under a folder, else downloaded
        (:func:`fetch_recordings`); any user folder (:func:`pair_folder`); or the feature files
        of ``sleepscore.training.feature_files``.
    channels : tuple of str
        Default input channels (EDF labels).
    provenance : Provenance
        Where the recordings come from.
    subjects : tuple of int
        Subject ids that make up the dataset (empty: whatever the folder holds).
    nights : tuple of int
        Night numbers recorded per subject.
    missing_nights : tuple of (int, int)
        ``(subject, night)`` pairs that do not exist.
    available_channels : tuple of str
        Other channels of the same recordings that may be asked for.
    label_map : Mapping[str, int] or None
        Annotation text -> stage code (-1 = unscored: kept in sequences, out of loss and
        metrics); None: the hypnogram readers' own vocabulary.
    psg_pattern, hypnogram_pattern : re.Pattern or None
        Full-name patterns whose first group is the pairing key (``sleep-edf`` pairing).
    trim_minutes : float or None
        Raw-signal training keeps from this many minutes before the first to after the last
        sleep epoch (None: whole recording).
    fs : float
        Sampling rate the channels are used at.
    base_url : str
        Where missing files are downloaded from (``sleep-edf`` pairing).
    """

    name: str
    files: str
    pairing: str
    channels: tuple[str, ...]
    provenance: Provenance
    subjects: tuple[int, ...] = ()
    nights: tuple[int, ...] = ()
    missing_nights: tuple[tuple[int, int], ...] = ()
    available_channels: tuple[str, ...] = ()
    label_map: Mapping[str, int] | None = None
    psg_pattern: re.Pattern[str] | None = field(default=None, repr=False)
    hypnogram_pattern: re.Pattern[str] | None = field(default=None, repr=False)
    trim_minutes: float | None = None
    fs: float = 100.0
    base_url: str = ""

    def recordings(self, subjects: Iterable[int] | None = None) -> list[tuple[int, int]]:
        """``(subject, night)`` of every existing recording of ``subjects`` (default: all).

        Examples
        --------
        >>> len(SLEEP_EDF_20.recordings())
        39
        >>> SLEEP_EDF_20.recordings([13])
        [(13, 1)]
        """
        chosen = self.subjects if subjects is None else list(subjects)
        unknown = sorted(set(chosen) - set(self.subjects))
        if unknown:
            raise UsageError(f"{self.name} has subjects {_format_ranges(self.subjects)}; "
                             f"not {', '.join(map(str, unknown))}")
        return [(s, n) for s in chosen for n in self.nights if (s, n) not in self.missing_nights]

    def pairs(self, data_dir: str | Path | None = None,
              subjects: Sequence[int] | None = None) -> list[RecordingPair]:
        """The dataset's PSG/hypnogram pairs: the one place that acts on :attr:`pairing`.

        Parameters
        ----------
        data_dir : str or Path, optional
            Where the files are (required for ``folder``; for ``sleep-edf``, missing files are
            downloaded there).
        subjects : sequence of int, optional
            Subjects to take (``sleep-edf`` only; default: all).
        """
        if self.pairing == "sleep-edf":
            return fetch_recordings(self, self.subjects if subjects is None else subjects, data_dir)
        if self.pairing == "folder":
            if data_dir is None:
                raise UsageError(f"--dataset {self.name} needs --data-dir with PSG/hypnogram pairs")
            if subjects is not None:
                raise UsageError(f"--subjects selects subjects of a published dataset; --dataset "
                                 f"{self.name} uses all its pairs")
            return pair_folder(data_dir)
        raise UsageError(f"dataset {self.name} holds precomputed features, not PSG/hypnogram pairs")


@dataclass
class Night:
    """One recording, every 30-s epoch in time order.

    Attributes
    ----------
    name : str
        Recording name, e.g. ``"SC4001E0"``.
    subject : str
        Subject id; splits are made on this, never on nights.
    x : np.ndarray
        Per-epoch input: ``[n_epochs, n_features]`` for feature models,
        ``[n_epochs, n_channels, 3000]`` for raw models.
    y : np.ndarray
        int64 ``[n_epochs]``, 0-4 (W, N1, N2, N3, REM) or -1 for unscored epochs, which
        are kept in the sequence (the model sees them) but excluded from loss and metrics.
    other_derivations : np.ndarray or None
        For a one-channel recording cut from a multi-channel night: the same epochs as the
        night's other EEG derivations recorded them, ``[n_epochs, n_other, ...]`` (each entry
        shaped like one epoch of ``x``), for :func:`sleepscore.training.augment.mix_derivations`.
    """

    name: str
    subject: str
    x: np.ndarray
    y: np.ndarray
    other_derivations: np.ndarray | None = None


class RecordingPair(NamedTuple):
    """A recording and its hypnogram; unpacks as ``psg, hypnogram = pair``."""

    psg: Path
    hypnogram: Path

    @property
    def name(self) -> str:
        """The recording's name: ``SC4001E0`` for ``SC4001E0-PSG.edf``, else the file stem."""
        return re.sub(r"-PSG$", "", self.psg.stem, flags=re.IGNORECASE)


_SLEEP_EDF_LIMITS = """\
- Population: healthy adults aged 25-34 (Sleep-EDF-20 sleep cassette), ambulatory
  cassette recordings; no patients, children or elderly subjects.
- Scoring: one expert per night, Rechtschaffen & Kales rules (stages 3 and 4 merged into N3,
  `?` and movement time unscored); agreement with AASM-scored data will be lower.
"""
_PHYSIONET = "PhysioNet Sleep-EDF Database Expanded, sleep cassette (Kemp et al. 2000)"

SLEEP_EDF_20 = DatasetSpec(
    name="sleep-edf20",
    files="psg",
    pairing="sleep-edf",
    channels=("EEG Fpz-Cz",),
    provenance=Provenance(what="the PSG signals of {nights} nights of Sleep-EDF-20 (sleep cassette)",
                          title="Sleep-EDF-20", limits=_SLEEP_EDF_LIMITS, source=_PHYSIONET, licence="ODC-By 1.0"),
    subjects=tuple(range(20)),
    nights=(1, 2),
    missing_nights=((13, 2),),  # SC4132 was never recorded (PhysioNet, MNE's fetch_data docs)
    available_channels=("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"),
    label_map=RK_LABELS,
    psg_pattern=_SLEEP_EDF_PSG,
    hypnogram_pattern=_SLEEP_EDF_HYPNOGRAM,
    trim_minutes=30.0,
    base_url="https://physionet.org/physiobank/database/sleep-edfx/sleep-cassette/",
)

SLEEP_EDF_20_FEATURES = DatasetSpec(
    name="sleep-edf20-features",
    files="features",
    pairing="feature-files",
    channels=("EEG Fpz-Cz", "EEG Pz-Oz"),
    provenance=Provenance(
        what="real spectral features (`spectral-v1`) of {nights} nights of Sleep-EDF-20 (sleep cassette)",
        title="Sleep-EDF-20 features",
        limits=_SLEEP_EDF_LIMITS + """\
- Data: trained on precomputed `spectral-v1` features only, not on raw signals; the model
  needs the whole recording as one sequence (per-recording standardisation inside the graph).
""",
        source=_PHYSIONET + ", features computed from its PSG files", licence="ODC-By 1.0"),
    subjects=tuple(range(20)),
    nights=(1, 2),
    missing_nights=((13, 2),),
    label_map=RK_LABELS,
)

FOLDER = DatasetSpec(
    name="folder",
    files="psg",
    pairing="folder",
    # Sleep-EDF's channel and trimming, so that a folder of Sleep-EDF-like files trains as
    # Sleep-EDF does unless --channels says otherwise.
    channels=SLEEP_EDF_20.channels,
    provenance=Provenance(what="{nights} nights"),
    trim_minutes=30.0,
)

#: Every dataset by name; commands and training look names up here and read the spec.
DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(
    {spec.name: spec for spec in (SLEEP_EDF_20, SLEEP_EDF_20_FEATURES, FOLDER)})


def get_dataset(name: str) -> DatasetSpec:
    """The registered dataset ``name``; :class:`UsageError` naming the known ones otherwise."""
    if name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def subject_night(name: str) -> tuple[int, int]:
    """Subject id and night number of a Sleep-EDF cassette name (``SC4(\\d\\d)(\\d)``).

    Parameters
    ----------
    name : str
        File or recording name, e.g. ``"SC4012E0-PSG.edf"``.

    Returns
    -------
    tuple of int
        ``(subject, night)``.

    Examples
    --------
    >>> subject_night("SC4012E0-PSG.edf")
    (1, 2)
    """
    match = SLEEP_EDF_NAME.match(Path(name).name.upper())
    if match is None:
        raise DataError(f"{name}: not a Sleep-EDF cassette name (SC4ssN...), no subject id in it")
    return int(match.group(1)), int(match.group(2))


def parse_subjects(text: str) -> list[int]:
    """Parse a subject selection such as ``"15-19"`` or ``"0,3,5-7"``.

    Parameters
    ----------
    text : str
        Comma-separated non-negative integers and inclusive ranges ``a-b`` with ``a <= b``.

    Returns
    -------
    list of int
        Sorted, without duplicates.

    Examples
    --------
    >>> parse_subjects("0,3,5-7")
    [0, 3, 5, 6, 7]
    """
    subjects: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise UsageError(f"subjects {text!r}: {part.strip()!r} is not a number or a range a-b")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise UsageError(f"subjects {text!r}: range {part.strip()!r} runs backwards")
        subjects.update(range(first, last + 1))
    return sorted(subjects)


def subject_ids(text: str | None) -> list[str] | None:
    """Subject ids as training splits name them (:attr:`sleepscore.training.data.Night.subject`).

    Sleep-EDF numbers become two digits; other tokens, e.g. a folder dataset's subject names,
    are kept as written.

    Examples
    --------
    >>> subject_ids("6,7"), subject_ids("0-2"), subject_ids("lab-a")
    (['06', '07'], ['00', '01', '02'], ['lab-a'])
    """
    if text is None:
        return None
    ids: list[str] = []
    for token in (t.strip() for t in text.split(",") if t.strip()):
        if token.replace("-", "").isdigit():
            ids += [f"{number:02d}" for number in parse_subjects(token)]
        else:
            ids.append(token)
    return ids


def _format_ranges(values: Sequence[int]) -> str:
    """``0-19`` for a contiguous run, else the comma-joined values (for messages)."""
    ordered = sorted(values)
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}"
    return ",".join(map(str, ordered))


def _pair_by_key(psgs: Iterable[Path], hypnograms: Iterable[Path], spec: DatasetSpec
                 ) -> tuple[list[RecordingPair], list[Path]]:
    """Pair Sleep-EDF-named files by the key group of the spec's patterns; return the leftovers."""
    by_key: dict[str, list[Path]] = {}
    for hyp in hypnograms:
        by_key.setdefault(spec.hypnogram_pattern.fullmatch(hyp.name).group(1).upper(), []).append(hyp)
    pairs, unmatched = [], []
    used: set[str] = set()
    for psg in psgs:
        key = spec.psg_pattern.fullmatch(psg.name).group(1).upper()
        candidates = by_key.get(key, [])
        if len(candidates) > 1:
            raise DataError(f"{psg}: several hypnograms share its key {key}: "
                            f"{', '.join(c.name for c in candidates)}")
        if candidates:
            pairs.append(RecordingPair(psg, candidates[0]))
            used.add(key)
        else:
            unmatched.append(psg)
    unmatched += [h for key, hyps in by_key.items() if key not in used for h in hyps]
    return pairs, unmatched


def _report_unmatched(folder: Path, unmatched: list[Path], strict: bool,
                      other_text: Sequence[Path] = ()) -> None:
    if not unmatched:
        return
    names = ", ".join(p.name for p in sorted(unmatched))
    message = f"{folder}: {len(unmatched)} file(s) without a partner: {names}"
    if other_text:
        message += (" (text files not named after a recording, not taken as hypnograms: "
                    f"{', '.join(p.name for p in sorted(other_text))})")
    if strict:
        raise DataError(message)
    warnings.warn(message, stacklevel=3)


def pair_sleep_edf(folder: str | Path, spec: DatasetSpec = SLEEP_EDF_20, *,
                   strict: bool = True) -> list[RecordingPair]:
    """Pair the Sleep-EDF PSG and hypnogram files of one folder by their first 7 characters.

    Parameters
    ----------
    folder : str or Path
        Folder holding ``SC4ssNE0-PSG.edf`` and ``SC4ssN?-Hypnogram.edf`` files (other files
        are ignored).
    spec : DatasetSpec
        Whose ``psg_pattern``/``hypnogram_pattern`` define the files and the key.
    strict : bool
        Unmatched Sleep-EDF files raise :class:`DataError` (True) or warn (False).

    Returns
    -------
    list of RecordingPair
        Sorted by recording name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    pairs, unmatched = _pair_by_key([p for p in files if spec.psg_pattern.fullmatch(p.name)],
                                    [p for p in files if spec.hypnogram_pattern.fullmatch(p.name)],
                                    spec)
    _report_unmatched(folder, unmatched, strict)
    return sorted(pairs, key=lambda pair: pair.name)


# Names of sleep-stage scorings rather than recordings: Sleep-EDF's and DREAMS' "hypnogram", HMC's
# NAME_sleepscoring and MASS's "NAME Base.edf" beside "NAME PSG.edf". Not any "scoring": DREAMS'
# Visual_scoring1_NAME.txt scores spindles.
_SCORING_NAME = re.compile(r"hypnogram|sleep[-_ ]?scoring|(?:^|[-_. ])base$", re.IGNORECASE)
# A recording's name with its "PSG" word dropped is the name its scoring shares (MASS, many labs).
_PSG_WORD = re.compile(r"[-_. ]psg$", re.IGNORECASE)


def is_scoring_name(path: str | Path) -> bool:
    """Whether a file's name says it holds a scoring, not a recording.

    Examples
    --------
    >>> [is_scoring_name(n) for n in ["SC4001EC-Hypnogram.edf", "01-01-0001 Base.edf",
    ...                               "SN001_sleepscoring.edf", "database-night.edf", "SN001.edf"]]
    [True, True, True, False, False]
    """
    return _SCORING_NAME.search(Path(path).stem) is not None


def _is_hypnogram_candidate(path: Path) -> bool:
    return is_scoring_name(path) or path.suffix.lower() in _TABLE_SUFFIXES


def _hypnogram_of(path: Path, key: str) -> bool:
    """Whether ``path`` is a scoring-named file of the recording whose name, less a ``PSG``
    word, is ``key`` (lower case): its name starts with ``key`` and a separator, or ends with it
    after one."""
    pattern = re.escape(key)
    return (is_scoring_name(path)
            and re.search(rf"^{pattern}[-_. ]|[-_. ]{pattern}$", path.stem.lower()) is not None)


def _prefer_aasm(psg: Path, candidates: list[Path], used: set[Path]) -> list[Path]:
    """Of several scorings of one recording, the one alone in naming AASM (DREAMS ships
    ``HypnogramAASM_NAME.txt`` beside ``HypnogramR&K_NAME.txt``): the models score AASM stages.
    The others are set aside with a warning, not reported as unmatched."""
    aasm = [c for c in candidates if "aasm" in c.name.lower()]
    if len(candidates) < 2 or len(aasm) != 1:
        return candidates
    others = [c for c in candidates if c not in aasm]
    used.update(others)
    warnings.warn(f"{psg}: scored with {aasm[0].name}, the AASM scoring; "
                  f"{', '.join(c.name for c in others)} left out", stacklevel=3)
    return aasm


def pair_folder(folder: str | Path, *, strict: bool = True) -> list[RecordingPair]:
    """Pair every recording of a user's folder with its hypnogram (rule in the module docstring).

    Parameters
    ----------
    folder : str or Path
        Folder to pair (not searched recursively).
    strict : bool
        Unmatched recordings or hypnograms raise :class:`DataError` naming them (True) or are
        named in a warning and left out (False).

    Returns
    -------
    list of RecordingPair
        Sorted by recording name.

    Examples
    --------
    A folder with ``a.edf``, ``a.tsv``, ``b.edf`` and ``b-hypnogram.edf`` gives
    ``[RecordingPair(a.edf, a.tsv), RecordingPair(b.edf, b-hypnogram.edf)]``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    sleep_edf = [p for p in files if _SLEEP_EDF_PSG.fullmatch(p.name)
                 or _SLEEP_EDF_HYPNOGRAM.fullmatch(p.name)]
    pairs, unmatched = _pair_by_key([p for p in sleep_edf if _SLEEP_EDF_PSG.fullmatch(p.name)],
                                    [p for p in sleep_edf if _SLEEP_EDF_HYPNOGRAM.fullmatch(p.name)],
                                    SLEEP_EDF_20)
    others = [p for p in files if p not in sleep_edf]
    hypnograms = [p for p in others if _is_hypnogram_candidate(p)]
    used: set[Path] = set()
    for psg in others:
        if psg.suffix.lower() != ".edf" or is_scoring_name(psg):
            continue
        stem = psg.stem.lower()
        key = _PSG_WORD.sub("", stem)
        candidates = [h for h in hypnograms
                      if h.stem.lower() in (stem, key) and h.suffix.lower() in _TABLE_SUFFIXES
                      or _hypnogram_of(h, key)]
        candidates = _prefer_aasm(psg, candidates, used)
        if len(candidates) > 1:
            raise DataError(f"{psg}: several hypnograms match it: "
                            f"{', '.join(c.name for c in candidates)}")
        if candidates:
            pairs.append(RecordingPair(psg, candidates[0]))
            used.add(candidates[0])
        else:
            unmatched.append(psg)
    left = [h for h in hypnograms if h not in used]
    # A text file named after no recording and not as a hypnogram is some other file (PhysioNet's
    # SHA256SUMS.txt, a README, DREAMS' spindle scorings): left alone, but named when a recording
    # lacks its hypnogram, in case it is that hypnogram misnamed.
    unmatched += [h for h in left if is_scoring_name(h)]
    unnamed = [h for h in left if not is_scoring_name(h)]
    lonely = [u for u in unmatched if not is_scoring_name(u)]
    _report_unmatched(folder, unmatched, strict, unnamed if lonely else [])
    return sorted(pairs, key=lambda pair: pair.name)


def _find_local(data_dir: Path, spec: DatasetSpec) -> dict[tuple[int, int], RecordingPair]:
    """Sleep-EDF pairs anywhere under ``data_dir`` (MNE stores them in a ``physionet-sleep-data``
    subfolder, PhysioNet mirrors in ``sleep-cassette``), by ``(subject, night)``."""
    found: dict[tuple[int, int], RecordingPair] = {}
    for folder in sorted({p.parent for p in data_dir.rglob("*.edf")}):
        for pair in pair_sleep_edf(folder, spec, strict=False):
            found.setdefault(subject_night(pair.psg.name), pair)
    return found


def fetch_sleep_edf20(subjects: Iterable[int], data_dir: str | Path | None = None,
                      base_url: str | None = None) -> list[RecordingPair]:
    """:func:`fetch_recordings` of :data:`SLEEP_EDF_20`."""
    return fetch_recordings(SLEEP_EDF_20, subjects, data_dir, base_url)


def fetch_recordings(spec: DatasetSpec, subjects: Iterable[int], data_dir: str | Path | None = None,
                     base_url: str | None = None) -> list[RecordingPair]:
    """Local paths of the recordings of ``subjects`` of a Sleep-EDF-layout dataset, downloading what is missing.

    Files already under ``data_dir`` (any depth, Sleep-EDF names) are used as they are; the
    others are fetched by MNE's ``sleep_physionet.age.fetch_data`` into
    ``data_dir/physionet-sleep-data``, which checks each file against the SHA-1 in MNE's own
    record table. SC4132 (subject 13, night 2) was never recorded: asking for subject 13 gives its
    first night only, with a RuntimeWarning as MNE's ``on_missing="warn"`` gives.

    Parameters
    ----------
    subjects : iterable of int
        Subject ids, 0-19.
    data_dir : str or Path, optional
        Where to look for and store the files; None uses MNE's ``PHYSIONET_SLEEP_PATH`` config
        (default ``~/mne_data``).
    base_url : str, optional
        Mirror of PhysioNet's ``sleep-cassette`` folder (default: PhysioNet).

    Returns
    -------
    list of RecordingPair
        One ``(psg, hypnogram)`` per night, in subject then night order.
    """
    subjects = list(subjects)
    wanted = spec.recordings(subjects)  # rejects subjects outside the dataset before any download
    for subject, night in spec.missing_nights:
        if subject in subjects:
            # Warned as MNE's fetch_data(on_missing="warn") does, and skipped.
            warnings.warn(f"{spec.name}: subject {subject} night {night} was never recorded; "
                          "skipped", RuntimeWarning, stacklevel=2)
    local = _find_local(Path(data_dir), spec) if data_dir is not None else {}
    missing = [key for key in wanted if key not in local]
    fetched: dict[tuple[int, int], RecordingPair] = {}
    if missing:
        fetched = _download(missing, data_dir, base_url or spec.base_url)
    pairs = []
    for key in wanted:
        pair = local.get(key) or fetched.get(key)
        if pair is not None:
            pairs.append(pair)
    return pairs


def _download(recordings: list[tuple[int, int]], data_dir: str | Path | None,
              base_url: str) -> dict[tuple[int, int], RecordingPair]:
    """Fetch ``(subject, night)`` recordings through MNE; one-line DataErrors for network and
    checksum failures instead of pooch's and requests' tracebacks."""
    if importlib.util.find_spec("pooch") is None:
        raise UsageError("downloading Sleep-EDF needs the 'pooch' package (pip install pooch), "
                         "or pass --data-dir with the PhysioNet files")
    import requests
    from mne.datasets.sleep_physionet.age import fetch_data

    path = None if data_dir is None else str(data_dir)
    fetched: dict[tuple[int, int], RecordingPair] = {}
    for subject, night in recordings:
        # One call per night: a whole-subject call would re-download a night found locally
        # under another layout.
        try:
            paths = fetch_data(subjects=[subject], recording=[night], path=path,
                               on_missing="warn", base_url=base_url, verbose="error")
        except requests.exceptions.RequestException as err:
            raise DataError(
                f"could not download Sleep-EDF subject {subject} night {night} from {base_url} "
                f"({type(err).__name__}); offline, pass --data-dir with the PhysioNet files"
            ) from err
        except ValueError as err:  # pooch's hash mismatch; it deletes the partial download
            raise DataError(f"Sleep-EDF subject {subject} night {night} from {base_url}: "
                            f"checksum mismatch, file rejected ({_first_line(err)})") from err
        for psg, hypnogram in paths:
            fetched[(subject, night)] = RecordingPair(Path(psg), Path(hypnogram))
    return fetched


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def collect_pairs(inputs: Sequence[str | Path], dataset: str | None = None,
                  subjects: str | None = None, data_dir: str | Path | None = None
                  ) -> list[RecordingPair]:
    """PSG/hypnogram pairs from folders, explicit file pairs and/or a registered dataset.

    Parameters
    ----------
    inputs : sequence of str or Path
        Folders (paired by :func:`pair_folder`) and files, the files as PSG HYPNOGRAM pairs in
        that order.
    dataset : str, optional
        A :data:`DATASETS` name; its recordings of ``subjects`` are added (from ``data_dir``, else
        downloaded).
    subjects : str, optional
        ``"15-19"`` or ``"0,3,5-7"``; default: all of ``dataset``'s.
    data_dir : str or Path, optional
        Where ``dataset``'s files are or go.

    Returns
    -------
    list of RecordingPair
    """
    pairs = []
    loose = []
    for item in map(Path, inputs):
        if item.is_dir():
            pairs.extend(pair_folder(item))
        else:
            loose.append(item)
    if len(loose) % 2:
        raise UsageError(f"files must come as PSG HYPNOGRAM pairs; {loose[-1]} has no partner")
    pairs.extend(RecordingPair(psg, hyp) for psg, hyp in zip(loose[::2], loose[1::2]))
    if dataset is not None:
        pairs.extend(get_dataset(dataset).pairs(data_dir, parse_subjects(subjects) if subjects else None))
    elif subjects is not None:
        raise UsageError("--subjects needs --dataset")
    if not pairs:
        raise UsageError("no nights to evaluate: give folders, PSG HYPNOGRAM pairs or --dataset")
    return pairs


def load_nights(pairs: Iterable[tuple[str | Path, str | Path]],
                channels: Sequence[str] | None = None, spec: DatasetSpec = SLEEP_EDF_20,
                *, trim: str | None = None, input_kind: str = "raw") -> list[Night]:
    """Read recordings as training nights with the literature protocol of ``spec``.

    Each PSG is read with :func:`sleepscore.io.edf.read_psg` (volts, ``spec.fs``), cut into 30-s
    epochs, labelled from its hypnogram (R&K 3 and 4 -> N3, ``?`` and movement -> -1, labels
    past the signal cut) and trimmed (``spec.trim_minutes``: the ±30 min protocol).

    Parameters
    ----------
    pairs : iterable of (psg, hypnogram)
        E.g. from :func:`fetch_sleep_edf20` or :func:`pair_folder`.
    channels : sequence of str, optional
        EDF labels; default ``spec.channels`` (``EEG Fpz-Cz``).
    spec : DatasetSpec
        Gives the channels, rate and trimming.
    trim : str, optional
        A :data:`sleepscore.protocols.TRIMS` name overriding the spec's.
    input_kind : {"raw", "features"}
        The epochs themselves, or their spectral-v1 features (see
        :func:`sleepscore.pipeline.read_model_input`).

    Returns
    -------
    list of Night
        ``x`` float32 ``[n_epochs, n_channels, 3000]`` in volts (or ``[n_epochs, 9 * n_channels]``
        features), ``y`` int64; ``subject`` is
        the two-digit ``ss`` of Sleep-EDF names (as in the feature files), else the recording
        name.
    """
    from sleepscore.alignment import epoch_labels, trim_mask
    from sleepscore.io.hypnogram import read_hypnogram
    from sleepscore.pipeline import read_model_input

    channels = list(channels or spec.channels)
    # The spec's label map, not the reader's defaults, decides the stages: datasets are data.
    label_map = ({text: STAGES[code] if code != UNSCORED else "?" for text, code in spec.label_map.items()}
                 if spec.label_map is not None else None)
    protocol = trim or ("30min" if spec.trim_minutes == 30 else "none")
    if spec.trim_minutes not in (None, 30):
        raise UsageError(f"{spec.name}: only the ±30 min protocol is implemented for trimming, "
                         f"not ±{spec.trim_minutes:g} min")
    nights = []
    for psg, hypnogram in pairs:
        pair = RecordingPair(Path(psg), Path(hypnogram))
        model_input = read_model_input(pair.psg, channels, input_kind=input_kind, unit="V", fs=spec.fs)
        labels = epoch_labels(read_hypnogram(pair.hypnogram, label_map=label_map), len(model_input.x),
                              model_input.recording.start)
        keep = trim_mask(labels, protocol, source=pair.psg)
        match = SLEEP_EDF_NAME.match(pair.name.upper())
        subject = match.group(1) if match else pair.name
        # Features as predict computes them (from float64 epochs); raw epochs in float32, as the
        # networks take them, at half the memory.
        x = model_input.x if input_kind == "features" else model_input.x.astype(np.float32)
        nights.append(Night(pair.name, subject, x[keep], labels[keep]))
    return nights
