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

from ..contract import DISTANCE, GAMMA_EXCESS, INPUT, PROBS, contract_metadata

__all__ = ["OPSET", "contract_metadata", "export_onnx"]

OPSET = 17


class _ContractOutputs(nn.Module):
    """A logits network's softmax ``probs``, then the optional per-epoch outputs it offers:
    ``distance`` (of the input to the training data) and ``gamma_excess`` (muscle)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.outputs = [PROBS]
        if getattr(network, "measures_distance", False):
            self.outputs.append(DISTANCE)
        if getattr(network, "reports_gamma_excess", False):
            self.outputs.append(GAMMA_EXCESS)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = [self.network(x).softmax(dim=-1)]
        if DISTANCE in self.outputs:
            outputs.append(self.network.input_distance(x))
        if GAMMA_EXCESS in self.outputs:
            outputs.append(self.network.gamma_excess(x))
        return tuple(outputs)


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
    wrapped = _ContractOutputs(network).eval()
    outputs = wrapped.outputs
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
