"""Replacing a published folder in one step: the old one stays until the new one is complete."""

from __future__ import annotations

import ctypes
import os
import shutil
from pathlib import Path

from bench.publish.board import PublishError


def swap_in(staging: Path, folder: Path) -> None:
    """Put the finished ``staging`` folder in ``folder``'s place; the old publication goes only once it is replaced."""
    if not folder.exists():
        os.rename(staging, folder)
        return
    if not folder.is_dir():
        raise PublishError(f"cannot publish to {folder}: it exists and is not a folder")
    if exchange(staging, folder):  # atomic on Linux: readers see the old folder or the new one
        shutil.rmtree(staging, ignore_errors=True)  # staging now holds the old publication
        return
    old = folder.with_name(f".{folder.name}.replaced-{os.getpid()}")
    os.rename(folder, old)
    try:
        os.rename(staging, folder)
    except BaseException:
        os.rename(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def exchange(a: Path, b: Path) -> bool:
    """``renameat2(RENAME_EXCHANGE)``: swap two paths in one step; False where the system has no such call."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0
