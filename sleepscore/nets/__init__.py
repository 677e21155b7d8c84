"""Registry of the networks (needs torch; never imported on the predict path).

Every network maps ``x`` ``[batch, seq, ...]`` to logits ``[batch, seq, 5]``: ``[batch, seq,
n_features]`` for ``features`` networks, ``[batch, seq, n_channels, 3000]`` for ``raw`` ones.
A network may split its forward pass into ``per_recording`` (parameter-free operations that must
see the whole night, such as per-recording standardisation) and ``per_window`` (everything else);
the training loop then trains ``per_window`` on crops of nights pre-processed by ``per_recording``,
while export and prediction run ``forward`` on the whole night.

This package holds the networks only, as plain ``torch.nn.Module`` s: how each is trained (its
augmentation, schedule of training passes, auxiliary losses) is its recipe in
:mod:`sleepscore.training.recipes`. Its modules import torch, numpy, the standard library, the
constants of :mod:`sleepscore.stages` and one another (:mod:`sleepscore.nets.layers`, another
network's constants), nothing else of the package (``tests/nets/test_nets.py`` checks it).

Other modules register their networks with :func:`register`, e.g. in ``sleepscore/nets/deepsleepnet.py``::

    register(Architecture("deepsleepnet", DeepSleepNet, input_kind="raw"))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Architecture:
    """How to build one kind of network and what it takes as input.

    Attributes
    ----------
    name : str
        Registry key and the model's ``sleepscore.architecture`` metadata.
    build : callable
        ``build(n_channels, **options) -> torch.nn.Module``; ``n_channels`` is the number of
        input channels (a features network derives its input width from it).
    input_kind : str
        ``"features"`` or ``"raw"`` (the contract's ``sleepscore.input``).
    feature_set : str or None
        Feature extractor name and version for ``features`` networks (``"spectral-v1"``).
    """

    name: str
    build: Callable[..., torch.nn.Module]
    input_kind: str
    feature_set: str | None = None


class UnknownArchitectureError(ValueError):
    """No network is registered under the name asked for (the message names the known ones)."""


_REGISTRY: dict[str, Architecture] = {}

#: The length (1 h of epochs) at which a recording gets half the effect of the short-recording
#: temperature (:meth:`ProbabilityAverage.set_short_recording_temperature`).
SHORT_RECORDING_EPOCHS = 120.0


class ProbabilityAverage(nn.Module):
    """Ensemble of networks whose softmax probabilities are averaged inside one graph.

    ``forward`` returns the log of the mean probability divided by a temperature (1 until
    :meth:`set_temperature`), so a softmax on top (as export adds) gives the averaged
    probabilities, sharpened or softened to be calibrated; short recordings
    (:meth:`set_short_recording_temperature`) and epochs whose gamma is missing
    (:meth:`set_missing_gamma_temperature`) get temperatures of their own. Each member's logits can have a
    temperature of their own too (:meth:`set_member_temperatures`), for members calibrated
    one by one on validation subjects of their own.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.register_buffer("temperature", torch.ones(()))
        self.register_buffer("member_temperatures", torch.ones(len(members)))
        self.register_buffer("missing_gamma_temperature", torch.ones(()))
        self.register_buffer("short_recording_temperature", torch.ones(()))

    def set_temperature(self, temperature: float) -> None:
        """Calibrate: divide the log mean probabilities by ``temperature`` from now on."""
        self.temperature.fill_(float(temperature))

    def set_member_temperatures(self, temperatures: list[float]) -> None:
        """Calibrate each member: divide member ``i``'s logits by ``temperatures[i]``."""
        self.member_temperatures.copy_(torch.tensor(temperatures, dtype=torch.float32))

    def set_missing_gamma_temperature(self, temperature: float) -> None:
        """Calibrate epochs whose gamma is missing (spectral-robust's ``missing_gamma_gate``, a
        50-Hz file): their log probabilities are further divided by ``1 + (temperature - 1) * m``,
        ``m`` the gated members' mean :meth:`~sleepscore.nets.spectral_robust.TrustedSpectralInputs.gamma_missing`.
        With those members half-weighted, the ensemble is less sure than it is right on such
        epochs; its temperature, fitted on intact ones, cannot see that."""
        self.missing_gamma_temperature.fill_(float(temperature))

    def set_short_recording_temperature(self, temperature: float) -> None:
        """Calibrate short recordings: log probabilities are further divided by
        ``1 + (temperature - 1) * s``, ``s`` the recording's :meth:`shortness`. The ensemble's
        temperature is fitted mostly on whole nights; scored alone, a 30-min recording is less sure
        than it is right (measured on held-out 30-min pieces), a whole night is not."""
        self.short_recording_temperature.fill_(float(temperature))

    def shortness(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, seq]``: ``K / (n + K)`` for a recording of ``n`` epochs,
        ``K =`` :data:`SHORT_RECORDING_EPOCHS`: 2/3 for 30 min, 0.04 for a 22-h recording."""
        # The length as a tensor, not x.shape[1]: a Python int would be frozen into the exported
        # graph at the length of the tracing example.
        ones = torch.ones_like(x.flatten(2)[..., 0])
        return ones * (SHORT_RECORDING_EPOCHS / (ones.sum(dim=1, keepdim=True) + SHORT_RECORDING_EPOCHS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([(member(x) / self.member_temperatures[i]).softmax(dim=-1)
                             for i, member in enumerate(self.members)])
        length_scale = (1 + (self.short_recording_temperature - 1) * self.shortness(x)).unsqueeze(-1)
        if not any(getattr(member, "gates_gamma", False) for member in self.members):
            return probs.mean(dim=0).log() / self.temperature / length_scale
        # Members that gate their gamma (spectral-robust's muscle and missing-gamma gates) give
        # way, epoch by epoch, to the others (whose trust is 1).
        gates = [member.trust(x) for member in self.members]
        trust, missing = (torch.stack(parts) for parts in zip(*gates))
        probs = (trust.unsqueeze(-1) * probs).sum(dim=0) / trust.unsqueeze(-1).sum(dim=0)
        log_probs = probs.log() / self.temperature / length_scale
        if self.finds_missing_gamma:
            share = self._missing_gamma_share(missing)
            log_probs = log_probs / (1 + (self.missing_gamma_temperature - 1) * share).unsqueeze(-1)
        return log_probs

    @property
    def finds_missing_gamma(self) -> bool:
        """Whether some member has spectral-robust's ``missing_gamma_gate`` (and so the missing-gamma
        temperature acts)."""
        return any(self._missing_gamma_gated())

    def _missing_gamma_gated(self) -> list[bool]:
        return [getattr(getattr(member, "inputs", None), "missing_gamma_gate", False)
                for member in self.members]

    def _missing_gamma_share(self, missing: torch.Tensor) -> torch.Tensor:
        """The mean over the gated members of ``missing`` (``[members, batch, seq]``)."""
        return missing[[i for i, gate in enumerate(self._missing_gamma_gated()) if gate]].mean(dim=0)

    def missing_gamma_share(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, seq]``: the share ``m`` that :meth:`set_missing_gamma_temperature` scales
        with, for fitting that temperature (needs :attr:`finds_missing_gamma`)."""
        return self._missing_gamma_share(torch.stack([member.trust(x)[1] for member in self.members]))

    @property
    def measures_distance(self) -> bool:
        """Whether the members report a per-epoch distance of the input to their training data."""
        return hasattr(self.members[0], "input_distance")

    def input_distance(self, x: torch.Tensor) -> torch.Tensor:
        """The first member's ``input_distance`` (every member is fitted on the same nights)."""
        return self.members[0].input_distance(x)

    def _gated_members(self) -> list[nn.Module]:
        """Members that gate their gamma (spectral-robust's ``muscle_gate``)."""
        return [member for member in self.members if getattr(getattr(member, "inputs", None), "muscle_gate", False)]

    @property
    def reports_gamma_excess(self) -> bool:
        """Whether some member gates its gamma."""
        return bool(self._gated_members())

    def gamma_excess(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, seq]``: the mean ``gamma_excess`` of the members that gate their gamma."""
        return torch.stack([member.inputs.gamma_excess(x) for member in self._gated_members()]).mean(dim=0)

    @property
    def distance_threshold(self) -> float:
        """The distance that 99 % of the training epochs stay within (first member's)."""
        return self.members[0].distance_threshold


def register(architecture: Architecture) -> None:
    """Add ``architecture`` to the registry under its name (a second registration replaces it)."""
    _REGISTRY[architecture.name] = architecture


def get_architecture(name: str) -> Architecture:
    """The registered architecture ``name``; :class:`UnknownArchitectureError` naming the known
    ones otherwise (the training side reports it as a usage error)."""
    if name not in _REGISTRY:
        raise UnknownArchitectureError(f"unknown architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def architecture_names() -> list[str]:
    """Names of every registered architecture, sorted."""
    return sorted(_REGISTRY)


def build_network(name: str, n_channels: int, **options: Any) -> torch.nn.Module:
    """Build a fresh network of architecture ``name`` for ``n_channels`` input channels."""
    return get_architecture(name).build(n_channels, **options)


# Imported last so that the built-in networks register themselves with the functions above.
from . import attnsleep, deepsleepnet, eegmobile, mc2sleepnet, spectral, spectral_robust, tinysleepnet  # noqa: E402,F401
