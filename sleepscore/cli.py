"""The ``sleepscore`` command: a thin layer of argument parsing over the library.

Imports stay inside the commands: ``sleepscore --help`` must start fast, and ``predict`` must
never import torch, mne or matplotlib unless a chosen option needs them.
"""

from __future__ import annotations

import shlex
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

import click

from . import __version__
from .errors import SleepscoreError, UsageError
from .protocols import TRIMS, by_trim


class ReportedError(click.ClickException):
    """A :class:`SleepscoreError` on its way out: one line on stderr, its exit code, no traceback."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"sleepscore: error: {self.message}", err=True)


class SleepscoreGroup(click.Group):
    """Turns the library's errors and Ctrl-C into clean exits for every command."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        with warnings.catch_warnings():
            # The library warns with warnings.warn (e.g. a hypnogram cut at the end of its
            # recording); the user sees those as the CLI's own one-line warnings.
            warnings.showwarning = show_warning
            try:
                return super().invoke(ctx)
            except SleepscoreError as err:
                raise ReportedError(str(err), err.exit_code) from None
            except KeyboardInterrupt:
                raise ReportedError("interrupted; finished outputs are complete, none is "
                                    "half-written", 130) from None


def warn(message: str) -> None:
    click.echo(f"sleepscore: warning: {message}", err=True)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """:func:`warnings.showwarning` for the CLI: user warnings as one line, others as Python's."""
    if issubclass(category, UserWarning):
        warn(" ".join(str(message).split()))
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def split_channels(value: str | None) -> list[str] | None:
    """``"Fpz-Cz,Pz-Oz"`` → ``["Fpz-Cz", "Pz-Oz"]``."""
    if value is None:
        return None
    channels = [part.strip() for part in value.split(",") if part.strip()]
    if not channels:
        raise UsageError("--channels needs at least one channel name")
    return channels


def label_map_option(value: str | None) -> dict[str, str] | None:
    from .hypnogram import parse_label_map
    return parse_label_map(value) if value is not None else None


CHANNELS_HELP = ("Comma-separated file channels to feed the model, in its input order. Default: "
                 "Fpz-Cz,Pz-Oz with the two-channel model when the file has both, else one EEG "
                 "channel for the single-EEG model, the first present of C4-M1, C3-M2, F4-M1, "
                 "F3-M2, O2-M1, O1-M2, Fpz-Cz, Pz-Oz (any spelling: C4-A1, EEG C4-M1, C4:M1); "
                 "EOG/EMG/ECG are never chosen. Matching ignores case, spaces and EEG/EOG prefixes.")
MODEL_HELP = ("ONNX model (default: the shipped two-channel model for Fpz-Cz + Pz-Oz files, "
              "the shipped single-EEG model for any other EEG).")
LABEL_MAP_HELP = ("Stage names for numeric hypnogram labels: '0=W,1=N1,2=N2,3=N3,4=REM', "
                  "or a file of CODE=STAGE lines or a JSON object.")
HYPNOGRAM_EPOCH_HELP = ("Epoch length in seconds of a one-label-per-line hypnogram (default: "
                        "the one length at which its labels fit the recording).")


def hypnogram_epoch_option(function: Callable[..., None]) -> Callable[..., None]:
    """``--hypnogram-epoch``, shared by predict and evaluate."""
    return click.option("--hypnogram-epoch", type=click.Choice(["5", "20", "30"]),
                        help=HYPNOGRAM_EPOCH_HELP)(function)


def hypnogram_epoch_s(value: str | None) -> float | None:
    """``--hypnogram-epoch``'s choice as seconds (None: detect)."""
    return float(value) if value is not None else None


@click.group(cls=SleepscoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sleepscore")
def cli() -> None:
    """Score sleep stages in EDF polysomnography and measure agreement with expert hypnograms."""


@cli.command()
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
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True,
              help="Several nights: worker processes on this machine.")
@click.option("--dask-scheduler", metavar="ADDRESS",
              help="Several nights: score them on a Dask cluster (tcp://host:8786).")
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
    single = len(inputs) == 1 and not Path(inputs[0]).is_dir() and not any(c in inputs[0] for c in "*?[")
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
    from .hypnogram import read_hypnogram
    from .metrics import agreement
    from .output import check_output, write_json
    from .scoring import save_night, score_night

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
        from .plotting import plot_night
        plot_night(plot, night.probs, night.stages, night.expert, night.start, night.epoch_s,
                   force=force)
    if report is not None:
        from .html_report import write_night_report
        write_night_report(report, night, stats, result, force=force)
    if metrics_json is not None:
        write_json(metrics_json, {
            "psg": str(psg), "model": str(night.model), "channels": night.channels,
            "n_epochs": night.n_epochs, "protocol": "whole recording",
            "sleep_statistics": stats,
            "agreement": result.to_dict() if result is not None else None,
        }, force=force)
    if not quiet:
        from rich.console import Console

        from .report import agreement_table, confusion_table, sleep_stats_table
        console = Console()
        console.print(f"{psg.name}: {night.n_epochs} epochs scored with {night.model.name} "
                      f"({', '.join(night.channels)}) -> {output}")
        console.print(sleep_stats_table(stats))
        if result is not None:
            console.print(agreement_table(result, title="Agreement with the expert (whole recording)"))
            console.print(confusion_table(result.confusion))


def predict_many(inputs: Sequence[str], outdir: Path, model: Path | None, channels: list[str] | None,
                 fmt: str, jobs: int, dask_scheduler: str | None, force: bool, quiet: bool) -> None:
    """``predict`` on several nights: a process pool or a Dask cluster, one progress bar."""
    from rich.console import Console

    from .batch import expand_inputs, score_many, summary_table

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


@cli.command()
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", type=click.Choice(["sleep-edf20"]),
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
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and warnings.")
def evaluate(inputs: Sequence[Path], dataset: str | None, subjects: str | None,
             data_dir: Path | None, model: Path | None, channels: str | None, trim: str,
             lights: Path | None,
             report: Path | None, csv_path: Path | None, label_map: str | None,
             hypnogram_epoch: str | None, force: bool, quiet: bool) -> None:
    """Measure agreement with expert hypnograms over many nights.

    INPUTS are folders in the Sleep-EDF layout (SC4001E0-PSG.edf with SC4001EC-Hypnogram.edf)
    or named NAME.edf with NAME.tsv/.csv/.txt or NAME*hypnogram*, and/or PSG HYPNOGRAM file
    pairs in that order. Nights that fail are listed with their reason and make the exit code
    1; no report is written when no night could be scored.

    \b
    Examples:
      sleepscore evaluate sleep-cassette/ --trim 30min --report eval.json
      sleepscore evaluate a.edf a-hypnogram.edf b.edf b-hypnogram.edf
      sleepscore evaluate --dataset sleep-edf20 --subjects 15-19 --data-dir ~/sleep-edf
    """
    from .evaluation import evaluate as run_evaluation
    from .hypnogram import read_lights_table
    from .output import check_output, write_json

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
                                 on_night=lambda night: progress.advance(task))
    for night in outcome.failed:
        warn(f"{night.name}: {night.error}")
    if not outcome.succeeded:
        raise ReportedError(f"none of the {len(outcome.nights)} nights could be scored, so no "
                            "report was written; the reasons are listed above", 1)
    if report is not None:
        write_json(report, outcome.to_dict(), force=force)
    if csv_path is not None:
        write_per_night_csv(csv_path, outcome, force)
    if not quiet and outcome.succeeded:
        from rich.console import Console

        from .report import confusion_table, per_night_table
        console = Console()
        rows = [(night.name, night.agreement) for night in outcome.succeeded]
        console.print(per_night_table(rows, title=f"Agreement per night ({by_trim(trim).description})"))
        console.print(confusion_table(outcome.summary.pooled.confusion,
                                      title="Pooled confusion matrix (epochs)"))
    if outcome.failed:
        raise ReportedError(f"{len(outcome.failed)} of {len(outcome.nights)} nights failed "
                            f"({', '.join(n.name for n in outcome.failed)})", 1)


def collect_pairs(inputs: Sequence[Path], dataset: str | None, subjects: str | None,
                  data_dir: Path | None) -> list:
    """PSG/hypnogram pairs from folders, explicit file pairs and/or a named dataset."""
    from .datasets import SLEEP_EDF_20, RecordingPair, fetch_sleep_edf20, pair_folder, parse_subjects

    pairs = []
    loose = []
    for item in inputs:
        if item.is_dir():
            pairs.extend(pair_folder(item))
        else:
            loose.append(item)
    if len(loose) % 2:
        raise UsageError(f"files must come as PSG HYPNOGRAM pairs; {loose[-1]} has no partner")
    pairs.extend(RecordingPair(psg, hyp) for psg, hyp in zip(loose[::2], loose[1::2]))
    if dataset is not None:
        chosen = parse_subjects(subjects) if subjects else SLEEP_EDF_20.subjects
        pairs.extend(fetch_sleep_edf20(chosen, data_dir=data_dir))
    elif subjects is not None:
        raise UsageError("--subjects needs --dataset")
    if not pairs:
        raise UsageError("no nights to evaluate: give folders, PSG HYPNOGRAM pairs or --dataset")
    return pairs


def nights_progress(quiet: bool):  # noqa: ANN201 - rich's Progress, imported lazily
    """One progress bar for multi-night commands (on stderr's terminal; hidden with --quiet)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), disable=quiet, transient=True)


def write_per_night_csv(path: Path, outcome, force: bool) -> None:  # noqa: ANN001
    import csv

    from .output import atomic_path
    from .stages import STAGES

    with atomic_path(path, force=force) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["night", "psg", "hypnogram", "protocol", "epochs", "accuracy", "macro_f1",
                         "kappa", *(f"f1_{s}" for s in STAGES), "error"])
        for night in outcome.nights:
            a = night.agreement
            values = ([a.n_epochs, f"{a.accuracy:.4f}", f"{a.macro_f1:.4f}", f"{a.kappa:.4f}",
                       *(f"{f:.4f}" for f in a.f1)] if a is not None else [""] * (4 + len(STAGES)))
            writer.writerow([night.name, night.psg, night.hypnogram, outcome.protocol, *values,
                             night.error or ""])


@cli.command()
@click.argument("psg", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV of per-epoch spectral-v1 features.")
@click.option("--channels", default="EEG Fpz-Cz,EEG Pz-Oz", show_default=True, help=CHANNELS_HELP)
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def features(psg: Path, output: Path, channels: str, force: bool) -> None:
    """Write the per-epoch spectral-v1 features of PSG (the shipped models' input).

    Columns: epoch, onset_s, then CHANNEL:FEATURE for delta, theta, alpha, beta, gamma log band
    powers, theta/alpha and alpha/delta log-power ratios, log variance and Hjorth mobility,
    computed on the signal in volts at 100 Hz.
    """
    from .edf import read_psg
    from .epochs import cut_epochs
    from .features import feature_names, spectral_features
    from .output import check_output, write_feature_table

    check_output(output, force)
    recording = read_psg(psg, split_channels(channels), unit="V")
    for message in recording.warnings:
        warn(message)
    epochs, dropped_s = cut_epochs(recording.signals, fs=recording.fs)
    if dropped_s:
        warn(f"{psg.name}: the last {dropped_s:g} s do not fill a 30-s epoch and were left out")
    write_feature_table(output, spectral_features(epochs, fs=recording.fs),
                        feature_names(recording.channels), force=force)


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--json", "as_json", is_flag=True,
              help="Print the model's raw sleepscore.* metadata as JSON instead of the card.")
def info(model: Path | None, as_json: bool) -> None:
    """Describe MODEL (default: the shipped model) from its ONNX metadata.

    \b
    Examples:
      sleepscore info
      sleepscore info models/spectral-robust-eeg.onnx --json
    """
    from .model import load_model

    meta = load_model(model).info
    if as_json:
        import dataclasses
        import json

        fields = {key: value for key, value in dataclasses.asdict(meta).items() if key != "extra"}
        click.echo(json.dumps({**fields, "path": str(meta.path), **meta.extra}, indent=2))
        return
    from rich.console import Console

    from .model_card import card_tables

    console = Console()
    for table in card_tables(meta):
        console.print(table)


def subject_ids(text: str | None) -> list[str] | None:
    """``"6,7"`` or ``"0-3"`` → ``["06", "07"]``/``["00", ..., "03"]`` (Sleep-EDF numbers are
    two digits); other tokens, e.g. a folder dataset's subject names, are kept as written."""
    if text is None:
        return None
    from .datasets import parse_subjects

    ids: list[str] = []
    for token in (t.strip() for t in text.split(",") if t.strip()):
        if token.replace("-", "").isdigit():
            ids += [f"{number:02d}" for number in parse_subjects(token)]
        else:
            ids.append(token)
    return ids


@cli.command()
@click.option("--dataset", type=click.Choice(["sleep-edf20", "folder", "sleep-edf20-features"]),
              required=True, help="sleep-edf20: the 39 PSG files (from --data-dir, else downloaded); "
              "folder: your own PSG/hypnogram pairs in --data-dir; sleep-edf20-features: "
              "precomputed per-night spectral-v1 feature files (features/*.npz in --data-dir).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--arch", default="spectral-bigru", show_default=True,
              help="Architecture: spectral-robust, spectral-bigru (features), deepsleepnet, "
                   "tinysleepnet, attnsleep, eegmobile, mc2sleepnet (raw signal).")
@click.option("--channels", help="Comma-separated input channels (default: the dataset's).")
@click.option("--subjects", help="Sleep-EDF-20 subjects to use, e.g. '0-9' (default: all 20).")
@click.option("--val-subjects", help="Early-stopping subjects, e.g. '6' or '06,07'.")
@click.option("--test-subjects", help="Held-out subjects for the final report, e.g. '15-19'.")
@click.option("--cv", type=click.IntRange(2), help="Subject-wise K-fold cross-validation, then "
              "train the exported model on every subject.")
# The architectures' default lengths are spelled out rather than read from the registry, which
# imports torch and would make `--help` take seconds; tests/test_train_cli.py pins both.
@click.option("--epochs", type=click.IntRange(1),
              help="Maximum training epochs  [default: the architecture's own: 300 for "
                   "deepsleepnet (the paper's 100 pre-training + 200 fine-tuning; other values "
                   "keep that 1:2 split), 60 for the others].")
@click.option("--members", type=click.IntRange(1), default=1, show_default=True,
              help="Networks (seeds) averaged inside the exported graph.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--transition-prior", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="spectral-bigru: add a stage-transition smoothing layer whose prior is learnt "
                   "from the Sleep-EDF text hypnograms (SC4*.txt) in this folder; nights of "
                   "Sleep-EDF-20 subjects (0-19) are left out, so no scored night shapes it.")
@click.option("--recording-crops", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Probability per night and epoch of training on a clinical-length cut of the "
                   "recording (0-2 h of wake around the sleep period), normalised on the cut alone.")
@click.option("--random-crops", type=click.IntRange(0), default=0, show_default=True,
              help="Extra recordings of random length (10 min to 8 h) and position cut from each "
                   "night every training epoch, each normalised on itself alone.")
@click.option("--any-eeg", is_flag=True,
              help="Train a single-EEG model on every --channels derivation as a recording of its "
                   "own; predict then feeds it whichever EEG channel a file has.")
@click.option("--card-notes", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Markdown added to the model card (e.g. what each training choice gave).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="ONNX model to write; NAME.log, NAME.json, NAME.md and NAME.pt go beside it.")
@click.option("--force", is_flag=True, help="Overwrite an existing model.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def train(dataset: str, data_dir: Path | None, arch: str, channels: str | None,
          subjects: str | None, val_subjects: str | None, test_subjects: str | None,
          cv: int | None, epochs: int | None, members: int, seed: int, transition_prior: Path | None,
          recording_crops: float, random_crops: int, any_eeg: bool, card_notes: Path | None,
          output: Path, force: bool, quiet: bool) -> None:
    """Train a model and export it as a contract ONNX file (needs the 'train' extra: torch).

    \b
    Examples:
      sleepscore train --dataset sleep-edf20-features --data-dir ../shared/data/sleep-edf --cv 8 -o models/mine.onnx
      sleepscore train --dataset sleep-edf20 --data-dir ~/sleep-edf --arch tinysleepnet --test-subjects 15-19 -o tiny.onnx
      sleepscore train --dataset folder --data-dir my-lab/ --channels C4-A1 --test-subjects 7 -o lab.onnx
    """
    from .output import check_output

    check_output(output, force)
    try:
        from .training.api import cross_validate, train_model
        from .training.evaluate import headline
        from .training.loop import TrainConfig
        from .training.transitions import transition_probabilities
        from .training.raw_data import nights_for_training
    except ModuleNotFoundError as err:
        if err.name == "torch":
            raise UsageError("training needs torch: pip install 'sleepscore[train]'") from None
        raise
    channel_list = split_channels(channels)
    options = {}
    if transition_prior is not None:
        if arch not in ("spectral-bigru", "spectral-robust"):
            raise UsageError("--transition-prior applies to --arch spectral-bigru and spectral-robust")
        options["transition_prior"] = transition_probabilities(
            transition_prior, exclude_subjects=range(20)).tolist()
    if subjects is not None and dataset != "sleep-edf20":
        raise UsageError("--subjects applies to --dataset sleep-edf20 only")
    nights, provenance = None, {}
    if dataset != "sleep-edf20-features":
        nights, channel_list, provenance = nights_for_training(
            dataset, data_dir, arch, channel_list,
            subjects=[int(s) for s in subject_ids(subjects)] if subjects else None)
    common = dict(nights=nights, arch=arch, channels=channel_list, epochs=epochs, seed=seed,
                  output=output, quiet=quiet, members=members, options=options,
                  config=TrainConfig(recording_crops=recording_crops, random_crops=random_crops),
                  any_eeg=any_eeg, provenance=provenance,
                  notes=card_notes.read_text() if card_notes is not None else None,
                  command="sleepscore " + shlex.join(sys.argv[1:]))
    if cv is not None:
        if val_subjects or test_subjects:
            raise UsageError("--cv chooses its own validation and test subjects; drop "
                             "--val-subjects/--test-subjects")
        result = cross_validate(dataset, data_dir, k=cv, **common)
    else:
        result = train_model(dataset, data_dir, val_subjects=subject_ids(val_subjects),
                             test_subjects=subject_ids(test_subjects), **common)
    click.echo(f"wrote {output} ({result.seconds:.0f} s)")
    for protocol in result.metrics:
        click.echo(f"held-out, pooled: {headline(result.metrics, protocol)}")


@cli.command()
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
    from .simulate import load_reference, simulate_dataset

    pairs = simulate_dataset(outdir, nights, seed, hours=hours,
                             reference=load_reference(reference) if reference else None)
    for pair in pairs:
        click.echo(f"{pair.psg}\t{pair.hypnogram}")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="sleepscore")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
