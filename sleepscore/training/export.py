"""Export trained networks as self-describing ONNX files (``docs/model-contract.md``).

The graph takes the unnormalised input ``x`` and returns softmax ``probs``; everything in between
(per-recording standardisation, ensembling) is part of the exported network, so any onnxruntime
user can run the file without sleepscore.
"""

from __future__ import annotations

import io
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from ..stages import EPOCH_S, STAGES, TARGET_FS

OPSET = 17


class _Probabilities(nn.Module):
    """Appends the softmax the contract asks for to a logits network."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).softmax(dim=-1)


class _ProbabilitiesAndDistance(_Probabilities):
    """The contract's ``probs`` and the optional ``distance`` output (per-epoch distance of the
    input to the training data, see ``docs/model-contract.md``)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.network(x).softmax(dim=-1), self.network.input_distance(x)


def sleepscore_version() -> str:
    """Version of the installed sleepscore (the ``sleepscore.version`` metadata)."""
    try:
        return version("sleepscore")
    except PackageNotFoundError:
        # A clone run without installing: pyproject.toml is the source of the version.
        import tomllib

        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
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
    return {f"sleepscore.{key}": value for key, value in meta.items()}


def export_onnx(network: nn.Module, path: str | Path, metadata: dict[str, str],
                example_input: np.ndarray) -> Path:
    """Write ``network`` (logits) as a contract ONNX file: input ``x``, softmax output ``probs``.

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``[batch, seq, ...]`` to logits ``[batch, seq, 5]``; put in eval mode here.
    path : str or Path
        Output ``.onnx`` file (parent folders are created).
    metadata : dict of str to str
        From :func:`contract_metadata`; stored as ``metadata_props``.
    example_input : np.ndarray
        One night's input ``[seq, ...]`` to trace with; batch and sequence axes stay dynamic.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with_distance = getattr(network, "measures_distance", False)
    wrapped = (_ProbabilitiesAndDistance if with_distance else _Probabilities)(network).eval()
    outputs = ["probs", "distance"] if with_distance else ["probs"]
    example = torch.from_numpy(np.asarray(example_input, dtype=np.float32))[None]
    buffer = io.BytesIO()
    # The TorchScript exporter (dynamo=False) works offline and keeps the GRU as one ONNX op.
    axes = {name: {0: "batch", 1: "seq"} for name in ["x", *outputs]}
    torch.onnx.export(wrapped, (example,), buffer, input_names=["x"], output_names=outputs,
                      dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    model = onnx.load_from_string(buffer.getvalue())
    for key, value in metadata.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
