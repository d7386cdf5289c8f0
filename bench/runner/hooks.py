"""Calling into a plugin: whatever a hook raises fails its own run, never the process.

A hook that raises an exception, calls ``sys.exit`` or raises
``KeyboardInterrupt`` itself becomes a :class:`PluginFailure` naming the
detector and the hook, so the next detector of a command still runs. The
user's own Ctrl-C stays a ``KeyboardInterrupt``: while a :class:`HookGuard`
is active (in the main thread) it notes the signal before Python raises it,
which is how the two are told apart.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from bench.errors import BenchError

T = TypeVar("T")


class PluginFailure(BenchError):
    """A detector's hook raised, exited or interrupted itself; its run fails with this message."""


class HookGuard:
    """Runs a detector's hooks; a context manager that tells the user's Ctrl-C from a plugin's."""

    def __init__(self, detector: str):
        self.detector = detector
        self.user_interrupted = False
        self._previous: Any = None

    def __enter__(self) -> HookGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_sigint(self, signum, frame) -> None:
        self.user_interrupted = True
        previous = self._previous
        if callable(previous) and previous not in (signal.default_int_handler, self._on_sigint):
            previous(signum, frame)
        raise KeyboardInterrupt

    def call(self, hook: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``; a failure becomes :class:`PluginFailure` (the user's Ctrl-C passes through)."""
        where = f"detector `{self.detector}`: {hook}()"
        try:
            return fn(*args)
        except KeyboardInterrupt:
            if self.user_interrupted:
                raise
            raise PluginFailure(f"{where} raised KeyboardInterrupt (not the user's Ctrl-C)") from None
        except SystemExit as exc:
            raise PluginFailure(f"{where} called sys.exit({exc.code!r})") from None
        except BenchError as exc:
            raise PluginFailure(f"{where} failed: {exc}") from exc
        except Exception as exc:
            raise PluginFailure(f"{where} raised {type(exc).__name__}: {exc}") from exc
