"""anomalib's PatchCore torch model, imported and driven without side effects.

We use :class:`anomalib.models.image.patchcore.torch_model.PatchcoreModel`
directly, not anomalib's Engine: no Lightning trainer, so no result folders,
checkpoints or logs. Three side effects of the library are contained here:

- importing anomalib writes matplotlib's font cache and emits FutureWarnings:
  the import goes through :func:`bench_anomalib.quiet.quiet_import`, which
  contains both;
- k-center-greedy draws a tqdm bar on stderr; progress is the CLI's job.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anomalib.models.image.patchcore.torch_model import PatchcoreModel


def import_patchcore_model() -> type[PatchcoreModel]:
    """Import anomalib's PatchcoreModel quietly, writing nothing outside a temporary folder."""
    from bench_anomalib.quiet import quiet_import

    return quiet_import("anomalib.models.image.patchcore.torch_model").PatchcoreModel


@contextlib.contextmanager
def silent_coreset_progress() -> Iterator[None]:
    """Disable the tqdm bar k-center-greedy draws while selecting the coreset."""
    from anomalib.models.components.sampling import k_center_greedy

    original: Any = k_center_greedy.tqdm

    def quiet(*args: Any, **kwargs: Any) -> Any:
        kwargs["disable"] = True
        return original(*args, **kwargs)

    k_center_greedy.tqdm = quiet
    try:
        yield
    finally:
        k_center_greedy.tqdm = original


def keep_large_allocations_off_the_heap() -> None:
    """Serve allocations of 1 MiB and more with mmap, so freeing them returns the memory (glibc only).

    k-center-greedy allocates an N x d temporary on every iteration. glibc
    raises its mmap threshold after the first such block is freed and then
    serves the rest from the heap, which fragments and never shrinks: a
    24-case fit grew to 24 GB and was killed. Fixing the threshold keeps the
    process at its working size (about 1 GB for that fit). Process-wide, once.
    """
    global _heap_fixed
    if _heap_fixed:
        return
    _heap_fixed = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


_M_MMAP_THRESHOLD = -3
_heap_fixed = False
