"""``sleepscore evaluate``: agreement with expert hypnograms over many nights."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click

from ..errors import UsageError
from ..protocols import TRIMS, by_trim
from .common import (CHANNELS_HELP, LABEL_MAP_HELP, MODEL_HELP, ReportedError, hypnogram_epoch_option,
                     hypnogram_epoch_s, label_map_option, many_nights_options, nights_progress,
                     split_channels, warn)

#: The registry's datasets with PSG files to score, spelled out: reading them from
#: ``sleepscore.datasets`` would import numpy for ``--help``; tests/test_datasets.py pins them.
SCORABLE_DATASETS = ("sleep-edf20",)


@click.command()
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", type=click.Choice(SCORABLE_DATASETS),
              help="Evaluate on a known dataset (files from --data-dir or downloaded).")
@click.option("--subjects", help="Subjects of --dataset, e.g. '15-19' or '0,3,5-7'.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where --dataset's files are, or are downloaded to.")
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), help=MODEL_HELP)
@click.option("--channels", help=CHANNELS_HELP)
@click.option("--trim", type=click.Choice(list(TRIMS)), default="none",
              show_default=True, help="Epochs that count: whole recording, ±30 min around sleep, "
              "or lights-off to lights-on (needs --lights).")
@click.option("--lights", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Table of lights-off/on clock times per recording (like sc78-nights.tsv).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the full report (per night, pooled, mean ± SD) as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one row per night as CSV.")
@click.option("--label-map", help=LABEL_MAP_HELP)
@hypnogram_epoch_option
@many_nights_options
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and warnings.")
def evaluate(inputs: Sequence[Path], dataset: str | None, subjects: str | None,
             data_dir: Path | None, model: Path | None, channels: str | None, trim: str,
             lights: Path | None, report: Path | None, csv_path: Path | None,
             label_map: str | None, hypnogram_epoch: str | None, jobs: int,
             dask_scheduler: str | None, force: bool, quiet: bool) -> None:
    """Measure agreement with expert hypnograms over many nights.

    INPUTS are folders in the Sleep-EDF layout (SC4001E0-PSG.edf with SC4001EC-Hypnogram.edf)
    or named NAME.edf (or NAME PSG.edf) with NAME.tsv/.csv/.txt, NAME*hypnogram*,
    *hypnogram*_NAME.* (DREAMS; its AASM scoring over its R&K one), NAME_sleepscoring.* (HMC) or
    NAME Base.edf (MASS), and/or PSG HYPNOGRAM file pairs in that order. Nights that fail are listed with their reason and
    make the exit code 1; no report is written when no night could be scored.

    \b
    Examples:
      sleepscore evaluate sleep-cassette/ --trim 30min --report eval.json --jobs 2
      sleepscore evaluate a.edf a-hypnogram.edf b.edf b-hypnogram.edf
      sleepscore evaluate --dataset sleep-edf20 --subjects 15-19 --data-dir ~/sleep-edf
    """
    from ..datasets import collect_pairs
    from ..evaluation import evaluate as run_evaluation
    from ..io.lights import read_lights_table
    from ..io.writers import check_output, write_json

    for path in (report, csv_path):
        if path is not None:
            check_output(path, force)
    if trim == "lights" and lights is None:
        raise UsageError("--trim lights needs --lights TABLE with lights-off/on times")
    pairs = collect_pairs(inputs, dataset, subjects, data_dir)
    lights_table = read_lights_table(lights) if lights is not None else None
    with nights_progress(quiet) as progress:
        task = progress.add_task("scoring nights", total=len(pairs))
        outcome = run_evaluation(pairs, model, protocol=trim, lights=lights_table,
                                 label_map=label_map_option(label_map),
                                 channels=split_channels(channels),
                                 hypnogram_epoch_s=hypnogram_epoch_s(hypnogram_epoch),
                                 jobs=jobs, dask_scheduler=dask_scheduler,
                                 on_night=lambda night: progress.advance(task))
    for night in outcome.failed:
        warn(f"{night.name}: {night.error}")
    if not outcome.succeeded:
        raise ReportedError(f"none of the {len(outcome.nights)} nights could be scored, so no "
                            "report was written; the reasons are listed above", 1)
    if report is not None:
        write_json(report, outcome.to_dict(), force=force)
    if csv_path is not None:
        outcome.write_csv(csv_path, force)
    if not quiet:
        from rich.console import Console

        from ..report import confusion_table, per_night_table
        from ..scoring import EXPECTED_ACCURACY_CAVEAT
        console = Console()
        rows = [(night.name, night.agreement) for night in outcome.succeeded]
        console.print(per_night_table(rows, title=f"Agreement per night ({by_trim(trim).description})"))
        console.print(confusion_table(outcome.summary.pooled.confusion,
                                      title="Pooled confusion matrix (epochs)"))
        if outcome.expected_accuracy is not None:
            # Where the two part, the model's confidence does not hold on these recordings.
            console.print(f"pooled accuracy {outcome.summary.pooled.accuracy:.1%}; the model's confidence "
                          f"expected {outcome.expected_accuracy:.1%} ({EXPECTED_ACCURACY_CAVEAT})",
                          markup=False, soft_wrap=True)
    if outcome.failed:
        raise ReportedError(f"{len(outcome.failed)} of {len(outcome.nights)} nights failed "
                            f"({', '.join(n.name for n in outcome.failed)})", 1)
