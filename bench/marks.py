"""Marks that qualify a result: one registry read by the store, tables, publish, page, plots and verify.

A mark is decided by the platform from what ran, never declared by a plugin:

- ``oracle``: the evaluation's threshold was fitted on the test truths
  (protocol ``oracle``): an upper bound, not a result.
- ``random-init``: the detector is meant to run on pretrained weights, and no
  pretrained file was loaded (the weights ledger stayed empty).
- ``transductive``: the runner called the detector's ``finalize`` with the
  whole test set, so every prediction may depend on test-set statistics.
- ``self-reported``: the run was stored before the platform observed weights
  and finalize (schema 0001): its weights and marks are the plugin's word.

Rows with a mark whose ``ranked`` is false stay on the leaderboard, marked,
but outside the honest ranking and its multiple-testing family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.provenance import SELF_REPORTED


@dataclass(frozen=True)
class Mark:
    """One mark: its name, how tables title it, the rule that sets it, its colour, whether such rows are ranked."""

    name: str
    title: str
    rule: str
    colour: str
    ranked: bool


MARKS: dict[str, Mark] = {
    m.name: m
    for m in (
        Mark(
            "oracle",
            "oracle (upper bound)",
            "threshold chosen on the test set's own truths: an upper bound, not a result",
            "#fdd49e",
            ranked=False,
        ),
        Mark(
            "random-init",
            "random-init",
            "meant to run on pretrained weights, but none were loaded: a smoke test, not a result of the method",
            "#d9d9d9",
            ranked=False,
        ),
        Mark(
            "transductive",
            "transductive",
            "the platform called finalize() with the whole test set: predictions may use test-set statistics",
            "#fcbba1",
            ranked=True,
        ),
        Mark(
            "self-reported",
            "self-reported provenance",
            "stored before the platform observed weights and finalize: weights and marks are the plugin's word",
            "#c6dbef",
            ranked=False,
        ),
    )
}


def marks_of(provenance: Any, upper_bound: bool) -> list[str]:
    """The marks of one leaderboard row, in registry order.

    Args:
        provenance: a :class:`bench.provenance.Provenance` (or anything with its attributes).
        upper_bound: whether the evaluation's threshold was fitted on the test truths.
    """
    found = {
        "oracle": bool(upper_bound),
        "random-init": provenance.random_init is True or provenance.weights == "random-init",
        "transductive": bool(provenance.transductive),
        "self-reported": provenance.provenance == SELF_REPORTED,
    }
    return [name for name in MARKS if found[name]]


def is_ranked(marks: list[str]) -> bool:
    """Whether a row with these marks takes part in the honest ranking."""
    return all(MARKS[m].ranked for m in marks)
