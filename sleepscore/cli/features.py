"""``sleepscore features``: the per-epoch spectral-v1 features of a recording as CSV."""

from __future__ import annotations

from pathlib import Path

import click

from .common import split_channels, warn


@click.command()
@click.argument("psg", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV of per-epoch spectral-v1 features.")
@click.option("--channels", default="EEG Fpz-Cz,EEG Pz-Oz", show_default=True,
              help="Comma-separated file channels, in column order. Matching ignores case, spaces "
                   "and EEG/EOG prefixes.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def features(psg: Path, output: Path, channels: str, force: bool) -> None:
    """Write the per-epoch spectral-v1 features of PSG (the shipped models' input).

    Columns: epoch, onset_s, then CHANNEL:FEATURE for delta, theta, alpha, beta, gamma log band
    powers, theta/alpha and alpha/delta log-power ratios, log variance and Hjorth mobility,
    computed on the signal in volts at 100 Hz.
    """
    from ..features import feature_names
    from ..io.writers import check_output, write_feature_table
    from ..pipeline import read_model_input

    check_output(output, force)
    model_input = read_model_input(psg, split_channels(channels))
    for message in model_input.recording.warnings:
        warn(message)
    if model_input.dropped_s:
        warn(f"{psg.name}: the last {model_input.dropped_s:g} s do not fill a 30-s epoch and were left out")
    write_feature_table(output, model_input.x, feature_names(model_input.recording.channels), force=force)
