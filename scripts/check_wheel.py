"""Check that a built wheel carries what a user needs and nothing of the development clone.

The wheel must hold the shipped models (each ONNX file with its card), the two default models
among them, and the simulator's package data, and weigh at most 4 MiB: no checkpoints, training
logs or metrics JSON, and no model trained on simulated nights.

Usage: ``python scripts/check_wheel.py dist/sleepscore-*.whl``; prints the wheel's size and
models, or one line per problem and exits 1.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path, PurePosixPath

from sleepscore.model import ANY_EEG_MODEL, DEFAULT_MODEL

MAX_BYTES = 4 * 2**20
MODELS = PurePosixPath("sleepscore/shipped_models")
REQUIRED = (MODELS / DEFAULT_MODEL, MODELS / ANY_EEG_MODEL,
            PurePosixPath("sleepscore/data/simulator.npz"), PurePosixPath("sleepscore/data/README.md"))
#: Training by-products: useful in the clone, dead weight (and a 6-MB checkpoint) in the wheel.
DEVELOPMENT_SUFFIXES = (".pt", ".log")


def wheel_problems(wheel: Path) -> list[str]:
    """One line per way ``wheel`` breaks the rules above; empty when it keeps them all."""
    with zipfile.ZipFile(wheel) as archive:
        names = {PurePosixPath(name) for name in archive.namelist()}
    found = [f"missing {path}" for path in REQUIRED if path not in names]
    size = wheel.stat().st_size
    if size > MAX_BYTES:
        found.append(f"{wheel.name} is {size / 2**20:.2f} MiB, over {MAX_BYTES / 2**20:.0f} MiB")
    for path in sorted(names):
        if path.suffix in DEVELOPMENT_SUFFIXES:
            found.append(f"{path}: a training by-product")
        elif MODELS in path.parents and (path.parent != MODELS or path.suffix not in (".onnx", ".md")):
            found.append(f"{path}: only models/*.onnx and models/*.md belong in the wheel")
        elif MODELS in path.parents and "simulated" in path.name:
            found.append(f"{path}: a model trained on simulated nights")
        elif path.parent == MODELS and path.suffix == ".onnx" and path.with_suffix(".md") not in names:
            found.append(f"{path}: its card {path.with_suffix('.md').name} is missing")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: check_wheel.py WHEEL", file=sys.stderr)
        return 2
    wheel = Path(argv[0])
    try:
        found = wheel_problems(wheel)
    except (OSError, zipfile.BadZipFile) as err:
        print(f"error: {wheel}: not a readable wheel ({err})", file=sys.stderr)
        return 1
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if found:
        return 1
    with zipfile.ZipFile(wheel) as archive:
        models = sorted(PurePosixPath(n).name for n in archive.namelist()
                        if PurePosixPath(n).parent == MODELS and n.endswith(".onnx"))
    print(f"{wheel.name}: {wheel.stat().st_size / 2**20:.2f} MiB, models {', '.join(models)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
