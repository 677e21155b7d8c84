"""Splitting a night's epochs over threads: every row once, whole blocks, and the same results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import sleepscore.epochs as epochs_module
from sleepscore.epochs import epoch_quality
from sleepscore.threads import run_in_threads


@pytest.mark.parametrize("n_rows, threads, min_rows, align", [
    (1, 2, 4, 1), (10, 4, 4, 2), (1000, 2, 128, 32), (1000, 3, 100, 32), (257, 8, 16, 16), (5, 1, 1, 1),
])
def test_ranges_cover_every_row_once_in_aligned_ranges(n_rows, threads, min_rows, align):
    seen, lock = [], threading.Lock()

    def work(rows):
        with lock:
            seen.append(rows)

    run_in_threads(work, n_rows, threads, min_rows, align)
    covered = np.concatenate([np.arange(r.start, r.stop) for r in seen])
    np.testing.assert_array_equal(np.sort(covered), np.arange(n_rows))
    assert all(r.start % align == 0 for r in seen)
    assert len(seen) == max(1, min(threads, n_rows // min_rows))
    if len(seen) > 1:
        assert min(r.stop - r.start for r in seen) >= min_rows - align


def test_a_threads_error_reaches_the_caller():
    def work(rows):
        if rows.start > 0:
            raise ValueError("bad rows")

    with pytest.raises(ValueError, match="bad rows"):
        run_in_threads(work, 100, threads=2, min_rows=10)


def test_quality_flags_do_not_change_with_threads(monkeypatch):
    rng = np.random.default_rng(3)
    epochs = rng.normal(0, 20e-6, (700, 2, 3000))
    epochs[10, 0] = 0.0                      # flat
    epochs[400:402, 1, :500] = 200e-6        # clipped at the upper rail
    epochs[650, 0, 7] = np.nan
    alone = epoch_quality(epochs, [-200e-6, -200e-6], [200e-6, 200e-6])
    used = set()
    chunk_size = epochs_module._EPOCHS_PER_CHUNK
    original = np.isnan
    # Each thread's first call waits for the other's: on a loaded machine the pool could otherwise
    # give both ranges to its first thread, finished with one before the second was handed out.
    both_started = threading.Barrier(2, timeout=30)

    def recording_isnan(x, *args, **kwargs):
        if threading.get_ident() not in used:
            used.add(threading.get_ident())
            both_started.wait()
        return original(x, *args, **kwargs)

    monkeypatch.setattr(epochs_module.np, "isnan", recording_isnan)
    shared = epoch_quality(epochs, [-200e-6, -200e-6], [200e-6, 200e-6], threads=2)
    monkeypatch.undo()
    assert len(used) == 2 and len(epochs) >= 2 * 2 * chunk_size
    for name in ("flat", "clipped", "nan"):
        np.testing.assert_array_equal(getattr(shared, name), getattr(alone, name))
    assert alone.flat[10, 0] and alone.clipped[400:402, 1].all() and alone.nan[650, 0]
    assert alone.any.sum() == 4
