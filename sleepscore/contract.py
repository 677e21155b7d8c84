"""The ONNX model contract (``docs/model-contract.md``) in one place: its metadata keys, names and
the encoding both the exporter (:mod:`sleepscore.training.export`) and the loader
(:mod:`sleepscore.model`) use.

A model is one ``.onnx`` file with an input ``x``, a softmax output ``probs`` (and optionally a
per-epoch ``distance`` and ``gamma_excess``), and ``sleepscore.*`` metadata saying which channels, unit, rate and input
kind it needs. Only the standard library is used here, so a model's contract can be read without
onnxruntime or the onnx package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .errors import DataError
from .stages import EPOCH_S, STAGES, TARGET_FS

#: The graph's input and outputs.
INPUT = "x"
PROBS = "probs"
DISTANCE = "distance"
#: Optional per-epoch output in [0, 1]: how far the 30-50 Hz power exceeds what the epoch's lower
#: bands predict (muscle), as ``spectral-robust``'s muscle gate measures it.
GAMMA_EXCESS = "gamma_excess"
#: The ``sleepscore.channels`` entry of a model that takes any one EEG derivation; the
#: pipeline picks the derivations (:func:`sleepscore.montage.choose_eeg`) and scores each alone.
ANY_EEG = "EEG"
METADATA_PREFIX = "sleepscore."
REQUIRED_KEYS = ("input", "channels", "unit", "fs", "epoch_s", "stages", "architecture",
                 "trained_on", "metrics", "version")
JSON_KEYS = ("channels", "stages", "trained_on", "metrics")


@dataclass(frozen=True)
class ModelInfo:
    """What a model declares about itself in its ``sleepscore.*`` metadata."""

    path: Path
    input: str
    channels: list[str]
    unit: str
    fs: float
    epoch_s: float
    stages: list[str]
    architecture: str
    trained_on: Any
    metrics: Any
    version: str
    feature_set: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def samples_per_epoch(self) -> int:
        return int(round(self.fs * self.epoch_s))


def sleepscore_version() -> str:
    """Version of the installed sleepscore (the ``sleepscore.version`` metadata)."""
    # Imported here: only export needs it, and importlib.metadata costs ~20 ms of predict's start-up.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sleepscore")
    except PackageNotFoundError:
        # A clone run without installing: pyproject.toml is the source of the version.
        import tomllib

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


def contract_metadata(*, input_kind: str, channels: list[str], architecture: str,
                      trained_on: dict[str, Any], metrics: dict[str, Any],
                      feature_set: str | None = None, unit: str = "V") -> dict[str, str]:
    """Every ``sleepscore.*`` metadata entry of the contract, as strings (JSON for structures).

    Parameters
    ----------
    input_kind : str
        ``"features"`` or ``"raw"``.
    channels : list of str
        EDF channel labels in input order.
    architecture : str
        Network name (the registry key).
    trained_on : dict
        Dataset, nights, subjects of each split and protocol.
    metrics : dict
        Held-out metrics, each under the name of the protocol that produced it.
    feature_set : str, optional
        Required for feature models (``"spectral-v1"``).
    unit : str
        Signal unit the extractor or network expects.

    Returns
    -------
    dict of str to str

    Examples
    --------
    >>> meta = contract_metadata(input_kind="features", channels=["EEG Fpz-Cz"],
    ...                          architecture="spectral-bigru", trained_on={}, metrics={},
    ...                          feature_set="spectral-v1")
    >>> meta["sleepscore.channels"], meta["sleepscore.epoch_s"]
    ('["EEG Fpz-Cz"]', '30')
    """
    if input_kind == "features" and not feature_set:
        raise ValueError("a features model needs its feature_set")
    meta = {
        "input": input_kind,
        "channels": json.dumps(channels),
        "unit": unit,
        "fs": f"{TARGET_FS:g}",
        "epoch_s": f"{EPOCH_S:g}",
        "stages": json.dumps(list(STAGES)),
        "architecture": architecture,
        "trained_on": json.dumps(trained_on),
        "metrics": json.dumps(metrics),
        "version": sleepscore_version(),
    }
    if feature_set:
        meta["feature_set"] = feature_set
    return {METADATA_PREFIX + key: value for key, value in meta.items()}


def decode_metadata(path: Path, props: dict[str, str]) -> ModelInfo:
    """The :class:`ModelInfo` of a model file's metadata ``props``; DataError names what breaks the contract."""
    ours = {k[len(METADATA_PREFIX):]: v for k, v in props.items() if k.startswith(METADATA_PREFIX)}
    missing = [METADATA_PREFIX + k for k in REQUIRED_KEYS if k not in ours]
    if ours.get("input") == "features" and "feature_set" not in ours:
        missing.append(METADATA_PREFIX + "feature_set")
    if missing:
        raise DataError(f"{path}: model breaks the contract, metadata lacks {', '.join(missing)}")
    values: dict[str, Any] = dict(ours)
    for key in JSON_KEYS:
        try:
            values[key] = json.loads(ours[key])
        except json.JSONDecodeError:
            raise DataError(f"{path}: model metadata {METADATA_PREFIX}{key} is not valid JSON") from None
    try:
        values["fs"] = float(ours["fs"])
        values["epoch_s"] = float(ours["epoch_s"])
    except ValueError:
        raise DataError(f"{path}: model metadata sleepscore.fs/epoch_s are not numbers") from None
    if values["input"] not in ("features", "raw"):
        raise DataError(f"{path}: model metadata sleepscore.input is {values['input']!r}, "
                        "expected 'features' or 'raw'")
    if list(values["stages"]) != list(STAGES):
        raise DataError(f"{path}: model stages {values['stages']} differ from {list(STAGES)}")
    if not isinstance(values["channels"], list) or not values["channels"]:
        raise DataError(f"{path}: model metadata sleepscore.channels must be a non-empty JSON list")
    known = set(REQUIRED_KEYS) | {"feature_set"}
    extra = {k: v for k, v in ours.items() if k not in known}
    return ModelInfo(path=path, extra=extra, **{k: values[k] for k in known if k in values})


def declared_channels(path: str | Path) -> list[str]:
    """The ``sleepscore.channels`` a model file declares, read without starting onnxruntime.

    Parsed from the ONNX protobuf by hand because onnxruntime shows metadata only through a full
    session (~0.03 s for the two-channel model, benchmarks/results/resample_speed.md) and the ``onnx`` package is no dependency: the
    channel choice asks the default model for its channels on every file, and most clinical files
    then go to the other model. Only the top-level ``metadata_props`` (field 14) are read.
    """
    path = Path(path)
    try:
        return list(json.loads(read_metadata_props(path)[METADATA_PREFIX + "channels"]))
    except (OSError, KeyError, ValueError, IndexError, TypeError):
        raise DataError(f"{path}: not a readable ONNX model with sleepscore.channels metadata") from None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7


def _length_delimited(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(field number, bytes) of each length-delimited field of one protobuf message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield key >> 3, data[pos:pos + length]
            pos += length
        else:
            raise ValueError(f"protobuf wire type {wire} at byte {pos}")


def read_metadata_props(path: Path) -> dict[str, str]:
    """Every ``metadata_props`` entry of an ONNX file, read from its protobuf bytes (see
    :func:`declared_channels` for why not through onnxruntime); ValueError or IndexError for
    bytes that are not a protobuf message."""
    props = {}
    for number, entry in _length_delimited(path.read_bytes()):
        if number == 14:  # ModelProto.metadata_props: StringStringEntryProto {key = 1, value = 2}
            fields = dict(_length_delimited(entry))
            props[fields.get(1, b"").decode()] = fields.get(2, b"").decode()
    return props
