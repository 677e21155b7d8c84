"""``sleepscore info``: a model's card, read from its ONNX metadata."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
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
    from ..model import load_model

    meta = load_model(model).info
    if as_json:
        import dataclasses
        import json

        fields = {key: value for key, value in dataclasses.asdict(meta).items() if key != "extra"}
        click.echo(json.dumps({**fields, "path": str(meta.path), **meta.extra}, indent=2))
        return
    from rich.console import Console

    from ..model_card import card_tables

    console = Console()
    for table in card_tables(meta):
        console.print(table)
