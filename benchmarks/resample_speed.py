"""The numpy resampler against scipy's, by block size, and what the channel choice saves.

In one process, on 8 h of white noise at 256 and 512 Hz taken to 100 Hz: wall and CPU time (user +
system, all threads) of ``sleepscore.resample.resample_poly`` at several ``_BLOCK_SAMPLES`` and of
``scipy.signal.resample_poly``, median of ``--repeats`` calls after one warm-up call. CPU time well
above wall time means OpenBLAS ran a second thread. Then the time to start an onnxruntime session
for each shipped model against reading its declared channels from the file
(``sleepscore.contract.declared_channels``), which is what the channel choice now does for the
two-channel model on a file without its channels.

    python -m benchmarks.resample_speed --repeats 7
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np

from benchmarks._common import load, machine, now, write_result

HOURS = 8
BLOCKS = (1 << 13, 1 << 14, 1 << 15, 1 << 16)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(call, repeats: int) -> tuple[float, float]:  # noqa: ANN001 - a no-argument callable
    """Median (wall s, CPU s) of ``repeats`` calls after a warm-up call."""
    call()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), _cpu_s()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu_s() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from scipy.signal import resample_poly as scipy_resample_poly

    import sleepscore.resample as resample
    from sleepscore.contract import declared_channels
    from sleepscore.model import SleepModel, shipped_models_dir

    load_before = load()
    rows = []
    default_block = resample._BLOCK_SAMPLES
    for fs, (up, down) in ((256, (25, 64)), (512, (25, 128))):
        x = np.random.default_rng(0).normal(size=fs * 3600 * HOURS)
        for block in BLOCKS:
            resample._BLOCK_SAMPLES = block
            wall, cpu = timed(lambda: resample.resample_poly(x, up, down), args.repeats)
            shipped = " (shipped)" if block == default_block else ""
            rows.append(f"| {fs} Hz | sleepscore, blocks of 2^{block.bit_length() - 1}{shipped} | {wall:.3f} | {cpu:.3f} |")
        resample._BLOCK_SAMPLES = default_block
        wall, cpu = timed(lambda: scipy_resample_poly(x, up, down), args.repeats)
        rows.append(f"| {fs} Hz | scipy.signal.resample_poly | {wall:.3f} | {cpu:.3f} |")
    models = []
    for path in sorted(shipped_models_dir().glob("*.onnx")):
        session, _ = timed(lambda: SleepModel(path), args.repeats)
        channels, _ = timed(lambda: declared_channels(path), args.repeats)
        models.append(f"| `{path.name}` | {session:.3f} | {channels:.4f} |")
    write_result("resample_speed", f"""# Resampling and channel-choice costs, in process

- Date: {now()}
- Command: `python -m benchmarks.resample_speed --repeats {args.repeats}`
- Machine: {machine()}
- Load average (1/5/15 min) before: {load_before}; after: {load()}.
- Data: {HOURS} h of white noise (float64) per rate, taken to 100 Hz. Median of {args.repeats} calls
  after one warm-up call; CPU = user + system time of all threads.

| input | resampler | wall s | CPU s |
| --- | --- | --- | --- |
{chr(10).join(rows)}

| model | onnxruntime session start (s) | declared channels read from the file (s) |
| --- | --- | --- |
{chr(10).join(models)}
""")


if __name__ == "__main__":
    main()
