"""ReContrast's network: two encoders, one bottleneck, one decoder with two sets of output heads.

Guo et al., "ReContrast: Domain-Specific Anomaly Detection via Contrastive
Reconstruction", NeurIPS 2023. ReContrast builds on reverse distillation
(RD4AD): a ResNet encoder's features from layers 1-3 are fused by a
one-class bottleneck and reconstructed by a mirrored decoder. It differs in
three ways, all kept here:

- the encoder is trained too (at a small learning rate), beside a frozen
  copy of the same pretrained encoder;
- both encoders' features pass through the shared bottleneck and decoder
  (one batch of 2B), and the decoder has two sets of 1x1 output heads;
- the reconstruction is crossed ("contrastive"): the first heads, applied to
  the decoding of the trained encoder's features, reconstruct the frozen
  encoder's features; the second heads, applied to the decoding of the
  frozen encoder's features, reconstruct the trained encoder's.

The anomaly map sums ``1 - cosine similarity`` over the six (target,
reconstruction) pairs, each upsampled to the input (bilinear, corners
aligned), then Gaussian-smoothed with sigma 4; the image score is the map's
maximum. The bottleneck and decoder are anomalib's RD4AD components.
"""

from __future__ import annotations

import copy

import torch
from anomalib.data import InferenceBatch
from anomalib.models.components import GaussianBlur2d, TimmFeatureExtractor
from anomalib.models.components.backbone import get_decoder
from anomalib.models.image.reverse_distillation.components import get_bottleneck_layer
from torch import nn
from torch.nn import functional as F  # noqa: N812

#: The encoder layers ReContrast reconstructs (its bottleneck fuses exactly these three).
LAYERS = ("layer1", "layer2", "layer3")


def architecture(backbone: str) -> str:
    """A timm backbone name without its pretrained tag: ``wide_resnet50_2.tv_in1k`` -> ``wide_resnet50_2``."""
    return backbone.split(".", 1)[0]


class ReContrastModel(nn.Module):
    """ReContrast's torch model.

    Args:
        backbone: timm ResNet-family name, optionally with a pretrained tag.
        input_size: (H, W) of the model input; the map comes back at this size.
        pre_trained: load the encoder's ImageNet weights (through timm).
        encoder_bn_train: whether the trained encoder's batch-norm layers
            update their statistics while training (the authors' medical
            scripts differ: OCT False, APTOS and ISIC True).
        sigma: Gaussian smoothing of the map, in input pixels.
    """

    def __init__(
        self,
        backbone: str,
        input_size: tuple[int, int],
        pre_trained: bool = True,
        encoder_bn_train: bool = False,
        sigma: float = 4.0,
    ) -> None:
        super().__init__()
        self.input_size = tuple(input_size)
        self.encoder_bn_train = encoder_bn_train
        self.encoder = TimmFeatureExtractor(backbone, layers=LAYERS, pre_trained=pre_trained, requires_grad=True)
        self.frozen_encoder = copy.deepcopy(self.encoder)
        self.frozen_encoder.requires_grad_(False)
        arch = architecture(backbone)
        # The authors' wide ResNets build the bottleneck with their own width (128), not ResNet's default 64.
        width = 128 if arch.startswith("wide_") else 64
        self.bottleneck = get_bottleneck_layer(arch, width_per_group=width)
        self.decoder = get_decoder(arch)
        channels = list(self.encoder.out_dims)
        self.heads = nn.ModuleList(nn.ModuleList(nn.Conv2d(c, c, kernel_size=1) for c in channels) for _ in range(2))
        for conv in self.heads.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        radius = int(4 * sigma + 0.5)  # scipy's gaussian_filter truncates at 4 sigma, as the authors' code
        self.blur = GaussianBlur2d(sigma=(sigma, sigma), channels=1, kernel_size=(2 * radius + 1, 2 * radius + 1))

    def train(self, mode: bool = True) -> ReContrastModel:
        """Train mode for the bottleneck, decoder and heads; the frozen encoder always evaluates."""
        super().train(mode)
        self.encoder.train(mode and self.encoder_bn_train)
        self.frozen_encoder.train(False)
        return self

    def features(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Targets and reconstructions, six of each, paired by position.

        Args:
            images: float32, B x 3 x H x W, normalised.

        Returns:
            ``targets``: the frozen encoder's layers 1-3, then the trained
            encoder's layers 1-3; ``reconstructions``: the first heads on the
            decoding of the trained encoder's features, then the second heads
            on the decoding of the frozen encoder's. Each pair has the same
            shape, B x C_l x H_l x W_l.
        """
        trained = list(self.encoder(images).values())
        with torch.no_grad():
            frozen = list(self.frozen_encoder(images).values())
        batch = images.shape[0]
        decoded = self.decoder(self.bottleneck([torch.cat(pair) for pair in zip(trained, frozen, strict=True)]))
        first, second = self.heads
        crossed = [head(d[:batch]) for head, d in zip(first, decoded, strict=True)]
        crossed += [head(d[batch:]) for head, d in zip(second, decoded, strict=True)]
        return frozen + trained, crossed

    def anomaly_map(self, targets: list[torch.Tensor], reconstructions: list[torch.Tensor]) -> torch.Tensor:
        """float32, B x 1 x H x W: summed ``1 - cos`` over the pairs, upsampled, smoothed."""
        total = torch.zeros((targets[0].shape[0], 1, *self.input_size), device=targets[0].device)
        for target, reconstruction in zip(targets, reconstructions, strict=True):
            distance = 1 - F.cosine_similarity(target, reconstruction, dim=1)[:, None]
            total += F.interpolate(distance, size=self.input_size, mode="bilinear", align_corners=True)
        return self.blur(total)

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]] | InferenceBatch:
        """Training: (targets, reconstructions). Evaluation: the anomaly map and its maximum as the score."""
        targets, reconstructions = self.features(images)
        if self.training:
            return targets, reconstructions
        amap = self.anomaly_map(targets, reconstructions)
        return InferenceBatch(pred_score=torch.amax(amap, dim=(-2, -1)).reshape(-1), anomaly_map=amap)
