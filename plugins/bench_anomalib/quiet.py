"""anomalib, Lightning and tqdm, kept from writing to the user's home folder and the terminal.

The library never prints: progress and results are the CLI's job. These
third-party libraries have side effects that are contained here:

- importing anomalib imports matplotlib, which builds a font cache under the
  user's home; the import runs with ``MPLCONFIGDIR`` pointed at a private
  temporary folder (removed at exit) unless the user set one;
- the import emits FutureWarnings from timm and anomalib's own deprecations;
- Lightning logs "GPU available" banners and tips through its own stderr
  handler, and warns about things that do not apply here (no validation
  loop, no logger, few dataloader workers);
- anomalib draws tqdm bars (CFA's centroid pass, k-center greedy).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

#: Loggers whose INFO banners would reach stderr during a fit.
_CHATTY_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning", "anomalib")


def quiet_import(name: str) -> ModuleType:
    """Import the anomalib module ``name`` quietly, writing nothing outside a temporary folder.

    matplotlib (imported by anomalib) builds its font cache in a private
    folder removed at exit unless the user set ``MPLCONFIGDIR``; timm's and
    anomalib's import-time FutureWarnings and DeprecationWarnings are dropped.
    """
    if name in sys.modules:
        return sys.modules[name]
    redirect = "matplotlib" not in sys.modules and "MPLCONFIGDIR" not in os.environ
    if redirect:
        folder = tempfile.mkdtemp(prefix="mias-bench-mpl-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = folder
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            import matplotlib.font_manager  # noqa: F401  (its cache is built now, in the folder above)

            module = importlib.import_module(name)
    finally:
        if redirect:
            # matplotlib has memoised the folder; the environment goes back as it was.
            del os.environ["MPLCONFIGDIR"]
    return module


def import_anomalib_models() -> ModuleType:
    """``anomalib.models``, imported quietly (~7 s the first time)."""
    return quiet_import("anomalib.models")


@contextlib.contextmanager
def quiet_training() -> Iterator[None]:
    """Silence Lightning's banners and irrelevant warnings and anomalib's tqdm bars for the block."""
    import tqdm.std

    levels = {name: logging.getLogger(name).level for name in _CHATTY_LOGGERS}
    original_init: Any = tqdm.std.tqdm.__init__

    def disabled_init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        original_init(self, *args, **kwargs)

    tqdm.std.tqdm.__init__ = disabled_init  # every tqdm flavour (auto, asyncio) runs this __init__
    try:
        for name in _CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        with warnings.catch_warnings():
            from lightning.fabric.utilities.warnings import PossibleUserWarning

            warnings.simplefilter("ignore", PossibleUserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            # Lightning's remarks about the loop this bridge sets up on purpose (no validation loop, no logger).
            for message in (
                ".*validation_step.*val_dataloader",
                ".*self.log.*no logger configured",
                ".*infer the `batch_size`",
                ".*LeafSpec.*",
                ".*does not have many workers.*",
                ".*GPU available but not used.*",
                ".*does not have a deterministic implementation.*",
                ".*configure_optimizers.*returned `None`.*",
            ):
                warnings.filterwarnings("ignore", message=message)
            yield
    finally:
        tqdm.std.tqdm.__init__ = original_init
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
