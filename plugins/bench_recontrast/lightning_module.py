"""ReContrast as an anomalib Lightning module, so the anomalib bridge trains and runs it like any anomalib model.

Training follows the authors' scripts: the loss is the mean of the two
crossed reconstructions' hard-mined global cosine losses; AdamW with
betas (0.9, 0.999) and weight decay 1e-5, learning rate 2e-3 for the
bottleneck, decoder and heads and 1e-5 for the trained encoder (the
authors use two optimisers with these groups; one AdamW with two
parameter groups updates every parameter identically). The hard-mining
schedule reads the total number of optimiser steps from the trainer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from anomalib import LearningType
from anomalib.models.components import AnomalibModule

from bench_recontrast.loss import global_cosine_hard_mining, mining_alpha
from bench_recontrast.model import ReContrastModel


class ReContrastModule(AnomalibModule):
    """Lightning module around :class:`ReContrastModel`; arguments as in :class:`bench_recontrast.ReContrastConfig`."""

    def __init__(
        self,
        backbone: str = "wide_resnet50_2.tv_in1k",
        pre_trained: bool = True,
        lr_decoder: float = 2e-3,
        lr_encoder: float = 1e-5,
        betas: Sequence[float] = (0.9, 0.999),
        weight_decay: float = 1e-5,
        encoder_bn_train: bool = False,
        mining_alpha_start: float = -3.0,
        mining_alpha_final: float = 1.0,
        mining_warmup: float = 0.1,
        mining_factor: float = 0.0,
        sigma: float = 4.0,
        pre_processor: Any = True,
        post_processor: Any = True,
        evaluator: Any = True,
        visualizer: Any = True,
    ) -> None:
        super().__init__(
            pre_processor=pre_processor, post_processor=post_processor, evaluator=evaluator, visualizer=visualizer
        )
        if self.input_size is None:
            raise ValueError("ReContrast needs a pre-processor that fixes the input size")
        self.lr_decoder, self.lr_encoder = lr_decoder, lr_encoder
        self.betas, self.weight_decay = tuple(betas), weight_decay
        self.mining = (mining_alpha_start, mining_alpha_final, mining_warmup, mining_factor)
        self.model = ReContrastModel(
            backbone,
            input_size=tuple(self.input_size),
            pre_trained=pre_trained,
            encoder_bn_train=encoder_bn_train,
            sigma=sigma,
        )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        net = self.model
        reconstruction = [*net.bottleneck.parameters(), *net.decoder.parameters(), *net.heads.parameters()]
        return torch.optim.AdamW(
            [
                {"params": reconstruction, "lr": self.lr_decoder},
                {"params": list(net.encoder.parameters()), "lr": self.lr_encoder},
            ],
            betas=self.betas,
            weight_decay=self.weight_decay,
        )

    def training_step(self, batch: Any, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        del args, kwargs
        targets, reconstructions = self.model(batch.image)
        start, final, warmup, factor = self.mining
        alpha = mining_alpha(self.global_step, int(self.trainer.estimated_stepping_batches), start, final, warmup)
        half = len(targets) // 2
        loss = (
            global_cosine_hard_mining(targets[:half], reconstructions[:half], alpha, factor)
            + global_cosine_hard_mining(targets[half:], reconstructions[half:], alpha, factor)
        ) / 2
        return {"loss": loss}

    def validation_step(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        del args, kwargs
        return batch.update(**self.model(batch.image)._asdict())

    @property
    def trainer_arguments(self) -> dict[str, Any]:
        return {"gradient_clip_val": 0, "num_sanity_val_steps": 0}

    @property
    def learning_type(self) -> LearningType:
        return LearningType.ONE_CLASS
