"""anomalib's PatchCore torch model, imported and driven without side effects.

We use :class:`anomalib.models.image.patchcore.torch_model.PatchcoreModel`
directly, not anomalib's Engine: no Lightning trainer, so no result folders,
checkpoints or logs. Three side effects of the library are contained here:

- importing anomalib imports matplotlib, which writes a font cache under the
  user's home; the import runs with ``MPLCONFIGDIR`` pointed at a private
  temporary folder (removed at exit) unless the user set one;
- the import emits FutureWarnings from timm and anomalib's own deprecations;
- k-center-greedy draws a tqdm bar on stderr; progress is the CLI's job.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anomalib.models.image.patchcore.torch_model import PatchcoreModel


def import_patchcore_model() -> type[PatchcoreModel]:
    """Import anomalib's PatchcoreModel quietly, writing nothing outside a temporary folder."""
    redirect = "matplotlib" not in sys.modules and "MPLCONFIGDIR" not in os.environ
    if redirect:
        folder = tempfile.mkdtemp(prefix="mias-bench-mpl-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = folder
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            import matplotlib.font_manager  # noqa: F401  (builds its cache now, in the folder above)
            from anomalib.models.image.patchcore.torch_model import PatchcoreModel
    finally:
        if redirect:
            # matplotlib has memoised the folder; the environment goes back as it was.
            del os.environ["MPLCONFIGDIR"]
    return PatchcoreModel


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
