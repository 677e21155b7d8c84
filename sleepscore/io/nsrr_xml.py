"""NSRR XML hypnograms: the two layouts SHHS, MESA, MrOS, CFS and most NSRR cohorts ship.

- **Compumedics/Profusion** (``<CMPStudyConfig>``): ``<EpochLength>`` seconds and
  ``<SleepStages>`` holding one ``<SleepStage>`` code per epoch from the recording start.
- **NSRR annotations** (``<PSGAnnotation>``): ``<ScoredEvents>`` of ``<ScoredEvent>`` with
  ``<EventType>`` (``Stages|Stages`` for staging; other events such as arousals are skipped),
  ``<EventConcept>`` (``Stage 2 sleep|2``), ``<Start>`` and ``<Duration>`` in seconds from the
  recording start.

Both number their stages alike (:data:`PROFUSION_CODES`): 0 wake, 1-4 R&K stages, 5 REM, 6
movement, 9 unscored.

The files come from outside, so they are parsed with expat directly and refused when they
declare a DOCTYPE or an entity: no entity is ever expanded, internal (billion laughs) or
external (file or network reads). Only the layout is read here; :mod:`sleepscore.io.hypnogram`
turns the labels into stages and checks the times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from ..errors import DataError

#: Stage code of both layouts → a label :mod:`sleepscore.io.hypnogram` reads (6 is movement,
#: which this project leaves unscored as it does R&K movement time).
PROFUSION_CODES: dict[str, str] = {"0": "W", "1": "N1", "2": "N2", "3": "N3", "4": "N4",
                                   "5": "REM", "6": "MT", "9": "?"}


@dataclass(frozen=True)
class XmlEpochs:
    """A Profusion ``<SleepStages>`` list: one label per ``epoch_s`` from the recording start."""

    labels: list[str]
    epoch_s: float


@dataclass(frozen=True)
class XmlEvents:
    """NSRR staging events, in file order; ``numbers`` are their 1-based ``<ScoredEvent>``
    positions among all scored events, for messages."""

    onsets: list[float]
    durations: list[float]
    labels: list[str]
    numbers: list[int]


def looks_like_xml(head: bytes) -> bool:
    """True when a file's first bytes start an XML document (after an optional BOM)."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def read_nsrr_xml(path: Path) -> XmlEpochs | XmlEvents:
    """Read either NSRR layout.

    Parameters
    ----------
    path : Path
        The XML file.

    Returns
    -------
    XmlEpochs or XmlEvents
        ``XmlEpochs`` for ``<CMPStudyConfig>`` files, ``XmlEvents`` for ``<PSGAnnotation>``.
        Labels are stage names such as ``N2`` (from the numeric codes) or, for an
        ``EventConcept`` without a known code, its name part (``Stage 2 sleep``).

    Raises
    ------
    DataError
        If the file is not well-formed XML, declares a DOCTYPE or an entity, has another root
        element, lacks the staging elements, or holds a bad number (naming the element).

    Examples
    --------
    >>> read_nsrr_xml(Path("shhs1-200001-nsrr.xml")).labels[:2]  # doctest: +SKIP
    ['W', 'W']
    """
    root = _parse(path)
    name = _local(root.tag)
    if name == "CMPStudyConfig":
        return _profusion(path, root)
    if name == "PSGAnnotation":
        return _scored_events(path, root)
    raise DataError(f"{path}: XML root element <{name}> is neither <CMPStudyConfig> "
                    "(Profusion) nor <PSGAnnotation> (NSRR), so it is not a known hypnogram")


def _parse(path: Path) -> Element:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read it ({err.strerror})") from None
    builder = TreeBuilder()
    parser = expat.ParserCreate()

    def refuse(*_: object) -> NoReturn:
        raise DataError(f"{path}: XML declares a DOCTYPE or an entity (line "
                        f"{parser.CurrentLineNumber}); hypnogram files need neither, and they "
                        "are refused rather than expanded")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as err:
        raise DataError(f"{path}: not well-formed XML ({expat.ErrorString(err.code)} at line "
                        f"{err.lineno})") from None
    return builder.close()


def _local(tag: str) -> str:
    """Element name without a namespace prefix (``cmp:SleepStage`` → ``SleepStage``)."""
    return tag.rsplit(":", 1)[-1]


def _child(parent: Element, name: str) -> Element | None:
    return next((child for child in parent if _local(child.tag) == name), None)


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _number(path: Path, where: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}: {where}: {text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise DataError(f"{path}: {where}: {text!r} is not a finite, non-negative number of seconds")
    return value


def _profusion(path: Path, root: Element) -> XmlEpochs:
    stages = _child(root, "SleepStages")
    if stages is None:
        raise DataError(f"{path}: Profusion XML has no <SleepStages> element")
    labels = []
    for number, element in enumerate((e for e in stages if _local(e.tag) == "SleepStage"), 1):
        code = _text(element)
        if code not in PROFUSION_CODES:
            raise DataError(f"{path}: <SleepStage> {number}: unknown stage code {code!r} "
                            f"(expected one of {', '.join(PROFUSION_CODES)})")
        labels.append(PROFUSION_CODES[code])
    if not labels:
        raise DataError(f"{path}: Profusion XML has an empty <SleepStages> element")
    length = _child(root, "EpochLength")
    if length is None:
        raise DataError(f"{path}: Profusion XML has no <EpochLength> element")
    epoch_s = _number(path, "<EpochLength>", _text(length))
    if epoch_s == 0:
        raise DataError(f"{path}: <EpochLength> is 0")
    return XmlEpochs(labels, epoch_s)


def _scored_events(path: Path, root: Element) -> XmlEvents:
    events = _child(root, "ScoredEvents")
    if events is None:
        raise DataError(f"{path}: NSRR XML has no <ScoredEvents> element")
    staged = XmlEvents([], [], [], [])
    for number, event in enumerate((e for e in events if _local(e.tag) == "ScoredEvent"), 1):
        # "Stages|Stages" in NSRR files; compare the part before the bar, which names the type.
        if _text(_child(event, "EventType")).split("|")[0].strip().lower() != "stages":
            continue
        where = f"<ScoredEvent> {number}"
        concept = _text(_child(event, "EventConcept"))
        name, _, code = concept.rpartition("|")
        staged.labels.append(PROFUSION_CODES.get(code.strip(), name or concept))
        staged.onsets.append(_number(path, f"{where} <Start>", _text(_child(event, "Start"))))
        staged.durations.append(_number(path, f"{where} <Duration>",
                                        _text(_child(event, "Duration"))))
        staged.numbers.append(number)
    if not staged.labels:
        raise DataError(f"{path}: NSRR XML has no staging event (<EventType>Stages|Stages"
                        "</EventType>) among its <ScoredEvents>")
    return staged
