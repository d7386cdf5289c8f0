"""One registry of plugins per entry-point group: found once per process, each entry point in its own guard.

Detectors (``mias_bench.detectors``) and datasets (``mias_bench.datasets``)
are both a :class:`Registry`; anything later that plugins provide is one
more. A registry scans its group with :func:`importlib.metadata.entry_points`
the first time it is asked and keeps what it loaded for the rest of the
process (:func:`reset` forgets it, for tests that put a fake distribution on
``sys.path``).

Every entry point loads in its own guard, on a worker thread with a time
limit (``MIAS_BENCH_PLUGIN_TIMEOUT`` seconds, default 30; ``0`` loads on the
calling thread with no limit): a plugin whose import fails, raises even
``SystemExit`` or ``KeyboardInterrupt``, hangs, or whose object fails the
group's check becomes a record with an error, listed and never stopping the
caller. Two environment variables choose what loads, each a comma-separated
list of entry-point or distribution names:

- ``MIAS_BENCH_PLUGINS`` (an allow list, for registries that honour it:
  detectors) loads only those;
- ``MIAS_BENCH_BLOCK`` (a block list, every registry) never imports those;
  they are listed as ``blocked``.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from bench.errors import ConfigError, PluginError, UnknownNameError
from bench.names import suggest

ALLOW_ENV = "MIAS_BENCH_PLUGINS"
BLOCK_ENV = "MIAS_BENCH_BLOCK"
TIMEOUT_ENV = "MIAS_BENCH_PLUGIN_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0

Check = Callable[[str, Any], None]


@dataclass
class PluginRecord:
    """One entry point and what loading it gave: the object, or an error (or that it was blocked)."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    obj: Any = None
    error: str | None = None
    blocked: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.blocked

    @property
    def status(self) -> str:
        return "blocked" if self.blocked else "ok" if self.ok else "error"


def env_names(variable: str) -> set[str] | None:
    """The comma-separated names in environment variable ``variable``, or ``None`` when it is unset or empty."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def import_timeout() -> float | None:
    """Seconds one entry point may take to load (``None``: no limit), from ``MIAS_BENCH_PLUGIN_TIMEOUT``."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds >= 0 (0: no limit)")
    return seconds or None


def _record(ep: EntryPoint, **fields: Any) -> PluginRecord:
    dist = ep.dist.name if ep.dist is not None else None
    version = ep.dist.version if ep.dist is not None else None
    return PluginRecord(name=ep.name, target=ep.value, distribution=dist, version=version, **fields)


def _load_and_check(ep: EntryPoint, check: Check, record: PluginRecord) -> None:
    """Fill ``record`` with the loaded object or the reason it is unusable; never raises."""
    try:
        obj = ep.load()
    except BaseException as exc:  # a plugin's import may raise anything, SystemExit and KeyboardInterrupt included
        record.error = f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}"
        return
    try:
        check(ep.name, obj)
    except PluginError as exc:
        record.error = str(exc)
        return
    except Exception as exc:  # a broken plugin object must not stop the listing
        record.error = f"check failed: {type(exc).__name__}: {exc}"
        return
    record.obj = obj


def load_one(ep: EntryPoint, check: Check, timeout: float | None) -> PluginRecord:
    """Load and check one entry point within ``timeout`` seconds (``None``: on this thread, unbounded).

    A load still running at the deadline is abandoned on its (daemon) thread
    and the record says which plugin was slow and how to wait longer or skip it.
    """
    record = _record(ep)
    if timeout is None:
        _load_and_check(ep, check, record)
        return record
    result = _record(ep)
    worker = threading.Thread(
        target=_load_and_check, args=(ep, check, result), name=f"mias-bench-plugin-{ep.name}", daemon=True
    )
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        record.error = (
            f"import of {ep.value!r} did not finish within {timeout:g} s (still running); "
            f"set {TIMEOUT_ENV} to wait longer, or {BLOCK_ENV}={ep.name} to skip it"
        )
        return record
    return result


def load_entry_points(
    group: str, check: Check, *, allow: set[str] | None = None, block: set[str] | None = None
) -> list[PluginRecord]:
    """Load every entry point of ``group`` afresh, each inside its own guard (no cache).

    Args:
        group: entry-point group, e.g. ``"mias_bench.detectors"``.
        check: raises :class:`PluginError` to reject a loaded object.
        allow: entry-point or distribution names to load (``None``: all).
        block: entry-point or distribution names never to import (listed as blocked).

    Returns:
        One record per entry point, sorted by name; a second entry point with
        a name already taken is an error record naming both distributions.
    """
    timeout = import_timeout()
    records: list[PluginRecord] = []
    seen: dict[str, PluginRecord] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
        dist = ep.dist.name if ep.dist is not None else None
        if allow is not None and ep.name not in allow and dist not in allow:
            continue
        if block is not None and (ep.name in block or dist in block):
            records.append(_record(ep, blocked=True, error=f"blocked by {BLOCK_ENV}"))
            continue
        if ep.name in seen:
            first = seen[ep.name]
            if first.target == ep.value and first.distribution == dist:
                continue  # the same distribution seen twice on sys.path
            error = f"duplicate name {ep.name!r}: already provided by {first.distribution} ({first.target})"
            records.append(_record(ep, error=error))
            continue
        record = load_one(ep, check, timeout)
        seen[ep.name] = record
        records.append(record)
    return records


class Registry:
    """The plugins of one entry-point group, loaded once per process.

    Args:
        group: the entry-point group.
        kind: what an entry point provides, for messages (``"detector"``).
        check: raises :class:`PluginError` to reject a loaded object.
        honours_allow_list: whether ``MIAS_BENCH_PLUGINS`` narrows this group.
        capabilities: ``obj -> {key: value}`` for capability queries
            (:meth:`where`); ``None`` when the group has none.
    """

    def __init__(
        self,
        group: str,
        kind: str,
        check: Check,
        *,
        honours_allow_list: bool = False,
        capabilities: Callable[[Any], Mapping[str, Any]] | None = None,
    ) -> None:
        self.group = group
        self.kind = kind
        self.check = check
        self.honours_allow_list = honours_allow_list
        self.capabilities = capabilities
        self.discoveries = 0  # entry-point scans so far (tests count them)
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._records: list[PluginRecord] | None = None
        _ALL.append(self)

    def _filters(self) -> tuple[set[str] | None, set[str] | None]:
        allow = env_names(ALLOW_ENV) if self.honours_allow_list else None
        return allow, env_names(BLOCK_ENV)

    def records(self) -> list[PluginRecord]:
        """Every entry point of the group with its object or error, sorted by name (scanned once)."""
        allow, block = self._filters()
        key = (frozenset(allow) if allow is not None else None, frozenset(block) if block is not None else None)
        with self._lock:
            if self._records is None or self._key != key:  # the lists changed: what loads changed too
                self.discoveries += 1
                self._records = load_entry_points(self.group, self.check, allow=allow, block=block)
                self._key = key
            return list(self._records)

    def reset(self) -> None:
        """Forget what was loaded; the next lookup scans the entry points again."""
        with self._lock:
            self._records = None
            self._key = None

    def names(self, pattern: str = "*") -> list[str]:
        """Names that loaded cleanly, filtered by a shell-style wildcard."""
        return [r.name for r in self.records() if r.ok and fnmatch.fnmatch(r.name, pattern)]

    def get(self, name: str) -> PluginRecord:
        """The record of ``name``; an unknown name suggests close matches, a broken one says why.

        Raises:
            UnknownNameError: nothing of that name is installed.
            PluginError: it is installed but broken or blocked.
        """
        records = self.records()
        by_name = {r.name: r for r in records if r.ok}
        for record in records:
            by_name.setdefault(record.name, record)
        if name not in by_name:
            known = sorted(by_name)
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{suggest(name, known)} (installed: {', '.join(known) or 'none'})"
            )
        record = by_name[name]
        if record.blocked:
            raise PluginError(f"{self.kind} {name!r} is blocked by {BLOCK_ENV}={os.environ.get(BLOCK_ENV, '')}")
        if not record.ok:
            raise PluginError(f"{self.kind} {name!r} is installed but broken: {record.error}")
        return record

    def capability_keys(self) -> list[str]:
        """The keys :meth:`where` accepts: every capability any usable plugin of the group declares."""
        if self.capabilities is None:
            return []
        keys: set[str] = set()
        for record in self.records():
            if record.ok:
                keys.update(self.capabilities(record.obj))
        return sorted(keys)

    def where(self, conditions: Iterable[str]) -> list[PluginRecord]:
        """Usable plugins whose capabilities satisfy every ``KEY=VALUE`` condition (ANDed).

        A boolean capability takes ``true``/``false`` (also ``yes``/``no``,
        ``1``/``0``); a list capability (``modalities``) matches when it holds
        the value or ``"*"``; anything else compares as text.

        Raises:
            ConfigError: a condition is not ``KEY=VALUE``, names no capability
                of this group (with close matches), or gives a boolean a non-boolean value.
        """
        wanted = [_parse_condition(c) for c in conditions]
        keys = self.capability_keys()
        for key, _ in wanted:
            if key not in keys:
                raise ConfigError(
                    f"unknown {self.kind} capability {key!r}{suggest(key, keys)} "
                    f"(capabilities: {', '.join(keys) or 'none'})"
                )
        selected = []
        for record in self.records():
            if not record.ok:
                continue
            caps = self.capabilities(record.obj) if self.capabilities else {}
            if all(_satisfies(caps.get(key), key, value) for key, value in wanted):
                selected.append(record)
        return selected


_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def _parse_condition(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"malformed condition {text!r}: expected KEY=VALUE, e.g. outputs_mask=false")
    return key.strip(), value.strip()


def _satisfies(actual: Any, key: str, value: str) -> bool:
    if isinstance(actual, bool):
        lowered = value.lower()
        if lowered not in _TRUE | _FALSE:
            raise ConfigError(f"capability {key!r} is true or false, got {value!r}")
        return actual == (lowered in _TRUE)
    if isinstance(actual, list | tuple):
        return value in actual or "*" in actual
    return str(actual) == value


_ALL: list[Registry] = []


def reset() -> None:
    """Forget what every registry loaded (tests call this before each test)."""
    for registry in _ALL:
        registry.reset()
