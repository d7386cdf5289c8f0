"""Training an anomalib model on normal cases: a Lightning Trainer that writes nothing and prints nothing.

The model's own ``training_step``, ``configure_optimizers``, schedulers,
manual-optimisation loops (CFlow) and hooks (CFA's centroid pass, the
memory-bank models' fit at the end of their one epoch) run exactly as
under anomalib's Engine; only the Engine's extras are left out: no logger,
no checkpoints, no progress bar, no validation loop, no result folders. The
Trainer's root folder is the run's private work folder.

Runs are seeded (torch, numpy and Python's ``random``, restored afterwards),
the training order is drawn from a generator seeded with the run's seed,
and torch's deterministic algorithms are switched on where torch has them.
"""

from __future__ import annotations

import contextlib
import math
import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.sdk import ConfigError
from bench_anomalib.config import AnomalibRunConfig
from bench_anomalib.preprocess import normalise

if TYPE_CHECKING:
    import torch

#: Trainer settings a model may ask for in ``trainer_arguments`` that change how it learns.
_LEARNING_ARGUMENTS = ("gradient_clip_val", "gradient_clip_algorithm", "accumulate_grad_batches")


@dataclass(frozen=True)
class TrainingPlan:
    """How long a model trains.

    Attributes:
        epochs: passes over the training cases (``None``: ``max_steps`` decides).
        max_steps: optimiser steps to stop after (``None``: ``epochs`` decides).
        one_pass: the model builds a memory bank in one pass instead of learning by gradient descent.
        batch_size: training cases per step.
    """

    epochs: int | None
    max_steps: int | None
    one_pass: bool
    batch_size: int

    def total_epochs(self, n_cases: int) -> int:
        """Epochs the plan runs over ``n_cases`` training cases (for progress)."""
        if self.epochs is not None and self.max_steps is None:
            return self.epochs
        per_epoch = math.ceil(n_cases / self.batch_size)
        by_steps = math.ceil(self.max_steps / per_epoch) if self.max_steps is not None else None
        return min(e for e in (self.epochs, by_steps) if e is not None)


@dataclass(frozen=True)
class TrainingSummary:
    """What a fit did: epochs and optimiser steps completed, training images fed, mean training loss per epoch.

    ``steps`` counts optimiser steps, which is one per batch except for
    models that step several times per batch (CFlow steps once per fibre
    batch). ``epoch_losses`` is empty for models whose training step returns no loss.
    """

    epochs: int
    steps: int
    images: int = 0
    epoch_losses: tuple[float, ...] = ()


def plan_training(detector: str, module: Any, config: AnomalibRunConfig) -> TrainingPlan:
    """The training length for ``module`` under ``config``.

    Raises:
        ConfigError: a one-pass (memory-bank) model is given more than one
            epoch or a step limit, or a gradient-trained model has neither
            an epoch count of its own nor ``epochs`` / ``max_steps``.
    """
    from anomalib.models.components import MemoryBankMixin

    name = type(module).__name__
    if isinstance(module, MemoryBankMixin):
        if (config.epochs not in (None, 1)) or config.max_steps is not None:
            raise ConfigError(
                f"{detector}: anomalib's {name} builds its memory bank in one pass over the training cases; "
                f"expected epochs unset or 1 and max_steps unset, got epochs={config.epochs}, "
                f"max_steps={config.max_steps}"
            )
        return TrainingPlan(epochs=1, max_steps=None, one_pass=True, batch_size=config.train_batch_size)
    epochs = config.epochs if config.epochs is not None else module.trainer_arguments.get("max_epochs")
    if epochs is None and config.max_steps is None:
        raise ConfigError(
            f"{detector}: anomalib's {name} learns by gradient descent and declares no epoch count; "
            "set epochs (e.g. --set epochs=100) or max_steps"
        )
    return TrainingPlan(epochs=epochs, max_steps=config.max_steps, one_pass=False, batch_size=config.train_batch_size)


def train(
    module: Any,
    images: torch.Tensor,
    plan: TrainingPlan,
    config: AnomalibRunConfig,
    *,
    seed: int,
    device: str,
    work_dir: Path | None,
    report: Callable[[int, int], None],
) -> TrainingSummary:
    """Fit ``module`` on ``images`` (float32, N x 1 x S x S in [0, 1], normal cases) under ``plan``.

    ``report(done, total)`` is called after every epoch.
    """
    import lightning.pytorch as pl

    total = plan.total_epochs(len(images))
    epoch_losses: list[float] = []
    fed = [0]  # training images that went through a training step

    class EpochProgress(pl.Callback):
        """Reports each finished epoch and keeps its mean training loss."""

        def __init__(self) -> None:
            self.losses: list[float] = []

        def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, *args: Any) -> None:
            fed[0] += len(batch.image)
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            if loss is not None and hasattr(loss, "detach"):
                self.losses.append(float(loss.detach().float().mean()))

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
            if self.losses:
                epoch_losses.append(sum(self.losses) / len(self.losses))
            self.losses = []
            report(trainer.current_epoch + 1, total)

    learning = {k: v for k, v in module.trainer_arguments.items() if k in _LEARNING_ARGUMENTS}
    accelerator, devices = _accelerator(device)
    with contextlib.ExitStack() as stack:
        root = work_dir if work_dir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=devices,
            max_epochs=plan.epochs if plan.epochs is not None else -1,
            max_steps=plan.max_steps if plan.max_steps is not None else -1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=str(root),
            num_sanity_val_steps=0,
            limit_val_batches=0,
            callbacks=[EpochProgress()],
            **learning,
        )
        trainer.fit(module, datamodule=_normal_cases_module(images, config, plan.batch_size, seed))
        return TrainingSummary(
            epochs=int(trainer.current_epoch),
            steps=int(trainer.global_step),
            images=fed[0],
            epoch_losses=tuple(epoch_losses),
        )


def _normal_cases_module(images: torch.Tensor, config: AnomalibRunConfig, batch_size: int, seed: int) -> Any:
    """A LightningDataModule over the training cases (some models ask the trainer's datamodule for them)."""
    import lightning.pytorch as pl
    import torch
    from anomalib.data import ImageBatch, ImageItem

    class NormalCases(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, index: int) -> ImageItem:
            image = normalise(images[index : index + 1], config.mean, config.std)[0]
            return ImageItem(image=image, gt_label=torch.tensor(False))

    class NormalCasesModule(pl.LightningDataModule):
        train_batch_size = batch_size

        def train_dataloader(self) -> torch.utils.data.DataLoader:
            order = torch.Generator().manual_seed(seed)
            return torch.utils.data.DataLoader(
                NormalCases(), batch_size=batch_size, shuffle=True, generator=order, collate_fn=ImageBatch.collate
            )

    return NormalCasesModule()


def _accelerator(device: str) -> tuple[str, Any]:
    """Lightning's (accelerator, devices) for a torch device string (``cpu``, ``cuda``, ``cuda:1``)."""
    if device.startswith("cuda"):
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        return "gpu", [index]
    return "cpu", 1


@contextlib.contextmanager
def seeded(seed: int, device: str) -> Iterator[None]:
    """Seed torch, numpy and ``random`` and use deterministic algorithms where torch has them; restore all after."""
    import torch

    devices = []
    if device.startswith("cuda"):
        devices = [int(device.split(":", 1)[1]) if ":" in device else torch.cuda.current_device()]
    numpy_state, python_state = np.random.get_state(), random.getstate()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        # warn_only: an op without a deterministic kernel warns instead of stopping the run.
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
            np.random.set_state(numpy_state)
            random.setstate(python_state)
