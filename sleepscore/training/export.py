"""Export trained networks as self-describing ONNX files (``docs/model-contract.md``).

The graph takes the unnormalised input ``x`` and returns softmax ``probs``; everything in between
(per-recording standardisation, ensembling) is part of the exported network, so any onnxruntime
user can run the file without sleepscore.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from ..contract import DISTANCE, INPUT, PROBS, contract_metadata

__all__ = ["OPSET", "contract_metadata", "export_onnx"]

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
    outputs = [PROBS, DISTANCE] if with_distance else [PROBS]
    example = torch.from_numpy(np.asarray(example_input, dtype=np.float32))[None]
    buffer = io.BytesIO()
    # The TorchScript exporter (dynamo=False) works offline and keeps the GRU as one ONNX op.
    axes = {name: {0: "batch", 1: "seq"} for name in [INPUT, *outputs]}
    torch.onnx.export(wrapped, (example,), buffer, input_names=[INPUT], output_names=outputs,
                      dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    model = onnx.load_from_string(buffer.getvalue())
    for key, value in metadata.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
