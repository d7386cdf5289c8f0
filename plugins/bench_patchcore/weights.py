"""Where a backbone's ImageNet weights are, and failing fast without them.

Two caches can hold them. The platform's weights cache holds a backbone's
declared checkpoint (:mod:`bench_patchcore.checkpoints`) after ``mias-bench
weights fetch`` or ``weights add``; it is loaded through
:func:`bench.sdk.load_checkpoint`, which checks its digest. Otherwise timm
loads the weights at model construction from its own cache: the Hugging
Face hub's (``hf-hub``) or, for some models, torch hub's folder (``url``).
This module answers, without any network call and through timm's public
``get_pretrained_cfg`` only, whether the file timm would load is cached.
When it is, construction runs with the hub switched offline, so the cached
file is used as is, and the file is reported to the platform with
:func:`bench.sdk.record_weights`. When it is not, the hub must be online and
reachable within a few seconds, else a :class:`~bench.sdk.WeightsError`
names the backbone and how to get its weights.

timm, torch and huggingface_hub are imported inside functions: the plugin
listing must not import them.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from bench.sdk import ConfigError, WeightsError

log = logging.getLogger(__name__)

#: Seconds to wait for a TCP connection to the hub before calling it unreachable.
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class WeightsSource:
    """The pretrained file timm would load for a backbone.

    Attributes:
        backbone: timm model name, e.g. ``"wide_resnet50_2"``.
        kind: ``"hf-hub"`` or ``"url"`` (timm's own resolution).
        location: hub repo id (``"timm/resnet18.a1_in1k"``) or URL.
        cache: folder the file is cached under.
        cached_file: the cached file, or ``None`` when it is not cached.
    """

    backbone: str
    kind: str
    location: str
    cache: Path
    cached_file: Path | None

    @property
    def endpoint(self) -> str:
        if self.kind == "url":
            return self.location
        from huggingface_hub import constants

        return constants.ENDPOINT


def check_backbone(detector: str, backbone: str) -> None:
    """Raise :class:`ConfigError` when timm does not know ``backbone``."""
    import timm

    if timm.is_model(backbone):
        return
    from bench.sdk import suggest

    raise ConfigError(f"{detector}: backbone {backbone!r} is not a timm model{suggest(backbone, timm.list_models())}")


#: The file names timm tries in a hub repository, in its order: safetensors first, then the pickle.
HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def locate_weights(backbone: str) -> WeightsSource:
    """Resolve where timm would load ``backbone``'s pretrained weights from, and whether they are cached.

    Follows timm's default resolution from its public pretrained config: the
    hub repository when one is given (huggingface_hub is installed), else the
    plain URL. Makes no network call and creates no folder.
    """
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(backbone)
    hub_id = cfg.hf_hub_id if cfg is not None else None
    url = cfg.url if cfg is not None else None
    if hub_id:
        return _locate_hf(backbone, hub_id, cfg.hf_hub_filename)
    if url:
        import torch

        cache = Path(torch.hub.get_dir()) / "checkpoints"
        path = cache / Path(urlparse(url).path).name
        return WeightsSource(backbone, "url", url, cache, path if path.is_file() else None)
    raise WeightsError(f"timm has no pretrained weights for backbone {backbone!r}; set pretrained=false")


def _locate_hf(backbone: str, repo: str, filename: str | None) -> WeightsSource:
    from huggingface_hub import constants, try_to_load_from_cache

    repo_id, _, revision = repo.partition("@")  # the hub's "repo@revision" spelling
    names = [filename] if filename else list(HUB_WEIGHT_FILES)
    cached = None
    for name in names:
        hit = try_to_load_from_cache(repo_id, name, revision=revision or None)
        if isinstance(hit, str):
            cached = Path(hit)
            break
    return WeightsSource(backbone, "hf-hub", repo, Path(constants.HF_HUB_CACHE), cached)


def how_to_get(source: WeightsSource) -> str:
    """One sentence on how to put the weights in a cache."""
    from bench_patchcore.checkpoints import BACKBONE_CHECKPOINTS

    declared = BACKBONE_CHECKPOINTS.get(source.backbone)
    fetch = f"`mias-bench weights fetch {declared.name}`, or " if declared is not None else ""
    return (
        f'Install them with {fetch}run once with network access (e.g. `python -c "import timm; '
        f"timm.create_model('{source.backbone}', pretrained=True)\"`) to cache them under {source.cache}, "
        "or set pretrained=false for a random-init backbone (recorded as random-init)"
    )


def require_weights(detector: str, source: WeightsSource) -> None:
    """Return when ``source`` is cached or fetchable now; else raise :class:`WeightsError` within seconds."""
    if source.cached_file is not None:
        return
    what = (
        f"{detector}: ImageNet weights for backbone {source.backbone!r} ({source.location}) are not in {source.cache}"
    )
    if source.kind == "hf-hub" and _hf_offline():
        raise WeightsError(f"{what}, and the hub is offline (HF_HUB_OFFLINE is set). {how_to_get(source)}.")
    host = _probe_target(source.endpoint)
    if not _reachable(*host):
        raise WeightsError(
            f"{what}, and {host[0]}:{host[1]} cannot be reached within {PROBE_TIMEOUT_S:g} s. {how_to_get(source)}."
        )
    log.warning("%s: downloading ImageNet weights for %s from %s", detector, source.backbone, source.location)


def _hf_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.is_offline_mode())


def _probe_target(url: str) -> tuple[str, int]:
    """The host and port a download would first connect to (the HTTPS proxy, when one is set)."""
    proxy = urllib.request.getproxies().get("https")
    parsed = urlparse(proxy if proxy else url)
    return parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)


def _reachable(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection opens within ``timeout`` seconds (name lookup included)."""
    outcome: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(True)
        except OSError:
            outcome.append(False)

    # A thread, because a stuck name lookup ignores the socket timeout.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(outcome and outcome[0])


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """Switch the Hugging Face hub offline for the block, so cached files load with no request."""
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before
