"""Throughput over a sliding window, time left, progress text."""

from __future__ import annotations

import pytest

from core.monitor.eta import ThroughputMeter, eta_seconds, format_duration, progress_text, run_fraction


def test_rate_needs_a_minimum_span_then_measures_samples_per_second():
    m = ThroughputMeter(window=5.0, min_span=0.2)
    assert m.update(0, 10.0) is None
    assert m.update(100, 10.1) is None  # 0.1 s: too short to trust
    assert m.update(1000, 11.0) == pytest.approx(1000.0)


def test_window_follows_a_speed_change():
    m = ThroughputMeter(window=2.0)
    samples = 0
    for t in range(10):  # 100 samples/s for 10 s
        samples += 100
        m.update(samples, float(t))
    for t in range(10, 20):  # then 1000 samples/s
        samples += 1000
        m.update(samples, float(t))
    assert m.rate == pytest.approx(1000.0)


def test_restart_forgets_the_pause():
    m = ThroughputMeter(window=100.0)
    m.update(0, 0.0)
    m.update(500, 1.0)
    m.restart()  # paused for a minute: that time is not slow training
    m.update(500, 61.0)
    assert m.update(1000, 62.0) == pytest.approx(500.0)


def test_eta_and_durations():
    assert eta_seconds(1000, 250.0) == pytest.approx(4.0)
    assert eta_seconds(1000, None) is None and eta_seconds(1000, 0.0) is None
    assert [format_duration(s) for s in (None, 0.4, 42, 187, 3723)] == ["", "0 s", "42 s", "3:07", "1:02:03"]


def test_run_fraction_and_text():
    assert run_fraction(12.5, 10, 5) == pytest.approx(0.5)
    assert run_fraction(99, 10, 5) == 1.0 and run_fraction(3, 10, 5) == 0.0
    assert progress_text(3, 10, 120, 422, 42) == "Epoch 3 of 10 · batch 120 of 422 · 42 s left"
    assert progress_text(1, 1) == "Epoch 1 of 1"


def test_refresh_period_follows_the_gui_load():
    from core.monitor.eta import next_refresh_ms

    assert next_refresh_ms(50, 0.04) == 50  # idle enough: the fastest rate
    slower = next_refresh_ms(50, 0.16)  # twice the budget: back off
    assert 50 < slower <= 100
    period = 50.0
    for _ in range(30):  # a refresh that costs 8 ms settles where it uses the budget
        period = next_refresh_ms(period, 8.0 / period)
    assert period == pytest.approx(100.0, rel=0.02)
    assert next_refresh_ms(200, 5.0) == 250 and next_refresh_ms(120, float("nan")) == 120
