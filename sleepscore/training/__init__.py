"""Training (needs the ``train`` extra: torch). Nothing on the predict path imports this package.

Every network maps ``x`` of shape ``[batch, seq, ...]`` to logits ``[batch, seq, 5]`` and is
trained by the same loop and exported by the same ONNX path (``docs/model-contract.md``).
"""
