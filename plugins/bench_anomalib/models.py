"""Which anomalib classes the bridge runs: image anomaly models, found by name in ``anomalib.models``.

A name is accepted when ``anomalib.models`` exports it, it is an
``AnomalibModule`` and it lives under ``anomalib.models.image``; video
models, data modules, the Engine and anything else are refused with a
message that says what the name is and lists what is accepted. Init
arguments are checked against the class's own signature, and the ones the
bridge sets itself (pre-/post-processing, evaluation, visualisation,
``pre_trained``) are refused with the key to use instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from bench.sdk import ConfigError, suggest
from bench_anomalib.quiet import import_anomalib_models

#: Init arguments the bridge owns, and what to use instead.
RESERVED_ARGS = {
    "pre_processor": "the bridge preprocesses cases itself (input_size, mean, std)",
    "post_processor": "maps are returned raw; the runner applies threshold protocols",
    "evaluator": "the runner computes the metrics",
    "visualizer": "nothing is drawn or written",
    "pre_trained": "use the bridge's `pretrained` key",
}
_IMAGE_PACKAGE = "anomalib.models.image."


def image_model_names() -> list[str]:
    """Names of every image anomaly model ``anomalib.models`` exports, sorted."""
    models = import_anomalib_models()
    return sorted(name for name in models.__all__ if _is_image_model(getattr(models, name, None)))


def _is_image_model(obj: Any) -> bool:
    import_anomalib_models()
    from anomalib.models.components import AnomalibModule

    return isinstance(obj, type) and issubclass(obj, AnomalibModule) and obj.__module__.startswith(_IMAGE_PACKAGE)


def resolve_model_class(name: str) -> type:
    """The anomalib image model class called ``name`` (e.g. ``"Padim"``).

    Raises:
        ConfigError: ``name`` is unknown (with close matches), or names
            something that is not an image anomaly model (saying what it is).
    """
    models = import_anomalib_models()
    from anomalib.models.components import AnomalibModule

    accepted = image_model_names()
    obj = getattr(models, name, None) if name in models.__all__ else None
    if obj is None:
        raise ConfigError(
            f"unknown anomalib model {name!r}{suggest(name, accepted)} (anomalib image models: {', '.join(accepted)})"
        )
    if not (isinstance(obj, type) and issubclass(obj, AnomalibModule)):
        raise ConfigError(
            f"{name!r} in anomalib.models is a {type(obj).__name__}, not an anomaly model; "
            f"expected one of {', '.join(accepted)}"
        )
    if not obj.__module__.startswith(_IMAGE_PACKAGE):
        kind = obj.__module__.split(".")[2] if obj.__module__.count(".") >= 2 else obj.__module__
        raise ConfigError(
            f"anomalib model {name!r} is a {kind} model ({obj.__module__}), not an image anomaly model; "
            f"the bridge runs image models: {', '.join(accepted)}"
        )
    return obj


def init_parameters(model_class: type) -> dict[str, inspect.Parameter]:
    """The keyword arguments ``model_class.__init__`` takes (``self`` left out)."""
    params = dict(inspect.signature(model_class.__init__).parameters)
    params.pop("self", None)
    return params


def check_model_args(model_class: type, args: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for an argument the model does not take or the bridge sets itself."""
    params = init_parameters(model_class)
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    takes = [name for name, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    for key in args:
        if key in RESERVED_ARGS:
            raise ConfigError(f"model_args: {key!r} is set by the bridge ({RESERVED_ARGS[key]})")
        if key not in params and not open_ended:
            usable = [t for t in takes if t not in RESERVED_ARGS]
            raise ConfigError(
                f"model_args: anomalib's {model_class.__name__} takes no argument {key!r}{suggest(key, usable)} "
                f"(it takes: {', '.join(usable)})"
            )
