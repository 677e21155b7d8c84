"""``sleepscore predict``: score one night, or many with a process pool or a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click

from ..errors import UsageError
from .common import (CHANNELS_HELP, LABEL_MAP_HELP, MODEL_HELP, ReportedError, hypnogram_epoch_option,
                     hypnogram_epoch_s, label_map_option, many_nights_options, nights_progress,
                     split_channels, warn)


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="One night: the hypnogram file to write (CSV/TSV table, or EDF+ with --format "
                   "edf). Several nights (a folder, a glob or several files): the output folder.")
@click.option("--hypnogram", type=click.Path(dir_okay=False, path_type=Path),
              help="Expert hypnogram of the same night: adds an expert column and agreement metrics.")
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), help=MODEL_HELP)
@click.option("--channels", help=CHANNELS_HELP)
@click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "edf"]), default=None,
              help="Output format (default: from the output's extension, else csv).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save a PNG of the hypnogram and hypnodensity (needs matplotlib).")
@click.option("--metrics-json", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save sleep statistics (and agreement, with --hypnogram) as JSON.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save a one-page HTML report for clinicians (self-contained; figures "
                   "need matplotlib).")
@click.option("--label-map", help=LABEL_MAP_HELP)
@hypnogram_epoch_option
@many_nights_options
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and warnings.")
def predict(inputs: Sequence[str], output: Path, hypnogram: Path | None, model: Path | None,
            channels: str | None, fmt: str | None, plot: Path | None, metrics_json: Path | None,
            report: Path | None, label_map: str | None, hypnogram_epoch: str | None, jobs: int,
            dask_scheduler: str | None, force: bool, quiet: bool) -> None:
    """Score nights and write their hypnograms with per-epoch probabilities.

    INPUTS is one EDF/BDF recording, or several, folders of them, or glob patterns.

    \b
    Examples:
      sleepscore predict night.edf -o night.csv
      sleepscore predict SC4001E0-PSG.edf --hypnogram SC4001EC-Hypnogram.edf -o night.csv --plot night.png
      sleepscore predict night.edf -o night.csv --hypnogram expert.xml --report night.html
      sleepscore predict cohort/ -o scored/ --jobs 2
      sleepscore predict 'cohort/*.edf' -o scored/ --dask-scheduler tcp://scheduler:8786
    """
    from ..batch import names_one_recording

    single = len(inputs) == 1 and names_one_recording(inputs[0])
    if not single:
        per_night_only = {"--hypnogram": hypnogram, "--plot": plot, "--metrics-json": metrics_json,
                          "--report": report, "--label-map": label_map,
                          "--hypnogram-epoch": hypnogram_epoch}
        given = [name for name, value in per_night_only.items() if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to "
                             "one night; for several nights with expert hypnograms use "
                             "'sleepscore evaluate'")
        predict_many(inputs, output, model, split_channels(channels), fmt or "csv", jobs,
                     dask_scheduler, force, quiet)
        return
    if jobs > 1 or dask_scheduler is not None:
        warn("--jobs and --dask-scheduler apply to several nights; scoring one night here")
    from ..io.hypnogram import read_hypnogram
    from ..metrics import agreement
    from ..io.writers import check_output, write_json
    from ..scoring import EXPECTED_ACCURACY_CAVEAT, night_metrics, save_night, score_night

    psg = Path(inputs[0])
    # Refuse an unwritable output before minutes of work, not after.
    for path in (output, plot, metrics_json, report):
        if path is not None:
            check_output(path, force)
    if hypnogram is None and (label_map is not None or hypnogram_epoch is not None):
        raise UsageError("--label-map and --hypnogram-epoch describe the --hypnogram file; "
                         "give one")
    expert = (read_hypnogram(hypnogram, label_map=label_map_option(label_map),
                             epoch_s=hypnogram_epoch_s(hypnogram_epoch))
              if hypnogram is not None else None)
    night = score_night(psg, model, channels=split_channels(channels), hypnogram=expert)
    for message in night.warnings:
        warn(message)
    if not quiet:
        for message in night.notes:
            click.echo(f"sleepscore: {message}", err=True)
    stats = save_night(night, output, fmt, force=force)
    result = agreement(night.expert, night.stages) if night.expert is not None else None
    if plot is not None:
        from ..plotting import plot_night
        plot_night(plot, night.probs, night.stages, night.expert, night.start, night.epoch_s,
                   force=force)
    if report is not None:
        from ..html_report import write_night_report
        write_night_report(report, night, stats, result, force=force)
    if metrics_json is not None:
        write_json(metrics_json, night_metrics(night, stats, result), force=force)
    if not quiet:
        from rich.console import Console

        from ..report import agreement_table, confusion_table, sleep_stats_table
        console = Console()
        console.print(f"{psg.name}: {night.n_epochs} epochs scored with {night.model.name} "
                      f"({', '.join(night.channels)}) -> {output}", markup=False, soft_wrap=True)
        console.print(f"expected agreement with an expert: {night.expected_accuracy:.0%} of the epochs "
                      f"({EXPECTED_ACCURACY_CAVEAT})", markup=False, soft_wrap=True)
        console.print(sleep_stats_table(stats))
        if result is not None:
            console.print(agreement_table(result, title="Agreement with the expert (whole recording)"))
            console.print(confusion_table(result.confusion))


def predict_many(inputs: Sequence[str], outdir: Path, model: Path | None, channels: list[str] | None,
                 fmt: str, jobs: int, dask_scheduler: str | None, force: bool, quiet: bool) -> None:
    """``predict`` on several nights: a process pool or a Dask cluster, one progress bar."""
    from rich.console import Console

    from ..batch import expand_inputs, score_many, summary_table

    psgs = expand_inputs(inputs)
    with nights_progress(quiet) as progress:
        task = progress.add_task("scoring nights", total=len(psgs))
        outcomes = score_many(psgs, outdir, model=model, channels=channels, fmt=fmt, jobs=jobs,
                              dask_scheduler=dask_scheduler, force=force,
                              on_night=lambda outcome: progress.advance(task))
    for outcome in outcomes:
        for message in outcome.warnings:
            warn(message)
    failed = [o for o in outcomes if not o.ok]
    if not quiet:
        Console().print(summary_table(outcomes))
    for outcome in failed:
        warn(outcome.error)
    if failed:
        raise ReportedError(f"{len(failed)} of {len(outcomes)} nights failed "
                            f"({', '.join(o.name for o in failed)})", 1)
