"""Counter increases and bucket interpolation on hand-made samples: resets and edge cases that
the recorded outage does not contain."""

from __future__ import annotations

import math

import pytest

from gameday.promql import with_matchers
from gameday.slo.counters import CounterSamples, key
from gameday.slo.latency import bucket_quantile

A = key({"code": "200"})
B = key({"code": "503"})


def samples(points: dict, baseline: dict | None = None) -> CounterSamples:
    return CounterSamples("x", 100.0, 120.0, baseline or {}, points, ("q",))


def test_increase_from_the_value_at_window_start() -> None:
    data = samples({A: [(101, 12), (102, 15), (103, 15)]}, {A: 10})
    assert data.increase(A, 100, 120) == 5


def test_series_born_in_the_window_counts_from_zero() -> None:
    data = samples({B: [(105, 3), (106, 4)]})
    assert data.increase(B, 100, 120) == 4


def test_a_drop_is_a_counter_reset() -> None:
    data = samples({A: [(101, 50), (102, 2), (103, 7)]}, {A: 40})
    assert data.increase(A, 100, 120) == 10 + 2 + 5


def test_sub_interval_starts_from_last_sample_before_it() -> None:
    data = samples({A: [(101, 1), (105, 5), (110, 9), (115, 9)]}, {A: 0})
    assert data.increase(A, 105, 112) == 4
    assert data.increase(A, 110, 120) == 0
    assert data.total(100, 120) == 9


def test_increase_by_label_sums_series() -> None:
    data = samples({A: [(101, 2)], B: [(101, 1)], key({"code": "200", "x": "y"}): [(101, 3)]})
    assert data.increase_by("code", 100, 120) == {"200": 5, "503": 1}


@pytest.mark.parametrize(("selector", "expected"), [
    ("m", 'm{c="d"}'),
    ('m{a="b"}', 'm{a="b",c="d"}'),
    ("m{}", 'm{c="d"}'),
    ('{__name__="m"}', '{__name__="m",c="d"}'),
])
def test_with_matchers(selector: str, expected: str) -> None:
    assert with_matchers(selector, 'c="d"') == expected


def test_bucket_quantile_edges() -> None:
    buckets = {0.1: 10, 0.5: 20, math.inf: 30}
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.1 + 0.4 * 5 / 10)
    assert bucket_quantile(0.99, buckets) == 0.5  # in the +Inf bucket: highest finite bound
    assert math.isnan(bucket_quantile(0.5, {0.1: 0, math.inf: 0}))  # no observations
    assert math.isnan(bucket_quantile(0.5, {0.1: 3, 0.5: 4}))  # no +Inf bucket
    assert bucket_quantile(0.5, {0.1: 6, 0.5: 4, math.inf: 10}) == pytest.approx(0.1 * 5 / 6)
