"""How each architecture is trained: its recipe (augmentation, schedule of passes, loss).

The networks (:mod:`sleepscore.nets`) are plain ``torch.nn.Module`` s; everything about training
them that is not the shared loop (:func:`sleepscore.training.loop.fit`) is here, one
:class:`Recipe` per registered architecture name:

- ``spectral-bigru``, ``spectral-robust``, ``tinysleepnet``: an augmentation of the training
  nights (:mod:`sleepscore.training.augment`).
- ``deepsleepnet``: the paper's two-step training (:data:`TWO_STEP`, :func:`two_step_hook`) and
  its length, 300 passes.
- ``mc2sleepnet``: stage 1 on cross-entropy plus InfoNCE (:func:`mc2sleepnet_loss`), then stage 2
  with frozen backbones (:func:`freeze_backbones_hook`).
- ``attnsleep``, ``eegmobile``: the loop's defaults.

DeepSleepNet's two steps (Supratak et al. 2017, Section II-C), run by the shared training loop
through :func:`two_step_hook`, its ``on_pass_start``:

1. Pre-training: the CNN alone with a per-epoch softmax head (the network's ``pretraining``
   buffer makes ``forward`` return that head's logits), on a class-balanced training set of
   single 30-s epochs (every scored epoch once, minority stages duplicated until each stage is as
   frequent as the most frequent one), 100 epochs per batch, learning rate 1e-4, plain
   cross-entropy, no gradient clipping. These passes are never kept by early stopping and do
   not count towards its patience.
2. Fine-tuning: the whole network on sequences (batches of 10 sequences of 25 epochs), the CNN at
   a learning rate of 1e-6 and the rest at 1e-4 (the optimiser is split in place at the switch),
   plain cross-entropy, global gradient norm clipped at 10.

:data:`TWO_STEP` holds these settings. The paper runs 100 + 200 passes, which is the
architecture's default training length; a run of another length keeps the 1:2 split (``--epochs
30``: 10 + 20). Differences that remain: sequences are random crops of the nights, and the LSTM
state is not carried from one sequence of a night to the next as in the original code; the
optimiser is the loop's AdamW (weight decay on every weight, where the paper put L2 on the
first convolutions only).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import UsageError
from ..nets import Architecture, UnknownArchitectureError, get_architecture
from ..stages import UNSCORED
from .augment import montage_augment, shift_signal, spectral_augment
from .loop import Augment, PassHook, PassPlan, TrainingLoss


def registered_architecture(name: str) -> Architecture:
    """The registered network ``name`` (:func:`sleepscore.nets.get_architecture`), an unknown
    name being the user's error: :class:`UsageError` naming the known ones."""
    try:
        return get_architecture(name)
    except UnknownArchitectureError as err:
        raise UsageError(str(err)) from None


def architecture_options(name: str) -> set[str]:
    """The keyword options the network ``name``'s build function takes (beyond ``n_channels``).

    Examples
    --------
    >>> "transition_prior" in architecture_options("spectral-robust")
    True
    >>> "transition_prior" in architecture_options("tinysleepnet")
    False
    """
    parameters = inspect.signature(registered_architecture(name).build).parameters
    return {key for key, parameter in list(parameters.items())[1:]
            if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)}


@dataclass(frozen=True)
class TwoStepSchedule:
    """DeepSleepNet's two-step training settings (Supratak et al. 2017, Section III-C).

    Attributes
    ----------
    pretrain_lr : float
        Adam learning rate for CNN pre-training on class-balanced single epochs.
    pretrain_passes : int
        Passes over the oversampled training set in pre-training.
    pretrain_batch_epochs : int
        Single 30-s epochs per pre-training batch.
    finetune_lr_cnn : float
        Adam learning rate of the pre-trained CNN during fine-tuning (kept low so the
        sequence part cannot wash out what the CNN learnt).
    finetune_lr_sequence : float
        Adam learning rate of the BiLSTM, shortcut and softmax during fine-tuning.
    finetune_passes : int
        Passes over the training nights in fine-tuning.
    finetune_batch_sequences, finetune_seq_len : int
        Batch shape of fine-tuning: sequences per batch, epochs per sequence.
    clip_grad_norm : float
        Global gradient-norm clip during fine-tuning (the LSTM's exploding gradients).
    class_weighting : str
        Loss weighting of both steps: ``"none"``, the paper's plain cross-entropy (pre-training
        balances the stages by oversampling instead).
    """

    pretrain_lr: float = 1e-4
    pretrain_passes: int = 100
    pretrain_batch_epochs: int = 100
    finetune_lr_cnn: float = 1e-6
    finetune_lr_sequence: float = 1e-4
    finetune_passes: int = 200
    finetune_batch_sequences: int = 10
    finetune_seq_len: int = 25
    clip_grad_norm: float = 10.0
    class_weighting: str = "none"

    @property
    def total_passes(self) -> int:
        """Pre-training plus fine-tuning passes (300 in the paper)."""
        return self.pretrain_passes + self.finetune_passes

    def pretraining_passes(self, max_passes: int) -> int:
        """Pre-training passes of a ``max_passes`` run: its share at the paper's split, rounded down.

        Examples
        --------
        >>> TWO_STEP.pretraining_passes(300), TWO_STEP.pretraining_passes(30), TWO_STEP.pretraining_passes(2)
        (100, 10, 0)
        """
        return max_passes * self.pretrain_passes // self.total_passes


TWO_STEP = TwoStepSchedule()


def two_step_hook(schedule: TwoStepSchedule = TWO_STEP) -> PassHook:
    """An ``on_pass_start(model, pass_number, optimizer, max_passes)`` hook running DeepSleepNet's two steps.

    The first ``schedule.pretraining_passes(max_passes)`` passes pre-train the CNN with its
    per-epoch head at ``schedule.pretrain_lr`` on class-balanced single epochs; they are not
    selectable for early stopping. From the next pass on the whole network is fine-tuned on
    sequences, the CNN at ``schedule.finetune_lr_cnn`` and the rest at
    ``schedule.finetune_lr_sequence``, with clipped gradients. The optimiser is split in place,
    keeping its state.

    Parameters
    ----------
    schedule : TwoStepSchedule
        Learning rates, split of the passes, batch shapes and clipping.

    Returns
    -------
    callable
        The hook; it returns each pass's :class:`~sleepscore.training.loop.PassPlan`.

    Examples
    --------
    >>> from sleepscore.nets.deepsleepnet import DeepSleepNet
    >>> net = DeepSleepNet()
    >>> optimiser = torch.optim.Adam(net.parameters())
    >>> hook = two_step_hook()
    >>> plan = hook(net, 1, optimiser, 3); bool(net.pretraining), plan.sampling, plan.selectable
    (True, 'balanced_epochs', False)
    >>> plan = hook(net, 2, optimiser, 3); bool(net.pretraining), [g["lr"] for g in optimiser.param_groups]
    (False, [0.0001, 1e-06])
    >>> plan.window, plan.batch_size, plan.clip_grad_norm
    (25, 10, 10.0)
    """
    pretrain_plan = PassPlan(sampling="balanced_epochs", batch_size=schedule.pretrain_batch_epochs,
                             class_weighting=schedule.class_weighting, clip_grad_norm=None,
                             selectable=False)
    finetune_plan = PassPlan(window=schedule.finetune_seq_len,
                             batch_size=schedule.finetune_batch_sequences,
                             class_weighting=schedule.class_weighting,
                             clip_grad_norm=schedule.clip_grad_norm)

    def on_pass_start(model: nn.Module, pass_number: int, optimizer: torch.optim.Optimizer,
                      max_passes: int) -> PassPlan:
        pretrain_passes = schedule.pretraining_passes(max_passes)
        if pass_number <= pretrain_passes:
            if pass_number == 1:
                model.pretraining.fill_(True)
                for group in optimizer.param_groups:
                    group["lr"] = schedule.pretrain_lr
            return pretrain_plan
        if pass_number == pretrain_passes + 1:
            model.pretraining.fill_(False)
            cnn = list(model.cnn_parameters())
            cnn_ids = {id(p) for p in cnn}
            for group in optimizer.param_groups:
                group["params"] = [p for p in group["params"] if id(p) not in cnn_ids]
                group["lr"] = schedule.finetune_lr_sequence
            optimizer.add_param_group({"params": cnn, "lr": schedule.finetune_lr_cnn})
        return finetune_plan

    return on_pass_start


# MC2SleepNet: half of the shared loop's default 60 passes for each stage.
STAGE_ONE_PASSES = 30


def info_nce(anchors: torch.Tensor, positives: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE (van den Oord et al. 2018; the CLIP form) between paired embeddings.

    Row ``i`` of ``anchors`` and row ``i`` of ``positives`` are the two views of one epoch;
    every other row of the batch is a negative.

    Parameters
    ----------
    anchors, positives : torch.Tensor
        ``[n, dim]`` embeddings; they are L2-normalised here.
    temperature : float
        Softmax temperature of the cosine similarities.

    Returns
    -------
    torch.Tensor
        Scalar loss; ``ln(n)`` for embeddings that carry no pairing information.
    """
    similarity = nn.functional.normalize(anchors, dim=1) @ nn.functional.normalize(positives, dim=1).T
    logits = similarity / temperature
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (nn.functional.cross_entropy(logits, targets) + nn.functional.cross_entropy(logits.T, targets)) / 2


def mc2sleepnet_pretrain_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                              loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
                              ) -> torch.Tensor:
    """MC2SleepNet's stage-1 loss: cross-entropy on scored epochs plus weighted epoch-level InfoNCE.

    The InfoNCE term pulls the two backbones' (projected) embeddings of the same epoch together
    and pushes apart those of other epochs in the batch, at the network's ``temperature`` and
    weighted by its ``contrastive_weight``.

    Parameters
    ----------
    model : MC2SleepNet
        The network (:class:`sleepscore.nets.mc2sleepnet.MC2SleepNet`).
    x : torch.Tensor
        ``[batch, seq, n_channels, 3000]`` volts.
    y : torch.Tensor
        int64 ``[batch, seq]`` stage codes, ``-1`` for unscored (left out of the
        cross-entropy; the contrastive term needs no labels and uses every epoch).
    loss_fn : callable, optional
        Cross-entropy to use (e.g. the loop's class-weighted one); plain by default.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    raw, spectrogram = model.epoch_embeddings(x)
    logits = model.sequence_logits(raw, spectrogram)
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss(ignore_index=UNSCORED)
    classification = loss_fn(logits.flatten(0, 1), y.flatten())
    contrastive = info_nce(
        model.raw_projection(raw.flatten(0, 1)), model.spectrogram_projection(spectrogram.flatten(0, 1)), model.temperature
    )
    return classification + model.contrastive_weight * contrastive


def mc2sleepnet_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """MC2SleepNet's ``training_loss`` in the loop: :func:`mc2sleepnet_pretrain_loss` while the
    backbones learn (stage 1), the loop's cross-entropy ``loss_fn`` alone once they are frozen
    (stage 2)."""
    if model.backbones_frozen:
        return loss_fn(model(x).flatten(0, 1), y.flatten())
    return mc2sleepnet_pretrain_loss(model, x, y, loss_fn)


def freeze_backbones_hook(stage_one_passes: int = STAGE_ONE_PASSES) -> PassHook:
    """An ``on_pass_start(model, pass_number, optimizer, max_passes)`` hook: MC2SleepNet's stage 2
    after stage 1.

    Frozen parameters get no gradient, which the loop's optimiser then skips, so the optimiser
    itself needs no change. Both stages train with the loop's default pass plan.

    Examples
    --------
    >>> from sleepscore.nets.mc2sleepnet import MC2SleepNet
    >>> net = MC2SleepNet()
    >>> hook = freeze_backbones_hook(stage_one_passes=2)
    >>> hook(net, 2, None, 60); net.backbones_frozen
    False
    >>> hook(net, 3, None, 60); net.backbones_frozen
    True
    """

    def on_pass_start(model: nn.Module, pass_number: int, optimizer: torch.optim.Optimizer,
                      max_passes: int) -> None:
        if pass_number == stage_one_passes + 1:
            model.freeze_backbones()

    return on_pass_start


@dataclass(frozen=True)
class Recipe:
    """How the training loop trains one architecture (None fields: the loop's defaults).

    Attributes
    ----------
    augment : callable, optional
        ``augment(x, rng) -> x`` applied to a training night's whole input ``[n_epochs, ...]``
        (numpy) before ``per_recording``, every pass; None for no augmentation.
    on_pass_start : callable, optional
        ``on_pass_start(model, pass_number, optimizer, max_passes)`` called before each training
        pass (1-based, of ``max_passes``), for schedules such as DeepSleepNet's pre-training
        then fine-tuning; returns that pass's :class:`~sleepscore.training.loop.PassPlan` (how it
        samples batches, weights the loss, clips gradients, and whether its weights may be
        kept), or None for the training configuration's defaults.
    training_loss : callable, optional
        ``training_loss(model, x, y, loss_fn)``, each batch's loss in place of the loop's
        cross-entropy (:data:`~sleepscore.training.loop.TrainingLoss`); None for that
        cross-entropy.
    default_passes : int or None
        Training passes when the user gives none (e.g. the paper's schedule length); None:
        ``TrainConfig``'s default.
    """

    augment: Augment | None = None
    on_pass_start: PassHook | None = None
    training_loss: TrainingLoss | None = None
    default_passes: int | None = None


#: The recipe of every built-in architecture, by registry name.
RECIPES: dict[str, Recipe] = {
    "spectral-bigru": Recipe(augment=spectral_augment),
    "spectral-robust": Recipe(augment=montage_augment),
    "tinysleepnet": Recipe(augment=shift_signal),
    "deepsleepnet": Recipe(on_pass_start=two_step_hook(), default_passes=TWO_STEP.total_passes),
    "mc2sleepnet": Recipe(on_pass_start=freeze_backbones_hook(), training_loss=mc2sleepnet_loss),
    "attnsleep": Recipe(),
    "eegmobile": Recipe(),
}


def get_recipe(name: str) -> Recipe:
    """The recipe of the registered architecture ``name``.

    A network registered without a recipe here trains with the loop's defaults. An unknown name
    is a :class:`UsageError` naming the known ones (:func:`registered_architecture`).

    Examples
    --------
    >>> get_recipe("deepsleepnet").default_passes, get_recipe("attnsleep") == Recipe()
    (300, True)
    """
    registered_architecture(name)
    return RECIPES.get(name, Recipe())
