"""One error hierarchy for the library.

Every error the library raises on purpose is a :class:`BenchError`. Messages
say what was expected and what was found. Only the CLI turns them into a red
line on stderr and an exit code.
"""

from __future__ import annotations


class BenchError(Exception):
    """Base of every error that mias-bench raises on purpose."""


class ConfigError(BenchError):
    """A detector config, a ``--set`` override or a preset is invalid."""


class PluginError(BenchError):
    """A plugin could not be loaded or is not usable (import, API, name)."""


class UnknownNameError(BenchError):
    """A detector, dataset or weights name is not registered."""


class ContractViolation(BenchError):
    """A detector returned something the contract forbids (shape, dtype, NaN)."""


class DatasetError(BenchError):
    """A dataset tree is missing, malformed or inconsistent."""


class ThresholdError(BenchError):
    """A threshold protocol is malformed or cannot be fitted."""


class StoreError(BenchError):
    """The result store cannot be opened, upgraded or written."""


class WeightsError(BenchError):
    """A model checkpoint is missing, corrupt or cannot be fetched."""
