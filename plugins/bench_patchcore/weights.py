"""Where timm keeps a backbone's ImageNet weights, and failing fast without them.

timm fetches pretrained weights at model construction, from the Hugging Face
hub (``hf-hub``) or, for some models, a plain URL cached under torch hub's
folder. This module answers, without any network call, whether the file
timm would load is already cached. When it is, construction runs with the
hub switched offline, so a cached file is used as is (no update check that
could wait on a dead network). When it is not, the hub must be online and
reachable within a few seconds, else a :class:`~bench.errors.WeightsError`
names the backbone and how to get its weights.

timm, torch and huggingface_hub are imported inside functions: the plugin
listing must not import them.
"""

from __future__ import annotations

import contextlib
import hashlib
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


def locate_weights(backbone: str) -> WeightsSource:
    """Resolve where timm would load ``backbone``'s pretrained weights from, and whether they are cached.

    Makes no network call and creates no folder.
    """
    from timm.models import get_pretrained_cfg
    from timm.models._builder import _resolve_pretrained_source

    cfg = get_pretrained_cfg(backbone)
    kind, location = _resolve_pretrained_source(cfg.to_dict()) if cfg is not None else ("", "")
    if not location:
        raise WeightsError(f"timm has no pretrained weights for backbone {backbone!r}; set pretrained=false")
    if kind == "hf-hub":
        return _locate_hf(backbone, location)
    if kind == "url":
        import torch

        cache = Path(torch.hub.get_dir()) / "checkpoints"
        path = cache / Path(urlparse(location).path).name
        return WeightsSource(backbone, "url", location, cache, path if path.is_file() else None)
    raise WeightsError(f"backbone {backbone!r}: timm resolves its weights from {kind!r}, expected 'hf-hub' or 'url'")


def _locate_hf(backbone: str, location: str | tuple[str, str]) -> WeightsSource:
    from huggingface_hub import constants, try_to_load_from_cache
    from timm.models._hub import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME, hf_split

    repo, filename = location if isinstance(location, tuple) else (location, None)
    repo_id, revision = hf_split(repo)
    # timm's order: a safetensors file first, then the pickled one.
    names = [filename] if filename else [HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME]
    cached = None
    for name in names:
        hit = try_to_load_from_cache(repo_id, name, revision=revision)
        if isinstance(hit, str):
            cached = Path(hit)
            break
    return WeightsSource(backbone, "hf-hub", repo, Path(constants.HF_HUB_CACHE), cached)


def how_to_get(source: WeightsSource) -> str:
    """One sentence on how to put the weights in the cache."""
    return (
        f'Run once with network access (e.g. `python -c "import timm; '
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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
