"""Parameter counts and CPU training throughput of the raw-signal networks (issue 4).

Throughput is 30-s epochs per second through one full training step (forward, cross-entropy,
backward, Adam update) on a batch of sequences of synthetic epochs, after one warm-up step.
The counts are compared with the figures the papers report. Results go to
``benchmarks/results/nets_throughput.md`` together with the conditions they were measured under
(threads, load average), since the machine may be shared.

Usage::

    python -m benchmarks.nets_throughput --batch 4 --seq 10 --steps 3 --threads 2
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from sleepscore.nets.attnsleep import AttnSleep
from sleepscore.nets.deepsleepnet import DeepSleepNet
from sleepscore.nets.eegmobile import EEGMobile
from sleepscore.nets.layers import SAMPLES_PER_EPOCH
from sleepscore.nets.mc2sleepnet import MC2SleepNet
from sleepscore.nets.tinysleepnet import TinySleepNet
from sleepscore.stages import N_STAGES

RESULTS = Path(__file__).resolve().parent / "results" / "nets_throughput.md"

NETWORKS: dict[str, type[nn.Module]] = {
    "deepsleepnet": DeepSleepNet,
    "tinysleepnet": TinySleepNet,
    "attnsleep": AttnSleep,
    "eegmobile": EEGMobile,
    "mc2sleepnet": MC2SleepNet,
}
# What each paper reports, with its source; compared with the count of our implementation.
PAPER_PARAMETERS: dict[str, str] = {
    "deepsleepnet": "~21-24 M (range quoted in issue 4 for Supratak et al. 2017)",
    "tinysleepnet": "~1.3 M (Supratak & Guo 2020)",
    "attnsleep": "~0.51 M (Eldele et al. 2021)",
    "eegmobile": "5.4 M for MobileNetV3-Large with its 1000-class head (Howard et al. 2019, Table 3)",
    "mc2sleepnet": "not available here (reduced width on purpose)",
}


def parameter_count(net: nn.Module) -> int:
    """Trainable and frozen parameters alike."""
    return sum(p.numel() for p in net.parameters())


def training_throughput(net: nn.Module, batch: int, seq: int, steps: int) -> float:
    """Epochs per second of full training steps on a fixed synthetic batch.

    Parameters
    ----------
    net : nn.Module
        Network in training mode.
    batch, seq : int
        Sequences per step and epochs per sequence.
    steps : int
        Timed steps (after one untimed warm-up step that allocates buffers).

    Returns
    -------
    float
        ``batch * seq * steps / seconds``.
    """
    generator = torch.Generator().manual_seed(0)
    x = 20e-6 * torch.randn(batch, seq, 1, SAMPLES_PER_EPOCH, generator=generator)
    y = torch.randint(0, N_STAGES, (batch, seq), generator=generator)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step() -> None:
        optimiser.zero_grad()
        nn.functional.cross_entropy(net(x).flatten(0, 1), y.flatten()).backward()
        optimiser.step()

    net.train()
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * seq * steps / (time.perf_counter() - start)


def main() -> None:
    """Measure every network and write the markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4, help="sequences per training step")
    parser.add_argument("--seq", type=int, default=10, help="epochs per sequence")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per network")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_before = os.getloadavg()
    rows = []
    for name, network in NETWORKS.items():
        net = network(n_channels=1)
        rows.append((name, parameter_count(net), PAPER_PARAMETERS[name],
                     training_throughput(net, args.batch, args.seq, args.steps)))
    load_after = os.getloadavg()

    table = Table(title="raw-signal networks, 1 EEG channel")
    for column in ("network", "parameters", "paper", "train epochs/s"):
        table.add_column(column)
    for name, count, paper, speed in rows:
        table.add_row(name, f"{count:,}", paper, f"{speed:.1f}")
    Console().print(table)

    conditions = (
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with `python -m benchmarks.nets_throughput "
        f"--batch {args.batch} --seq {args.seq} --steps {args.steps} --threads {args.threads}`: "
        f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), 1-min load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after (the machine is shared, so other people's jobs slow these numbers down). "
        f"Throughput: 30-s epochs per second through forward + cross-entropy + backward + Adam step, "
        f"{args.batch} sequences × {args.seq} epochs per step, mean of {args.steps} steps after one warm-up step, "
        "training mode (dropout on), synthetic 1-channel input."
    )
    lines = [
        "# Raw-signal networks: size and CPU training throughput",
        "",
        conditions,
        "",
        "| network | parameters (ours) | paper | train epochs/s |",
        "| --- | ---: | --- | ---: |",
        *(f"| {name} | {count:,} | {paper} | {speed:.1f} |" for name, count, paper, speed in rows),
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
