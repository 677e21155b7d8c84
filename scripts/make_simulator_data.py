"""Refit the simulator's packaged reference (``sleepscore/data/simulator.npz``) from Sleep-EDF.

Reads the 153 real cassette scorings and the 16 real feature files of a Sleep-EDF folder
(``shared/data/sleep-edf``; see ``sleepscore.simulate.reference_dir``), fits the per-stage
spectral model and writes the result into the package, so that ``sleepscore simulate`` needs
no real data on the machines it runs on.

Usage: ``python scripts/make_simulator_data.py [SLEEP_EDF_DIR]`` (``make simulator-data``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sleepscore.errors import SleepscoreError
from sleepscore.simulate import load_reference, reference_dir, save_reference

TARGET = Path(__file__).resolve().parents[1] / "sleepscore" / "data" / "simulator.npz"


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: make_simulator_data.py [SLEEP_EDF_DIR]", file=sys.stderr)
        return 2
    try:
        # reference_dir resolves the default folder: load_reference(None) is the packaged file.
        reference = load_reference(reference_dir(argv[0] if argv else None))
        save_reference(reference, TARGET)
    except SleepscoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"wrote {TARGET} ({TARGET.stat().st_size / 1024:.0f} KiB, {len(reference.nights)} nights)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
