"""Stage labels: the vocabulary hypnogram readers understand, and user label maps.

Labels are R&K (``W 1 2 3 4 R M ?``, ``MT``), AASM (``W N1 N2 N3 R REM``, ``N4``), Sleep-EDF
(``Sleep stage W``, ``Movement time``) and vendor EDF+ spellings (``Sleep stage N2``,
``Stage 2``, ``Stage 2 sleep``, ``SLEEP-S2``, ``SLEEP-S0`` for wake, ``SLEEP-REM``,
``REM sleep``, ``Wake``, ``Sleep_stage_N2``), case-insensitive. R&K 3 and 4 both become N3.
Movement time, ``?``, ``Unscored`` and lights markers are not stages: their epochs are unscored
(-1) and excluded from every metric. Integer-coded text files (``0`` = W ...) need a label map
(:func:`parse_label_map`): without one ``0`` is an unknown label and ``1``-``4`` are read as R&K
stage numbers (so ``4`` is N3). The NSRR XML codes (0 W, 1-4, 5 REM, 6 movement, 9 unscored)
are fixed by the format, and DREAMS scorings are recognised by their header and read with their
own codes (:data:`sleepscore.io.hypnogram.DREAMS_CODES`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping, Sequence

from .errors import DataError, UsageError
from .stages import UNSCORED


_STAGE_TOKENS: dict[str, int] = {
    "w": 0, "wake": 0, "awake": 0, "s0": 0,
    "1": 1, "n1": 1, "s1": 1,
    "2": 2, "n2": 2, "s2": 2,
    "3": 3, "4": 3, "n3": 3, "n4": 3, "s3": 3, "s4": 3,
    "r": 4, "rem": 4,
    "?": UNSCORED, "m": UNSCORED, "mt": UNSCORED, "unscored": UNSCORED,
}


# Every stage token also appears in the vendor phrasings around it: "Sleep stage 2" (Sleep-EDF),
# "Sleep stage N2", "Stage 2", "SLEEP-S2" (Compumedics EDF+), "Stage 2 sleep" and "REM sleep"
# (NSRR).
_PHRASINGS = ("{}", "sleep stage {}", "stage {}", "sleep {}", "stage {} sleep", "{} sleep")


LABELS: dict[str, int] = {
    **{form.format(token): code for form in _PHRASINGS for token, code in _STAGE_TOKENS.items()},
    **dict.fromkeys(["movement time", "movement", "not scored", "l", "lights",
                     "lights off", "lights on"], UNSCORED),
}


def parse_label_map(value: str) -> dict[str, str]:
    """Parse the CLI's ``--label-map``: inline ``CODE=STAGE`` pairs, or a file of them.

    Parameters
    ----------
    value : str
        ``"0=W,1=N1,2=N2,3=N3,4=REM"``; or the path of a file holding either one
        ``CODE=STAGE`` pair a line (blank lines and ``#`` comments ignored) or a JSON object
        ``{"0": "W", "1": "N1", ...}``. Stages are any label :func:`read_hypnogram` knows
        (``W``, ``N1``, ``N2``, ``N3``, ``REM``, ``R``, ``?`` ...).

    Returns
    -------
    dict of str to str
        Code → stage name, ready for :func:`read_hypnogram`'s ``label_map``.

    Raises
    ------
    UsageError
        If the value is neither a file nor pairs, a pair or the JSON is malformed, a code is
        repeated, or a stage is unknown.

    Examples
    --------
    >>> parse_label_map("0=W, 1=N1, 2=N2, 3=N3, 4=REM, 9=?")["4"]
    'REM'
    """
    file = Path(value)
    if file.is_file():
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"--label-map {value}: cannot read it ({err})") from None
        if text.lstrip().startswith("{"):
            mapping = _json_label_map(value, text)
        else:
            pairs = [line.split("#", 1)[0] for line in text.splitlines()]
            mapping = _pairs_label_map(value, [pair for pair in pairs if pair.strip()])
    elif "=" in value:
        mapping = _pairs_label_map(value, value.split(","))
    else:
        raise UsageError(f"--label-map {value!r} is neither a file nor CODE=STAGE pairs "
                         "such as 0=W,1=N1,2=N2,3=N3,4=REM")
    compile_label_map(mapping)
    return mapping


def _pairs_label_map(value: str, pairs: Sequence[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        code, sep, stage = pair.partition("=")
        code, stage = code.strip(), stage.strip()
        if not sep or not code or not stage:
            raise UsageError(f"--label-map {value}: {pair.strip()!r} is not CODE=STAGE")
        if normalise_label(code) in map(normalise_label, mapping):
            raise UsageError(f"--label-map {value}: code {code!r} is given twice")
        mapping[code] = stage
    if not mapping:
        raise UsageError(f"--label-map {value}: no CODE=STAGE pair in it")
    return mapping


def _json_label_map(value: str, text: str) -> dict[str, str]:
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"--label-map {value}: invalid JSON ({err})") from None
    if not isinstance(mapping, dict) or not all(isinstance(stage, str)
                                                for stage in mapping.values()):
        raise UsageError(f"--label-map {value}: JSON must be an object of code to stage name "
                         'strings, e.g. {"0": "W", "1": "N1"}')
    return mapping


def compile_label_map(label_map: Mapping[str, str] | None) -> dict[str, int]:
    """Built-in labels overlaid with the user's map, keyed by normalised label."""
    labels = dict(LABELS)
    for code, stage in (label_map or {}).items():
        if normalise_label(stage) not in LABELS:
            raise UsageError(f"label map: {code!r} maps to {stage!r}, which is not a stage "
                             "(use W, N1, N2, N3, REM or ? for unscored)")
        labels[normalise_label(code)] = LABELS[normalise_label(stage)]
    return labels


def normalise_label(label: str) -> str:
    # "SLEEP-S2" and "Sleep_stage_N2" read as "sleep s2" and "sleep stage n2"; a hyphen that
    # does not join two words ("-1") is kept.
    label = re.sub(r"(?<=[A-Za-z])[-_](?=[A-Za-z0-9?])", " ", label)
    return " ".join(label.split()).lower()


_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


def is_integer_label(label: str) -> bool:
    """Whether a label is an integer code (``"5"``, ``" -2 "``) rather than a stage name."""
    return _INTEGER.fullmatch(label) is not None


def guess_label_map(codes: Sequence[str]) -> str:
    """A ``--label-map`` for a file's integer codes, after the common conventions, to show the user.

    0-3 are W, N1, N2, N3; REM is 5 where 5 occurs (R&K files and the NSRR, with 4 for stage 4,
    or ISRUC, without it), else 4; anything else is unscored. Only ever shown as an example: the
    codes mean what the file's lab says.

    Examples
    --------
    >>> guess_label_map(["0", "1", "2", "3", "5"])
    '0=W,1=N1,2=N2,3=N3,5=REM'
    >>> guess_label_map(["0", "1", "2", "3", "4", "9"])
    '0=W,1=N1,2=N2,3=N3,4=REM,9=?'
    """
    values = sorted({int(code) for code in codes})
    stages = {0: "W", 1: "N1", 2: "N2", 3: "N3", 4: "N3" if 5 in values else "REM", 5: "REM"}
    return ",".join(f"{value}={stages.get(value, '?')}" for value in values)


def stage_code(path: Path, where: str, label: str, labels: Mapping[str, int],
               file_codes: Sequence[str] = ()) -> int:
    """The stage code of ``label``, or a :class:`DataError` naming the file, place and label.

    ``file_codes`` are the file's integer labels, for the hint on an unknown integer code.
    """
    code = labels.get(normalise_label(label))
    if code is not None:
        return code
    hint = ""
    if is_integer_label(label) and file_codes:
        listed = ", ".join(sorted({code.strip() for code in file_codes}, key=int))
        hint = (f" (integer stage codes need a label map; this file's are {listed}: e.g. "
                f"--label-map {guess_label_map(file_codes)})")
    elif is_integer_label(label):
        hint = " (integer stage codes need a label map, e.g. --label-map 0=W,1=N1,2=N2,3=N3,4=REM)"
    raise DataError(f"{path}: {where}: unknown stage label {label.strip()!r}{hint}")
