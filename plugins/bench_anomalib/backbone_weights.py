"""Pretrained backbone files: loaded from the local cache only, reported to the platform, or left out.

anomalib's models load ImageNet weights while they are constructed, by one
of three routes:

- timm from the Hugging Face hub (``timm.models._hub.hf_hub_download``);
- timm from a URL, cached under torch hub's ``checkpoints/`` folder
  (``load_state_dict_from_url``);
- torchvision's weight enums (CFA), which end in the same URL loader.

:func:`pretrained_loads` intercepts all three while a model is built. With
``pretrained=True`` a cached file is loaded and reported to the platform with
:func:`bench.sdk.record_weights` (which hashes it); a file that is not cached
raises :class:`~bench.sdk.WeightsError` naming it and the one-line command
that caches it. Nothing is ever downloaded, so a run never waits on a
network. With ``pretrained=False`` nothing is loaded: timm builds random-init
networks, and torchvision's weight lookups answer "no weights".

timm, torch, torchvision and huggingface_hub are imported inside functions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.sdk import WeightsError, record_weights


@dataclass(frozen=True)
class LoadedFile:
    """One pretrained file read while a model was built.

    Attributes:
        name: what it is, e.g. ``timm/resnet18.a1_in1k/model.safetensors`` or a URL's file name.
        path: the cached file.
        sha256: its SHA-256 hex digest, as the platform hashed it.
    """

    name: str
    path: Path
    sha256: str


@dataclass
class PretrainedLoads:
    """What happened to pretrained weights inside one :func:`pretrained_loads` block."""

    pretrained: bool
    files: list[LoadedFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # hub files asked for and not cached
    skipped: int = 0  # loads left out because pretrained=False


def hub_checkpoint_path(url: str, model_dir: str | Path | None = None, file_name: str | None = None) -> Path:
    """Where torch hub caches the file at ``url`` (``<torch hub>/checkpoints/<name>``); creates nothing."""
    import torch

    folder = Path(model_dir) if model_dir else Path(torch.hub.get_dir()) / "checkpoints"
    return folder / (file_name or Path(urlparse(url).path).name)


def _timm_command(repo_id: str) -> str:
    model = repo_id.removeprefix("timm/")
    return f"python -c \"import timm; timm.create_model('{model}', pretrained=True)\""


class _NoWeights:
    """Stands in for a torchvision weights enum when ``pretrained=False``: every member is ``None``."""

    def __getattr__(self, name: str) -> None:
        return None


@contextlib.contextmanager
def pretrained_loads(detector: str, pretrained: bool) -> Iterator[PretrainedLoads]:
    """Route every pretrained-weights load of the block through the local cache (or skip it when not ``pretrained``).

    Raises:
        WeightsError: a URL file is not cached, or a model loads weights by
            URL even though ``pretrained=False`` (it cannot be built without
            them). A hub file that is not cached surfaces as the library's
            own error; :func:`weights_error` turns it into a WeightsError.
    """
    import timm.models._builder as timm_builder
    import timm.models._hub as timm_hub
    import torch.hub
    import torchvision.models
    import torchvision.models._api as tv_api
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import LocalEntryNotFoundError

    loads = PretrainedLoads(pretrained=pretrained)
    originals: dict[tuple[Any, str], Any] = {
        (timm_hub, "hf_hub_download"): timm_hub.hf_hub_download,
        (timm_builder, "load_pretrained"): timm_builder.load_pretrained,
        (timm_builder, "load_state_dict_from_url"): timm_builder.load_state_dict_from_url,
        (tv_api, "load_state_dict_from_url"): tv_api.load_state_dict_from_url,
        (torch.hub, "load_state_dict_from_url"): torch.hub.load_state_dict_from_url,
        (torchvision.models, "get_model_weights"): torchvision.models.get_model_weights,
        (torchvision.models, "get_weight"): torchvision.models.get_weight,
    }

    def note(name: str, path: Path) -> None:
        loads.files.append(LoadedFile(name=name, path=path, sha256=record_weights(path, name)))

    def hub_file(repo_id: str, filename: str | None = None, *args: Any, **kwargs: Any) -> str:
        filename = filename or kwargs.get("filename")
        revision, cache_dir = kwargs.get("revision"), kwargs.get("cache_dir")
        hit = try_to_load_from_cache(repo_id, filename, revision=revision, cache_dir=cache_dir)
        if isinstance(hit, str):
            note(f"{repo_id}/{filename}", Path(hit))
            return hit
        loads.missing.append(f"{repo_id}/{filename}")
        # The library's own "not cached" error: timm catches it while it looks for a safetensors alternative.
        raise LocalEntryNotFoundError(f"{repo_id}/{filename} is not in the Hugging Face cache")

    def url_file(url: str, model_dir: str | None = None, *args: Any, **kwargs: Any) -> Any:
        if not pretrained:
            raise WeightsError(
                f"{detector}: pretrained=false, but the model loads {url} while it is built; "
                "it cannot be built without these pretrained weights"
            )
        path = hub_checkpoint_path(url, model_dir, kwargs.get("file_name"))
        if not path.is_file():
            raise WeightsError(
                f"{detector}: pretrained weights {url} are not cached at {path}; nothing is downloaded during a run. "
                f'Cache them once with network access (python -c "import torch; '
                f"torch.hub.load_state_dict_from_url('{url}')\"), or set pretrained=false for a random-init "
                "backbone (recorded as random-init)"
            )
        state = originals[(torch.hub, "load_state_dict_from_url")](url, str(path.parent), *args, **kwargs)
        note(path.name, path)
        return state

    def skip_timm_weights(*args: Any, **kwargs: Any) -> None:
        loads.skipped += 1

    def no_torchvision_weights(*args: Any, **kwargs: Any) -> _NoWeights:
        loads.skipped += 1
        return _NoWeights()

    replacements: dict[tuple[Any, str], Any] = {
        (timm_hub, "hf_hub_download"): hub_file,
        (timm_builder, "load_state_dict_from_url"): url_file,
        (tv_api, "load_state_dict_from_url"): url_file,
        (torch.hub, "load_state_dict_from_url"): url_file,
    }
    if not pretrained:
        replacements[(timm_builder, "load_pretrained")] = skip_timm_weights
        replacements[(torchvision.models, "get_model_weights")] = no_torchvision_weights
        replacements[(torchvision.models, "get_weight")] = lambda *args, **kwargs: None
    try:
        for (module, attribute), replacement in replacements.items():
            setattr(module, attribute, replacement)
        yield loads
    finally:
        for (module, attribute), original in originals.items():
            setattr(module, attribute, original)


def weights_error(detector: str, loads: PretrainedLoads, exc: BaseException) -> WeightsError | None:
    """The WeightsError to raise when building a model failed because hub files were not cached, else ``None``."""
    if not loads.missing:
        return None
    wanted = ", ".join(loads.missing)
    repo = loads.missing[-1].rsplit("/", 1)[0]
    from huggingface_hub import constants

    return WeightsError(
        f"{detector}: pretrained weights {wanted} are not in the Hugging Face cache ({constants.HF_HUB_CACHE}); "
        f"nothing is downloaded during a run. Cache them once with network access ({_timm_command(repo)}), "
        f"or set pretrained=false for a random-init backbone (recorded as random-init). "
        f"[{type(exc).__name__}: {exc}]"
    )
