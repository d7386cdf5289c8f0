"""The runner: plan, claim, fit, calibrate, predict, finalize, score, store.

The runner owns the loop, timing, caching, resume and every mark; a plugin
owns only its model. See :mod:`bench.runner.stages` for the order of the
stages and :mod:`bench.contract` for what each hook receives.
"""

from bench.runner.execute import (
    CodeChanged,
    RunBusy,
    RunFailed,
    RunInterrupted,
    RunResult,
    execute,
    summaries,
)
from bench.runner.hooks import PluginFailure
from bench.runner.plan import RunPlan, RunRequest, check_request, plan_run
from bench.runner.reporting import Reporter, SilentReporter
from bench.runner.stages import STAGES

__all__ = [
    "STAGES",
    "CodeChanged",
    "PluginFailure",
    "Reporter",
    "RunBusy",
    "RunFailed",
    "RunInterrupted",
    "RunPlan",
    "RunRequest",
    "RunResult",
    "SilentReporter",
    "check_request",
    "execute",
    "plan_run",
    "summaries",
]
