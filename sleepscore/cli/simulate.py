"""``sleepscore simulate``: Sleep-EDF-shaped nights for tests and demos."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--nights", type=click.IntRange(1, 153), default=2, show_default=True,
              help="Nights to write, two per simulated subject.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of everything random.")
@click.option("--hours", type=click.FloatRange(0.5, 24), help="Shorten every night to this many hours.")
@click.option("--reference", type=click.Path(file_okay=False, path_type=Path),
              help="Refit the simulator to this folder of real Sleep-EDF material "
                   "(default: the fit shipped in the package).")
def simulate(outdir: Path, nights: int, seed: int, hours: float | None, reference: Path | None) -> None:
    """Write simulated Sleep-EDF-shaped PSG/hypnogram pairs into OUTDIR.

    Stage sequences are real expert scorings; the EEG is simulated to match the real per-stage
    spectral statistics. For testing and demos only: never report accuracy on these nights as
    accuracy on real data.
    """
    from ..simulate import load_reference, simulate_dataset

    pairs = simulate_dataset(outdir, nights, seed, hours=hours,
                             reference=load_reference(reference) if reference else None)
    for pair in pairs:
        click.echo(f"{pair.psg}\t{pair.hypnogram}")
