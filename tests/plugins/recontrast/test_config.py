"""ReContrast's config: the authors' published settings by default, ranges checked; its optimiser groups."""

from __future__ import annotations

import pytest

from bench.errors import ConfigError
from bench.plugins import resolve_config
from bench_anomalib.quiet import import_anomalib_models
from bench_recontrast import ReContrast, ReContrastConfig


def test_defaults_are_the_authors_oct2017_settings():
    config = ReContrastConfig()
    assert config.backbone == "wide_resnet50_2.tv_in1k"  # torchvision's V1 ImageNet weights, as the authors load
    assert (config.max_steps, config.epochs, config.train_batch_size, config.input_size) == (1000, None, 32, 256)
    assert (config.lr_decoder, config.lr_encoder, config.weight_decay, config.betas) == (2e-3, 1e-5, 1e-5, (0.9, 0.999))
    assert config.encoder_bn_train is False
    assert (config.mining_alpha_start, config.mining_alpha_final, config.mining_warmup) == (-3.0, 1.0, 0.1)
    assert config.mining_factor == 0.0 and config.sigma == 4.0 and config.pretrained is True


def test_every_model_field_reaches_the_lightning_module():
    import_anomalib_models()
    import inspect

    from bench_recontrast.lightning_module import ReContrastModule

    takes = set(inspect.signature(ReContrastModule.__init__).parameters)
    assert set(ReContrastConfig().model_kwargs()) <= takes


@pytest.mark.parametrize(
    "override",
    [
        'backbone="vit_base_patch16_224"',
        'backbone="resnext50_32x4d"',
        "input_size=100",
        "betas=[1.0,0.9]",
        "lr_decoder=0",
        "lr_decoder=NaN",
        "mining_warmup=2",
        "max_steps=0",
    ],
)
def test_invalid_values_are_config_errors(override):
    with pytest.raises(ConfigError, match="invalid config for detector 'recontrast'"):
        resolve_config(ReContrast, None, [override])


def test_a_backbone_tag_is_allowed_and_the_bmad_preset_uses_bmads_input():
    assert resolve_config(ReContrast, None, ['backbone="resnet18.tv_in1k"']).backbone == "resnet18.tv_in1k"
    assert resolve_config(ReContrast, "bmad", []).input_size == 224


def test_the_optimiser_has_the_authors_two_learning_rates_and_leaves_the_frozen_encoder_out():
    import_anomalib_models()
    from anomalib.pre_processing import PreProcessor
    from torchvision.transforms.v2 import Resize

    from bench_recontrast.lightning_module import ReContrastModule

    module = ReContrastModule(
        backbone="resnet18",
        pre_trained=False,
        pre_processor=PreProcessor(transform=Resize((64, 64))),
        post_processor=False,
        evaluator=False,
        visualizer=False,
    )
    optimizer = module.configure_optimizers()
    reconstruction, encoder = optimizer.param_groups
    assert reconstruction["lr"] == 2e-3 and encoder["lr"] == 1e-5
    assert optimizer.defaults["betas"] == (0.9, 0.999) and optimizer.defaults["weight_decay"] == 1e-5
    net = module.model
    ids = {id(p) for p in reconstruction["params"]}
    assert ids == {id(p) for m in (net.bottleneck, net.decoder, net.heads) for p in m.parameters()}
    assert {id(p) for p in encoder["params"]} == {id(p) for p in net.encoder.parameters()}
    frozen = {id(p) for p in net.frozen_encoder.parameters()}
    assert not frozen & (ids | {id(p) for p in encoder["params"]})
