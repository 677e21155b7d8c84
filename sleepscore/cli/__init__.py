"""The ``sleepscore`` command: one module per subcommand, each a thin layer over the library.

Imports stay inside the commands: ``sleepscore --help`` must start fast, and ``predict`` must
never import torch, mne or matplotlib unless a chosen option needs them.
"""

from __future__ import annotations

import sys
from typing import Sequence

import click

from .. import __version__
from .common import SleepscoreGroup
from .evaluate import evaluate
from .features import features
from .info import info
from .predict import predict
from .simulate import simulate
from .train import train


@click.group(cls=SleepscoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sleepscore")
def cli() -> None:
    """Score sleep stages in EDF polysomnography and measure agreement with expert hypnograms."""


for command in (predict, evaluate, features, info, train, simulate):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="sleepscore")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
