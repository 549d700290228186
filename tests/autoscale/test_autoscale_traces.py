"""Arrival traces: the synthetic spec syntax and CSV files, with located errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bigcompute.autoscale.traces import Arrival, TraceError, parse_csv, parse_rate, parse_spec


@pytest.mark.parametrize(("text", "per_second"), [("30/h", 30 / 3600), ("2/m", 2 / 60), ("2/min", 2 / 60),
                                                  ("500/d", 500 / 86400), ("1.5/s", 1.5)])
def test_rates(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


def test_steady_is_evenly_spaced() -> None:
    trace = parse_spec("steady:rate=30/h,duration=PT10M,for=P1D")
    assert trace.tasks == 720 and len(trace.arrivals) == 720
    assert trace.arrivals[:2] == (Arrival(0.0, 1, 600.0), Arrival(120.0, 1, 600.0))
    assert trace.span == 719 * 120.0


def test_bursty_and_start_offset() -> None:
    trace = parse_spec("bursty:size=200,every=PT2H,duration=PT10M,for=P1D,start=PT30M")
    assert [a.at for a in trace.arrivals] == [1800.0 + k * 7200 for k in range(12)]
    assert trace.tasks == 2400 and {a.count for a in trace.arrivals} == {200}


def test_daily_cycle_peaks_at_the_peak_hour() -> None:
    trace = parse_spec("daily:peak=120/h,trough=0/h,peakHour=14,duration=PT10M,for=P1D")
    per_hour = [0] * 24
    for a in trace.arrivals:
        per_hour[int(a.at // 3600)] += a.count
    assert max(range(24), key=per_hour.__getitem__) in (13, 14)
    assert per_hour[2] <= 1 and per_hour[14] > 100
    assert trace.tasks == pytest.approx(120 * 24 / 2, abs=2)  # the mean of a raised cosine is half its peak


def test_specs_overlay_with_plus() -> None:
    trace = parse_spec("steady:rate=1/h,duration=PT1M,for=PT3H + bursty:size=5,every=PT1H,duration=PT2M,for=PT2H")
    assert trace.tasks == 3 + 10
    assert [a.at for a in trace.arrivals] == sorted(a.at for a in trace.arrivals)


@pytest.mark.parametrize(("spec", "message"), [
    ("poisson:rate=1/h", "--arrivals: unknown generator 'poisson'; expected one of steady, bursty, daily"),
    ("steady:rate=30,duration=PT1M,for=P1D", "--arrivals: steady: '30' is not a rate such as 30/h, 2/m or 500/d"),
    ("steady:duration=PT1M,for=P1D", "--arrivals: steady: missing 'rate'"),
    ("steady:rate=1/h,duration=10m,for=P1D", "--arrivals: steady: '10m' is not an ISO 8601 duration such as PT5M, "
                                             "PT1H30M or P1D"),
    ("steady:rate=1/h,duration=PT1M,for=P1D,jitter=1", "--arrivals: steady: unknown parameter 'jitter'; expected "
                                                       "duration, for, rate, start"),
    ("bursty:size=0,every=PT1H,duration=PT1M,for=P1D", "--arrivals: bursty: size must be at least 1 and every positive"),
    ("steady:rate", "--arrivals: 'rate' in 'steady:rate' is not key=value"),
])
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(TraceError) as caught:
        parse_spec(spec)
    assert str(caught.value) == message


def test_csv_offsets_durations_and_comments() -> None:
    text = "# arrivals of the nightly run\ntime,count,duration\n0,5,PT10M\nPT1H,2,60\n\n7200.5,1,PT1M30S\n"
    trace = parse_csv(text)
    assert trace.arrivals == (Arrival(0.0, 5, 600.0), Arrival(3600.0, 2, 60.0), Arrival(7200.5, 1, 90.0))
    assert trace.start is None


def test_csv_absolute_times_start_at_the_earliest_row_and_count_defaults_to_one() -> None:
    trace = parse_csv("duration,time\n60,2025-01-06T09:00:00Z\n60,2025-01-06T08:00:00Z\n")
    assert trace.start == datetime(2025, 1, 6, 8, tzinfo=UTC)
    assert [(a.at, a.count) for a in trace.arrivals] == [(0.0, 1), (3600.0, 1)]


@pytest.mark.parametrize(("text", "message"), [
    ("", "jobs.csv: no header: expected a 'time,count,duration' line"),
    ("when,count\n1,2\n", "jobs.csv:1: header must name time, duration and optionally count and slots; got 'when,count'"),
    ("time,count,duration\n0,x,1\n", "jobs.csv:2: count 'x' is not a whole number of at least 1"),
    ("time,count,duration\n0,0,1\n", "jobs.csv:2: count '0' is not a whole number of at least 1"),
    ("time,count,duration\n\n\nsoon,1,1\n", "jobs.csv:4: time 'soon' is not seconds, an ISO 8601 duration or an "
                                           "ISO 8601 date-time"),
    ("time,count,duration\n0,1,-5\n", "jobs.csv:2: duration '-5' is not seconds or an ISO 8601 duration"),
    ("time,count,duration\n0,1\n", "jobs.csv:2: expected 3 values, got 2"),
])
def test_csv_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(TraceError) as caught:
        parse_csv(text, "jobs.csv")
    assert str(caught.value) == message


def test_csv_rows_before_an_explicit_start_are_refused() -> None:
    with pytest.raises(TraceError, match="jobs.csv:2: arrival before the start"):
        parse_csv("time,duration\n2025-01-01T00:00:00Z,5\n", "jobs.csv", start=datetime(2025, 2, 1, tzinfo=UTC))
