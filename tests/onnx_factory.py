"""Builds tiny contract models (and broken ones) with onnx.helper, so model tests need no torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

STAGES = ["W", "N1", "N2", "N3", "REM"]


def contract_metadata(channels: list[str], input_kind: str = "features", **overrides: str) -> dict[str, str]:
    meta = {
        "sleepscore.input": input_kind,
        "sleepscore.channels": json.dumps(channels),
        "sleepscore.unit": "V",
        "sleepscore.fs": "100",
        "sleepscore.epoch_s": "30",
        "sleepscore.stages": json.dumps(STAGES),
        "sleepscore.architecture": "test-linear",
        "sleepscore.trained_on": json.dumps({"dataset": "none (test model)"}),
        "sleepscore.metrics": json.dumps({}),
        "sleepscore.version": "0.0.0",
    }
    if input_kind == "features":
        meta["sleepscore.feature_set"] = "spectral-v1"
    meta.update(overrides)
    return {k: v for k, v in meta.items() if v is not None}


def write_linear_model(path: Path, weights: np.ndarray, metadata: dict[str, str], *,
                       softmax: bool = True, n_outputs: int = 5, input_rank: int = 3) -> Path:
    """``probs = softmax(x @ weights)`` over the last axis of ``x [batch, seq, n_features]``.

    For a rank-4 raw input the per-epoch mean of each channel is taken first.
    """
    n_in = weights.shape[0]
    dims = ["batch", "seq", n_in] if input_rank == 3 else ["batch", "seq", n_in, "samples"]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    probs = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", "seq", n_outputs])
    w = numpy_helper.from_array(weights[:, :n_outputs].astype(np.float32), "w")
    nodes, source = [], "x"
    if input_rank == 4:
        axes = numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes")
        nodes.append(helper.make_node("ReduceMean", ["x", "axes"], ["xm"], keepdims=0))
        initializers = [w, axes]
        source = "xm"
    else:
        initializers = [w]
    nodes.append(helper.make_node("MatMul", [source, "w"], ["logits"]))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=-1) if softmax
                 else helper.make_node("Identity", ["logits"], ["probs"]))
    graph = helper.make_graph(nodes, "test", [x], [probs], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path
