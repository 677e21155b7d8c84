"""Start-up cost of the CLI: ``sleepscore --help`` wall time, and what ``predict`` imports.

``python -m sleepscore --help`` is timed over several fresh processes (target: median <= 0.3 s).
Then ``python -X importtime -m sleepscore predict`` scores a short generated night, and its import
log is summarised: total import time, the heaviest imports with the chain that pulled them in,
and whether torch, mne, matplotlib or pandas were imported (they must not be on this path).

Usage::

    python -m benchmarks.import_time --runs 9
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks._common import BYTECODE_NOTE, compile_bytecode, REPO, load, machine, measure, median, now, python, scoring_model, \
    simulated_night, write_result

FORBIDDEN = ("torch", "mne", "matplotlib", "pandas", "sklearn")
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


@dataclass
class Import:
    module: str
    self_us: int
    cumulative_us: int
    depth: int
    parents: tuple[str, ...]


def parse_importtime(log: str) -> list[Import]:
    """The ``-X importtime`` lines, each with the chain of modules that imported it.

    Python prints a module after everything it imported, indented one level deeper than it, so
    a line's importer is the next line below it with smaller indentation.
    """
    rows = [(int(m[1]), int(m[2]), len(m[3]) // 2, m[4]) for m in map(_LINE.match, log.splitlines()) if m]
    imports = []
    for index, (self_us, cumulative_us, depth, module) in enumerate(rows):
        parents, level = [], depth
        for _, _, other_depth, other in rows[index + 1:]:
            if other_depth < level:
                parents.append(other)
                level = other_depth
                if level == 0:
                    break
        imports.append(Import(module, self_us, cumulative_us, depth, tuple(parents)))
    return imports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    compile_bytecode()
    load_before = load()
    help_runs = [measure([python(), "-m", "sleepscore", "--help"]) for _ in range(args.runs)]
    help_log = subprocess.run([python(), "-X", "importtime", "-m", "sleepscore", "--help"], cwd=REPO,
                              capture_output=True, text=True, check=True).stderr
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        psg = workdir / "night.edf"
        simulated_night(psg, 1.0)
        model_args, model_text = scoring_model(workdir)
        predict_log = subprocess.run(
            [python(), "-X", "importtime", "-m", "sleepscore", "predict", str(psg), "-o",
             str(workdir / "night.csv"), "-q", *model_args],
            cwd=REPO, capture_output=True, text=True, check=True).stderr
    write_result("import_time", report(args, help_runs, parse_importtime(help_log),
                                       parse_importtime(predict_log), model_text, load_before, load()))


def report(args: argparse.Namespace, help_runs: list, help_imports: list[Import],
           predict_imports: list[Import], model_text: str, load_before: str, load_after: str) -> str:
    help_wall = median([run.wall_s for run in help_runs])

    def forbidden(imports: list[Import]) -> str:
        found = sorted({i.module.split(".")[0] for i in imports if i.module.split(".")[0] in FORBIDDEN})
        return ", ".join(found) if found else "none"

    def total_ms(imports: list[Import]) -> float:
        return sum(i.self_us for i in imports) / 1000

    # One row per top-level package (its heaviest import), so that scipy's dozens of
    # submodules do not crowd out everything else.
    heaviest = sorted((i for i in predict_imports if not i.module.startswith("encodings")),
                      key=lambda i: i.cumulative_us, reverse=True)
    seen_roots: set[str] = set()
    rows = []
    for item in heaviest:
        root = item.module.split(".")[0]
        if root in seen_roots and item.depth > 0:
            continue
        seen_roots.add(root)
        chain = " <- ".join((item.module, *item.parents)) if item.parents else item.module
        rows.append(f"| `{item.module}` | {item.cumulative_us / 1000:.0f} | {chain} |")
        if len(rows) == args.top:
            break
    help_rows = ", ".join(f"{run.wall_s:.3f}" for run in help_runs)
    return f"""# CLI start-up and imports on the predict path

- Date: {now()}
- Command: `python -m benchmarks.import_time --runs {args.runs}`
- Machine: {machine()}
- Load average (1/5/15 min) before: {load_before}; after: {load_after} (shared machine).
- Bytecode: {BYTECODE_NOTE}.
- Protocol: `python -m sleepscore --help` in {args.runs} fresh processes (wall time of each, from
  process start to exit); then one `python -X importtime -m sleepscore predict night.edf -o night.csv -q`
  on a generated 1-h Sleep-EDF-shaped night with {model_text}.

## `sleepscore --help`

Median **{help_wall:.3f} s** (target <= 0.3 s: **{'met' if help_wall <= 0.3 else 'MISSED'}**); runs: {help_rows}.
Imports {total_ms(help_imports):.0f} ms in all; heavy packages imported: {forbidden(help_imports)}.

## `sleepscore predict`

Imports {total_ms(predict_imports):.0f} ms in all (sum of `-X importtime` self times).
torch / mne / matplotlib / pandas / sklearn imported: **{forbidden(predict_imports)}**.

Heaviest imports (cumulative, ms) with the chain that imported them (`a <- b`: b imported a):

| module | cumulative ms | chain |
| --- | --- | --- |
{chr(10).join(rows)}
"""


if __name__ == "__main__":
    sys.exit(main())
