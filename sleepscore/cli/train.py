"""``sleepscore train``: train a network and export it as a contract ONNX model."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from ..errors import UsageError
from .common import split_channels


@click.command()
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
# imports torch and would make `--help` take seconds; tests/cli/test_train_cli.py pins both.
# --epochs is the older name of --passes: the shipped models' cards record commands with it.
@click.option("--passes", "--epochs", "passes", type=click.IntRange(1),
              help="Maximum training passes over the nights (--epochs is the same option) "
                   " [default: the architecture's own: 300 for "
                   "deepsleepnet (the paper's 100 pre-training + 200 fine-tuning; other values "
                   "keep that 1:2 split), 60 for the others].")
@click.option("--members", type=click.IntRange(1), default=1, show_default=True,
              help="Networks (seeds) averaged inside the exported graph.")
@click.option("--member-validation", type=click.Choice(["shared", "own"]), default="shared",
              show_default=True,
              help="With --members: every network early-stops and is calibrated on the same "
                   "validation subject (shared), or each on one of its own and trains on the other "
                   "subjects (own: the ensemble trains on every non-test subject).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True,
              help="Ensemble members trained at once, one process and one core each "
                   "(with --cv, the members of all folds); the weights do not depend on it.")
@click.option("--transition-prior", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="spectral-bigru: add a stage-transition smoothing layer whose prior is learnt "
                   "from the Sleep-EDF text hypnograms (SC4*.txt) in this folder; nights of "
                   "Sleep-EDF-20 subjects (0-19) are left out, so no scored night shapes it.")
@click.option("--recording-crops", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Probability per night and training pass of training on a clinical-length cut of the "
                   "recording (0-2 h of wake around the sleep period), normalised on the cut alone.")
@click.option("--random-crops", type=click.IntRange(0), default=0, show_default=True,
              help="Extra recordings of random length (10 min to 8 h) and position cut from each "
                   "night every training pass, each normalised on itself alone.")
@click.option("--arch-option", "arch_options", multiple=True, metavar="KEY=VALUE",
              help="A keyword of the architecture's build function, VALUE as JSON (repeatable), "
                   "e.g. hidden=96 or adapt_passes=1 (spectral-robust).")
@click.option("--member-option", "member_option_pairs", multiple=True, metavar="N:KEY=VALUE",
              help="A build keyword for ensemble member N only (1-based, repeatable), e.g. "
                   "3:high_frequency=false (spectral-robust: a network that ignores gamma and mobility).")
@click.option("--any-eeg", is_flag=True,
              help="Train a single-EEG model on every --channels derivation as a recording of its "
                   "own; predict then feeds it whichever EEG channel a file has.")
@click.option("--derivation-mixing", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="With --any-eeg: probability per recording and training pass of training on a "
                   "virtual derivation between that EEG and another of the same night.")
@click.option("--card-notes", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Markdown added to the model card (e.g. what each training choice gave).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="ONNX model to write; NAME.log, NAME.json, NAME.md and NAME.pt go beside it.")
@click.option("--force", is_flag=True, help="Overwrite an existing model.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def train(dataset: str, data_dir: Path | None, arch: str, channels: str | None,
          subjects: str | None, val_subjects: str | None, test_subjects: str | None,
          cv: int | None, passes: int | None, members: int, member_validation: str, seed: int,
          jobs: int, transition_prior: Path | None,
          recording_crops: float, random_crops: int, arch_options: tuple[str, ...],
          member_option_pairs: tuple[str, ...], any_eeg: bool,
          derivation_mixing: float, card_notes: Path | None, output: Path, force: bool, quiet: bool) -> None:
    """Train a model and export it as a contract ONNX file (needs the 'train' extra: torch).

    \b
    Examples:
      sleepscore train --dataset sleep-edf20-features --data-dir ../shared/data/sleep-edf --cv 8 -o models/mine.onnx
      sleepscore train --dataset sleep-edf20 --data-dir ~/sleep-edf --arch tinysleepnet --test-subjects 15-19 -o tiny.onnx
      sleepscore train --dataset folder --data-dir my-lab/ --channels C4-A1 --test-subjects 7 -o lab.onnx
    """
    from ..datasets import SLEEP_EDF_20, get_dataset, subject_ids
    from ..io.writers import check_output

    check_output(output, force)
    spec = get_dataset(dataset)
    try:
        from ..training.api import cross_validate, train_model
        from ..training.loop import TrainConfig
        from ..training.recipes import architecture_options
        from ..training.transitions import transition_probabilities
        from ..training.raw_data import nights_for_training
    except ModuleNotFoundError as err:
        if err.name == "torch":
            raise UsageError("training needs torch: pip install 'sleepscore[train]'") from None
        raise
    if derivation_mixing and not any_eeg:
        raise UsageError("--derivation-mixing mixes the derivations of a single-EEG model: add --any-eeg")
    channel_list = split_channels(channels)
    known_options = architecture_options(arch)
    options = parse_arch_options(arch_options, known_options)
    member_options = parse_member_options(member_option_pairs, members, known_options)
    if transition_prior is not None:
        if "transition_prior" not in known_options:
            raise UsageError(f"--transition-prior applies to architectures with a transition "
                             f"smoothing layer (spectral-bigru, spectral-robust), not {arch}")
        # Sleep-EDF-20's subjects are the ones scored; none of their nights may shape the prior.
        options["transition_prior"] = transition_probabilities(
            transition_prior, exclude_subjects=SLEEP_EDF_20.subjects).tolist()
    if subjects is not None and not (spec.files == "psg" and spec.subjects):
        raise UsageError(f"--subjects selects subjects of a published PSG dataset, not of {dataset}")
    nights, provenance = None, {}
    if spec.files == "psg":
        nights, channel_list, provenance = nights_for_training(
            dataset, data_dir, arch, channel_list,
            subjects=[int(s) for s in subject_ids(subjects)] if subjects else None)
    common = dict(nights=nights, arch=arch, channels=channel_list, passes=passes, seed=seed,
                  output=output, quiet=quiet, members=members, options=options, jobs=jobs,
                  member_validation=member_validation, member_options=member_options,
                  config=TrainConfig(recording_crops=recording_crops, random_crops=random_crops,
                                     derivation_mixing=derivation_mixing),
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
    for protocol, scores in result.metrics.by_protocol.items():
        click.echo(f"held-out, pooled: {scores.headline(protocol)}")


def parse_member_options(pairs: tuple[str, ...], members: int,
                         known: set[str]) -> list[dict[str, object]] | None:
    """``--member-option N:KEY=VALUE`` pairs as one dict of build keywords per member (None
    when there are none).

    Examples
    --------
    >>> parse_member_options(("3:high_frequency=false",), 3, {"high_frequency"})
    [{}, {}, {'high_frequency': False}]
    """
    if not pairs:
        return None
    member_options: list[dict[str, object]] = [{} for _ in range(members)]
    for pair in pairs:
        member, separator, option = pair.partition(":")
        if not separator or not member.isdigit() or not 1 <= int(member) <= members:
            raise UsageError(f"--member-option {pair!r}: expected N:KEY=VALUE with N from 1 to "
                             f"--members ({members})")
        member_options[int(member) - 1].update(parse_arch_options((option,), known, "--member-option"))
    return member_options


def parse_arch_options(pairs: tuple[str, ...], known: set[str],
                       flag: str = "--arch-option") -> dict[str, object]:
    """``--arch-option KEY=VALUE`` pairs as build keywords; VALUE is JSON, else a plain string.

    Examples
    --------
    >>> parse_arch_options(("hidden=96", "adapt_passes=1"), {"hidden", "adapt_passes"})
    {'hidden': 96, 'adapt_passes': 1}
    """
    options: dict[str, object] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise UsageError(f"{flag} {pair!r}: expected KEY=VALUE")
        if key not in known or key == "transition_prior":
            raise UsageError(f"{flag} {key}: not an option of this architecture "
                             f"(its options: {', '.join(sorted(known - {'transition_prior'}))})")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options
