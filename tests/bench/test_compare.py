"""Paired comparisons on runs with planted differences, checked against independent computations."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
from planted import planted_dataset
from scipy import stats

import bench.compare.stats as compare_stats
from bench.compare import (
    ComparisonError,
    compare_methods,
    compare_rows,
    holm,
    letter_groups,
    mean_ranks,
    paired_bootstrap_ci,
    parse_spec,
    resolve_spec,
    wilcoxon_p,
    wilcoxon_test,
)
from bench.errors import UnknownNameError
from bench.leaderboard import leaderboard_rows
from bench.runner import RunRequest, execute
from bench.store import Store

N_TEST = 32  # 16 anomalous cases: an exact Wilcoxon p can reach 2 / 2**16


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """One store: a good run (three protocols), a coarse-grid run, and the good run again with seed 1."""
    folder = tmp_path_factory.mktemp("compare")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MIAS_BENCH_CACHE", str(folder / "cache"))
        store = Store(str(folder / "runs.db"))
        data = planted_dataset(n_test=N_TEST)
        runs = {
            "good": execute(RunRequest("intensity-zscore", data, "valid-f1,normal-p99,oracle"), store).run_id,
            # a grid of 8 x 8 statistics cannot outline lesions of a few pixels: clearly worse
            "coarse": execute(RunRequest("intensity-zscore", data, "valid-f1", overrides=["grid=8"]), store).run_id,
            # the run key includes the seed, so this is a second run of the same deterministic method
            "twin": execute(RunRequest("intensity-zscore", data, "valid-f1", seed=1), store).run_id,
        }
    return store, runs


def joined(store, row_a, row_b, label=1, column="dice"):
    """Per-case values of two rows joined on case id, computed straight from the store."""
    a = {c.case_id: getattr(c, column) for c in store.case_metrics(row_a.evaluation_id) if c.label == label}
    b = {c.case_id: getattr(c, column) for c in store.case_metrics(row_b.evaluation_id) if c.label == label}
    assert set(a) == set(b)
    ids = sorted(a)
    return np.array([a[i] for i in ids]), np.array([b[i] for i in ids])


def brute_wilcoxon(diff) -> float:
    """Two-sided Wilcoxon p by enumerating every sign pattern (zeros dropped, mid-ranks for ties)."""
    diff = np.asarray(diff, dtype=float)
    nonzero = diff[np.abs(diff) > 1e-12]
    if nonzero.size == 0:
        return 1.0
    ranks = stats.rankdata(np.abs(nonzero))
    t_plus = ranks[nonzero > 0].sum()
    signs = np.array(list(itertools.product((0, 1), repeat=nonzero.size)), dtype=float)
    totals = signs @ ranks
    low, high = np.mean(totals <= t_plus + 1e-9), np.mean(totals >= t_plus - 1e-9)
    return min(1.0, 2 * min(low, high))


def row_of(store, run_id, protocol="valid-f1"):
    (row,) = [r for r in leaderboard_rows(store, "planted") if r.run_id == run_id and r.protocol == protocol]
    return row


# -- planted differences ----------------------------------------------------------------------


def test_a_clearly_worse_method_is_reported_significantly_worse(planted):
    store, runs = planted
    comparison = compare_methods(
        store, [f"intensity-zscore@valid-f1#{runs['good']}", f"intensity-zscore#{runs['coarse']}"], "planted"
    )
    good, coarse = row_of(store, runs["good"]), row_of(store, runs["coarse"])
    a, b = joined(store, good, coarse)
    (pair,) = comparison.pairs
    assert pair.n == len(a) == N_TEST // 2
    assert pair.mean_a == pytest.approx(good.metrics["dice"]) and pair.mean_b == pytest.approx(coarse.metrics["dice"])
    assert pair.mean_diff == pytest.approx(np.mean(a - b)) and pair.mean_diff > 0.3
    assert 0 < pair.ci_low < pair.mean_diff < pair.ci_high
    assert pair.p_value == pytest.approx(brute_wilcoxon(a - b)) and pair.p_value < 1e-3
    assert pair.p_method == "exact"
    assert pair.p_holm == pair.p_value  # one pair: nothing to correct
    assert (pair.wins, pair.ties, pair.losses) == ((a > b).sum(), (a == b).sum(), (a < b).sum())
    label = good.method  # both are valid-f1: their differing config keys tell them apart
    assert label == "intensity-zscore[grid=128,seed=0]@valid-f1" and coarse.method.startswith("intensity-zscore[grid=8")
    assert pair.significant and pair.better == pair.a == label
    assert pair.verdict == f"{label} better" and pair.note is None
    assert comparison.ranks == {good.evaluation_id: 1, coarse.evaluation_id: 2}
    assert comparison.letters == {good.evaluation_id: "a", coarse.evaluation_id: "b"}


def test_two_runs_of_one_deterministic_method_tie_with_p_1_explained(planted):
    store, runs = planted
    comparison = compare_methods(
        store, [f"intensity-zscore@valid-f1#{runs['good']}", f"intensity-zscore#{runs['twin']}"], "planted"
    )
    (pair,) = comparison.pairs
    assert (pair.wins, pair.ties, pair.losses) == (0, N_TEST // 2, 0)
    assert pair.mean_diff == 0 and pair.ci_low == pair.ci_high == 0
    assert pair.p_value == pair.p_holm == 1.0 and not pair.significant and pair.better is None
    assert "identical per-case values: no difference to test" in pair.note
    assert pair.verdict == "identical"
    assert set(comparison.ranks.values()) == {1} and set(comparison.letters.values()) == {"a"}


def test_three_methods_get_holm_p_values_and_ranks_from_the_pairs(planted):
    store, runs = planted
    specs = ["intensity-zscore@oracle", "intensity-zscore@normal-p99", f"intensity-zscore#{runs['coarse']}"]
    comparison = compare_methods(store, specs, "planted", n_boot=2000)
    raw = [p.p_value for p in comparison.pairs]
    order = np.argsort(raw)
    by_hand = {}
    running = 0.0
    for i, k in enumerate(order):  # Holm: step-down, (m - i) p_(i), kept monotone
        running = max(running, min(1.0, (3 - i) * raw[k]))
        by_hand[k] = running
    assert [p.p_holm for p in comparison.pairs] == pytest.approx([by_hand[k] for k in range(3)])
    rows = {m.label: row_of(store, m.run_id, m.protocol) for m in comparison.methods}
    for pair in comparison.pairs:
        a, b = joined(store, rows[pair.a], rows[pair.b])
        assert pair.p_value == pytest.approx(brute_wilcoxon(a - b))
    # the coarse grid loses to both significantly and ranks last; the oracle row is marked
    worst = comparison.methods[2]
    assert all(p.significant and p.better != worst.label for p in comparison.pairs if worst.label in (p.a, p.b))
    assert worst.rank == max(comparison.ranks.values()) >= 2
    assert comparison.methods[0].marks == ["oracle"] and comparison.methods[1].marks == []
    assert [m.label for m in comparison.ranked()][-1] == worst.label


def test_a_per_case_metric_on_normal_cases_where_lower_is_better(planted):
    store, runs = planted
    good, coarse = row_of(store, runs["good"]), row_of(store, runs["coarse"])
    comparison = compare_rows(store, [good, coarse], metric="fp_area_normal", n_boot=500)
    a, b = joined(store, good, coarse, label=0, column="pred_fraction")
    (pair,) = comparison.pairs
    assert not comparison.higher_is_better and pair.n == N_TEST // 2
    assert pair.mean_a == pytest.approx(a.mean()) and pair.mean_diff == pytest.approx((a - b).mean())
    assert (pair.wins, pair.losses) == ((a < b).sum(), (a > b).sum())  # smaller false-positive area wins
    with pytest.raises(ComparisonError, match="no per-case values.*AUROC"):
        compare_rows(store, [good, coarse], metric="pixel_auroc")


def test_json_has_every_number_and_no_nan(planted):
    store, runs = planted
    comparison = compare_methods(store, ["intensity-zscore@oracle", "intensity-zscore@normal-p99"], "planted")
    data = json.loads(json.dumps(comparison.as_dict(), allow_nan=False))
    assert data["metric"] == "dice" and data["confidence"] == pytest.approx(0.95)
    assert {m["label"] for m in data["methods"]} == {
        "intensity-zscore[grid=128,seed=0]@oracle",
        "intensity-zscore[grid=128,seed=0]@normal-p99",
    }
    assert set(data["pairs"][0]) >= {"mean_diff", "ci_low", "ci_high", "p_value", "p_holm", "wins", "verdict"}
    assert sorted(data["ranks"].values()) == [1, 2]


# -- the statistics against independent computations -------------------------------------------


@pytest.mark.parametrize("chunk", [10**9, 50])
def test_bootstrap_interval_matches_an_explicit_loop(monkeypatch, chunk):
    monkeypatch.setattr(compare_stats, "_BOOT_CHUNK", chunk)  # 50: resample two rows at a time
    diff = np.random.default_rng(3).normal(0.05, 0.1, 23)
    rng = np.random.default_rng(7)
    means = []
    for _ in range(500):
        sample = rng.integers(0, len(diff), size=len(diff))
        means.append(sum(diff[i] for i in sample) / len(diff))
    expected = np.percentile(means, [2.5, 97.5])
    assert paired_bootstrap_ci(diff, 500, seed=7) == pytest.approx(tuple(expected), abs=1e-12)
    assert paired_bootstrap_ci(np.full(9, 0.25), 100, seed=0) == pytest.approx((0.25, 0.25))


def test_wilcoxon_is_exact_with_zeros_and_ties_and_matches_scipy_where_scipy_is_exact():
    rng = np.random.default_rng(1)
    for n in (5, 12, 30, 50):  # no ties, no zeros: scipy's exact distribution
        diff = rng.normal(0.2, 1.0, n)
        result = wilcoxon_test(diff)
        assert result.method == "exact"
        assert result.p_value == pytest.approx(stats.wilcoxon(diff, method="exact").pvalue, rel=1e-9)
    for _ in range(20):  # zeros and ties (rounded values): every sign pattern enumerated
        diff = np.round(rng.normal(0.1, 0.3, 11), 1)
        assert wilcoxon_test(diff).p_value == pytest.approx(brute_wilcoxon(diff), rel=1e-9)
    big = np.round(rng.normal(0.02, 0.3, 800), 2)  # above EXACT_MAX: normal approximation with tie correction
    result = wilcoxon_test(big)
    assert result.method == "normal"
    assert result.p_value == pytest.approx(stats.wilcoxon(big, method="approx", correction=True).pvalue, rel=1e-9)
    assert wilcoxon_p(np.zeros(12)) == (1.0, pytest.approx(wilcoxon_p(np.zeros(3))[1]))
    p, note = wilcoxon_p(np.array([0.1, 0.2, 0.3, 0.0, 0.0]))
    assert p == pytest.approx(0.25) and "only 3 case(s) differ" in note  # 2 / 2**3


def test_holm_against_a_hand_computation():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> kept at 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([0.2]) == [0.2]


def test_ranks_follow_the_means_and_letters_separate_exactly_the_significant_pairs():
    assert mean_ranks({"A": 0.9, "B": 0.7, "C": 0.7, "D": 0.1}) == {"A": 1, "B": 2, "C": 2, "D": 4}
    assert mean_ranks({"A": 0.9, "B": 0.7}, higher_is_better=False) == {"A": 2, "B": 1}
    # A > B > C > D; only A-C, A-D and B-D differ: A and B share a letter, C and D another, B and C a third.
    letters = letter_groups(list("ABCD"), {frozenset("AC"), frozenset("AD"), frozenset("BD")})
    assert letters == {"A": "a", "B": "ab", "C": "bc", "D": "c"}
    rng = np.random.default_rng(0)
    keys = list(range(7))
    for _ in range(300):
        different = {frozenset(p) for p in itertools.combinations(keys, 2) if rng.random() < 0.4}
        letters = letter_groups(keys, different)
        for i, j in itertools.combinations(keys, 2):
            share = bool(set(letters[i]) & set(letters[j]))
            assert share == (frozenset((i, j)) not in different), (letters, i, j)
        assert letters[0].startswith("a")


# -- naming methods ----------------------------------------------------------------------------


def test_method_specs_resolve_or_say_how_to_pick(planted):
    store, runs = planted
    rows = leaderboard_rows(store, "planted")
    assert parse_spec("mias-sam@fixed:0.5#12") == ("mias-sam", "fixed:0.5", 12)
    assert resolve_spec(f"intensity-zscore#{runs['coarse']}", rows, "planted").run_id == runs["coarse"]
    with pytest.raises(ComparisonError, match="several protocols; name one: .*intensity-zscore@normal-p99"):
        resolve_spec(f"intensity-zscore#{runs['good']}", rows, "planted")
    good, coarse = runs["good"], runs["coarse"]
    with pytest.raises(
        ComparisonError, match=rf"matches 3 runs on planted: #{good} \(grid=128.*#{coarse} \(grid=8.*#RUN_ID"
    ):
        resolve_spec("intensity-zscore@valid-f1", rows, "planted")
    with pytest.raises(UnknownNameError, match="did you mean 'intensity-zscore'"):
        resolve_spec("intensity-zscor@valid-f1", rows, "planted")
    with pytest.raises(ComparisonError, match="no 'mask' evaluation.*stored protocols: normal-p99, oracle"):
        resolve_spec(f"intensity-zscore@mask#{runs['good']}", rows, "planted")
    with pytest.raises(ComparisonError, match="run 99 is not .*" + ", ".join(f"#{i}" for i in sorted(runs.values()))):
        resolve_spec("intensity-zscore#99", rows, "planted")
    for bad in ("intensity-zscore@", "@oracle", "intensity-zscore#x"):
        with pytest.raises(ComparisonError, match="expected DETECTOR"):
            parse_spec(bad)
    # several protocols and one of them is `mask`: the detector's own masks are meant
    good_rows = [r for r in rows if r.run_id == good]
    with_mask = [*good_rows, dataclasses.replace(good_rows[0], protocol="mask", evaluation_id=999)]
    assert resolve_spec("intensity-zscore", with_mask, "planted").protocol == "mask"


def test_bad_comparisons_are_refused(planted):
    store, _ = planted
    with pytest.raises(ComparisonError, match="at least two methods"):
        compare_methods(store, ["intensity-zscore@oracle"], "planted")
    with pytest.raises(ComparisonError, match="named twice"):
        compare_methods(store, ["intensity-zscore@oracle", "intensity-zscore@oracle"], "planted")
    with pytest.raises(UnknownNameError, match="no complete runs on dataset 'plantd'.*did you mean 'planted'"):
        compare_methods(store, ["intensity-zscore@oracle", "intensity-zscore@normal-p99"], "plantd")


def test_runs_on_different_files_are_not_paired_and_the_error_says_how_they_differ(tmp_path):
    store = Store(str(tmp_path / "runs.db"))
    first = execute(RunRequest("intensity-zscore", planted_dataset(n_test=N_TEST), "valid-f1"), store)
    other_pixels = execute(RunRequest("intensity-zscore", planted_dataset(n_test=N_TEST, seed=1), "valid-f1"), store)
    more_cases = execute(RunRequest("intensity-zscore", planted_dataset(n_test=N_TEST + 2), "valid-f1"), store)
    rows = {r.run_id: r for r in leaderboard_rows(store, "planted")}
    hashes = {k: rows[k].manifest_hash[:12] for k in rows}
    with pytest.raises(ComparisonError) as info:
        compare_rows(store, [rows[first.run_id], rows[other_pixels.run_id]])
    message = str(info.value)
    assert "same case ids, different file contents" in message
    assert f"manifest {hashes[first.run_id]}, {N_TEST} test cases" in message
    assert f"manifest {hashes[other_pixels.run_id]}, {N_TEST} test cases" in message
    with pytest.raises(ComparisonError) as info:
        compare_methods(store, [f"intensity-zscore#{first.run_id}", f"intensity-zscore#{more_cases.run_id}"], "planted")
    message = str(info.value)
    assert f"manifest {hashes[more_cases.run_id]}, {N_TEST + 2} test cases" in message
    only = f"only in intensity-zscore@valid-f1#{more_cases.run_id}: 2 case(s): test/Ungood/033.png, test/good/032.png"
    assert only in message
