"""Presets: schemas the stack config can validate against, formulas that parse, evaluate and stay in bounds."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from bigcompute.autoscale import MetricHistory, PoolState, check, evaluate, parse
from bigcompute.autoscale.presets import PRESETS, PresetError, render

NOW = datetime(2025, 1, 8, 12, 0, tzinfo=UTC)  # Wednesday noon UTC
NAMES = ["queue-pending", "queue-active-spot", "work-hours", "scale-to-zero", "cpu"]


def test_the_five_presets_exist() -> None:
    assert sorted(PRESETS) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_a_strict_draft_2020_12_object(name: str) -> None:
    schema = PRESETS[name].schema
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    props = schema["properties"]
    assert {"minNodes", "maxNodes", "sampleWindow", "deallocation"} <= set(props)
    for key, prop in props.items():
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", key), key
        assert prop.get("description"), key
    Draft202012Validator(schema).validate(PRESETS[name].defaults())
    assert PRESETS[name].description


@pytest.mark.parametrize("name", NAMES)
def test_defaults_render_parse_and_evaluate(name: str, make_history: Any) -> None:
    text = render(name, {})
    assert text == PRESETS[name].render({}) and check(text) == []
    formula = parse(text)
    for hist in (MetricHistory(), make_history(NOW, PendingTasks=9, ActiveTasks=5, RunningTasks=4, CPUPercent=90)):
        result = evaluate(formula, hist, PoolState(current_dedicated=2, task_slots_per_node=2), NOW)
        assert result.error is None, result.error
        assert result.node_deallocation_option == "taskcompletion"


@pytest.mark.parametrize(("name", "params", "field", "message"), [
    ("nope", {}, "preset", "unknown autoscale preset 'nope'; expected one of queue-pending, queue-active-spot, "
                           "work-hours, scale-to-zero, cpu"),
    ("queue-pending", {"maxNodes": 0}, "maxNodes", "maxNodes: 0 is less than the minimum of 1"),
    ("queue-pending", {"minNodes": -1}, "minNodes", "minNodes: -1 is less than the minimum of 0"),
    ("queue-pending", {"maxNodes": 2.5}, "maxNodes", "maxNodes: 2.5 is not of type 'integer'"),
    ("queue-pending", {"minNodes": 5, "maxNodes": 2}, "maxNodes", "maxNodes (2) must be at least minNodes (5)"),
    ("queue-pending", {"sampleWindow": "5m"}, "sampleWindow",
     "sampleWindow: '5m' is not an ISO 8601 duration such as PT5M, PT1H30M or P1D"),
    ("queue-pending", {"sampleWindow": "PT30S"}, "sampleWindow",
     "sampleWindow must be between PT1M and P1D (samples arrive every 30 s and about a minute late), got PT30S"),
    ("queue-pending", {"deallocation": "drain"}, "deallocation",
     "deallocation: 'drain' is not one of ['requeue', 'terminate', 'taskcompletion', 'retaineddata']"),
    ("queue-pending", {"spotShare": 0.5}, "spotShare", "preset 'queue-pending' has no parameter 'spotShare'; "
     "expected one of minNodes, maxNodes, sampleWindow, deallocation, samplePercent, tasksPerNode, slotsPerTask"),
    ("queue-active-spot", {"spotShare": 1.5}, "spotShare", "spotShare: 1.5 is greater than the maximum of 1"),
    ("work-hours", {"workStartHour": 18, "workEndHour": 8}, "workEndHour",
     "workEndHour (8) must come after workStartHour (18)"),
    ("work-hours", {"utcOffsetHours": 5.1}, "utcOffsetHours", "utcOffsetHours: 5.1 is not a multiple of 0.25"),
    ("scale-to-zero", {"idleTimeout": "P2D"}, "idleTimeout",
     "idleTimeout must be between PT1M and P1D (samples arrive every 30 s and about a minute late), got P2D"),
    ("cpu", {"minNodes": 0}, "minNodes", "minNodes: 0 is less than the minimum of 1"),
    ("queue-pending", {"deallocation": "retaineddata"}, "deallocation",
     "deallocation: retaineddata is deprecated and removed from Batch API 2026-10-01 (azure-batch 16.0.0: \"Upload "
     "task data to Azure Storage and use TASK_COMPLETION instead\"; https://github.com/Azure/azure-sdk-for-python/"
     "releases/tag/azure-batch_16.0.0); use taskcompletion"),
    ("work-hours", {"timeZone": "Europe/Atlantis"}, "timeZone",
     "timeZone: 'Europe/Atlantis' is not an IANA time zone such as Europe/Amsterdam or America/Denver"),
    ("work-hours", {"timeZone": "Europe/Paris", "utcOffsetHours": 1}, "utcOffsetHours",
     "give timeZone or utcOffsetHours, not both"),
    ("work-hours", {"scheduleUntil": 2025}, "scheduleUntil",
     "scheduleUntil: the formula's daylight-saving schedule ended with 2025; raise it and redeploy"),
    ("cpu", {"cpuScale": 10}, "cpuScale", "cpuScale: 10 is not one of [100, 1]"),
    ("cpu", {"targetCpuPercent": 0}, "targetCpuPercent", "targetCpuPercent: 0 is less than or equal to the minimum of 0"),
])
def test_bad_parameters_name_the_field(name: str, params: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(PresetError) as caught:
        render(name, params)
    assert (caught.value.field, str(caught.value)) == (field, message)


def test_rendered_text_is_commented_and_stable() -> None:
    text = render("queue-pending", {"minNodes": 1, "maxNodes": 20, "sampleWindow": "PT10M", "deallocation": "requeue"})
    assert text.splitlines()[:4] == [
        "// bigcompute autoscale preset 'queue-pending': one node per taskSlotsPerNode pending tasks",
        "minNodes = 1;", "maxNodes = 20;", "window = TimeInterval_Second * 600;"]
    assert text.endswith("$NodeDeallocationOption = requeue;")
    assert render("queue-pending", {"tasksPerNode": 4}).count("slots = 4;") == 1


@pytest.mark.parametrize("share", [5e-324, 1e-05, 0.1, 1 / 3, 0.999999])
def test_numbers_render_without_exponents(share: float) -> None:
    text = render("queue-active-spot", {"spotShare": share, "samplePercent": 1e-12})
    assert check(text) == [] and not re.search(r"\de-", text)


def test_largest_preset_stays_within_batch_limits() -> None:
    for name in NAMES:
        text = render(name, {"maxNodes": 10_000, "minNodes": 1})
        assert len(text) < 8192 and len(parse(text).statements) <= 100


def ceil_div(tasks: float, slots: int) -> int:
    return math.ceil(tasks / slots - 1e-12)


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(0, 30), span=st.integers(0, 200), pending=st.lists(st.integers(0, 500), min_size=0, max_size=40),
       slots=st.integers(1, 8), percent=st.sampled_from([10, 70, 100]))
def test_queue_pending_is_exactly_ceil_of_tasks_per_slot_within_bounds(lo: int, span: int, pending: list[int],
                                                                        slots: int, percent: int) -> None:
    params = {"minNodes": lo, "maxNodes": lo + max(span, 1), "samplePercent": percent, "sampleWindow": "PT10M"}
    hist = MetricHistory.constant({"$PendingTasks": pending}, NOW) if pending else MetricHistory()
    result = evaluate(render("queue-pending", params), hist, PoolState(task_slots_per_node=slots), NOW)
    assert result.error is None
    window = pending[-20:]  # 10 minutes of 30 s samples
    last = pending[-1] if pending else 0
    have = 100 * len(window) / 20
    tasks = last if have < percent else max(last, sum(window) / len(window))
    expected = min(params["maxNodes"], max(lo, ceil_div(tasks, slots)))
    assert result.target_dedicated == expected
    assert result.target_low_priority == 0


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(0, 10), span=st.integers(1, 60), active=st.integers(0, 300), running=st.integers(0, 300),
       share=st.floats(0, 1).map(lambda x: round(x, 3)), slots=st.integers(1, 4))
def test_spot_share_splits_an_exact_total(lo: int, span: int, active: int, running: int, share: float,
                                          slots: int) -> None:
    params = {"minNodes": lo, "maxNodes": lo + span, "spotShare": share}
    hist = MetricHistory.constant({"$ActiveTasks": active, "$RunningTasks": running}, NOW)
    result = evaluate(render("queue-active-spot", params), hist, PoolState(task_slots_per_node=slots), NOW)
    total = min(lo + span, max(lo, ceil_div(active + running, slots)))
    assert result.target_dedicated + result.target_low_priority == total
    assert result.target_low_priority == math.floor(total * share + 1e-9)


WORK_HOURS = {"weekdayNodes": 6, "weekendNodes": 3, "offHoursNodes": 1, "maxNodes": 50, "followQueue": False}


@pytest.mark.parametrize(("now", "offset", "target"), [
    (datetime(2025, 1, 8, 12, tzinfo=UTC), 0, 6),  # Wednesday noon
    (datetime(2025, 1, 8, 7, 59, tzinfo=UTC), 0, 1),  # before work
    (datetime(2025, 1, 8, 18, tzinfo=UTC), 0, 1),  # after work
    (datetime(2025, 1, 11, 12, tzinfo=UTC), 0, 3),  # Saturday
    (datetime(2025, 1, 12, 12, tzinfo=UTC), 0, 3),  # Sunday
    (datetime(2025, 1, 8, 4, tzinfo=UTC), 5.5, 6),  # 09:30 in India
    (datetime(2025, 1, 10, 23, tzinfo=UTC), -6, 6),  # Friday 17:00 in Denver
    (datetime(2025, 1, 11, 1, tzinfo=UTC), -6, 1),  # Friday 19:00 in Denver
])
def test_work_hours_schedule(now: datetime, offset: float, target: int) -> None:
    params = {**WORK_HOURS, "utcOffsetHours": offset}
    assert evaluate(render("work-hours", params), MetricHistory(), PoolState(), now).target_dedicated == target


def test_work_hours_follows_the_queue_above_the_schedule() -> None:
    params = {**WORK_HOURS, "followQueue": True}
    hist = MetricHistory.constant({"$PendingTasks": 20}, NOW)
    assert evaluate(render("work-hours", params), hist, PoolState(), NOW).target_dedicated == 20
    assert evaluate(render("work-hours", params), MetricHistory(), PoolState(), NOW).target_dedicated == 6


@pytest.mark.parametrize(("pending", "target"), [
    ([0] * 60, 0),  # idle for the whole 15 minutes: zero
    ([4] + [0] * 25, 1),  # busy 13 minutes ago: keep one node warm
    ([0] * 50 + [9], 9),  # work arrived: scale to it
    ([], 0),  # a new pool with no samples stays empty
    ([0, 0, 3], 3),  # too few samples to trust the window, but the last one says 3
])
def test_scale_to_zero(pending: list[int], target: int) -> None:
    hist = MetricHistory.constant({"$PendingTasks": pending}, NOW) if pending else MetricHistory()
    result = evaluate(render("scale-to-zero", {"minNodes": 0, "maxNodes": 20}), hist, PoolState(current_dedicated=2), NOW)
    assert result.target_dedicated == target


@pytest.mark.parametrize(("cpu", "current", "target"), [(90, 4, 6), (30, 4, 2), (60, 4, 4), (100, 20, 30),
                                                         (1, 4, 1), (None, 3, 3)])
def test_cpu_resizes_in_proportion(cpu: float | None, current: int, target: int) -> None:
    hist = MetricHistory.constant({"$CPUPercent": cpu}, NOW) if cpu is not None else MetricHistory()
    params = {"minNodes": 1, "maxNodes": 30, "targetCpuPercent": 60}
    result = evaluate(render("cpu", params), hist, PoolState(current_dedicated=current), NOW)
    assert result.target_dedicated == target


PARAM_VALUES = {
    "minNodes": st.integers(0, 20), "maxNodes": st.integers(1, 300),
    "sampleWindow": st.sampled_from(["PT1M", "PT5M", "PT15M", "PT1H", "P1D"]),
    "deallocation": st.sampled_from(["requeue", "terminate", "taskcompletion"]),
    "slotsPerTask": st.integers(1, 4), "spotFallback": st.booleans(), "cpuScale": st.sampled_from([100, 1]),
    "timeZone": st.sampled_from(["UTC", "Europe/Amsterdam", "America/Denver", "Asia/Kolkata", "Australia/Sydney"]),
    "scheduleUntil": st.integers(2027, 2032),
    "samplePercent": st.sampled_from([1, 50, 70, 100]), "tasksPerNode": st.integers(1, 16),
    "spotShare": st.floats(0, 1), "weekdayNodes": st.integers(0, 400), "weekendNodes": st.integers(0, 400),
    "offHoursNodes": st.integers(0, 400), "workStartHour": st.integers(0, 11), "workEndHour": st.integers(12, 24),
    "utcOffsetHours": st.integers(-56, 56).map(lambda q: q / 4), "followQueue": st.booleans(),
    "idleTimeout": st.sampled_from(["PT1M", "PT10M", "PT2H"]), "targetCpuPercent": st.sampled_from([10, 60, 95]),
}


@st.composite
def preset_case(draw: Any) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(NAMES))
    keys = draw(st.sets(st.sampled_from(sorted(PRESETS[name].properties))))
    params = {k: draw(PARAM_VALUES[k]) for k in keys}
    if "utcOffsetHours" in params:
        params.pop("timeZone", None)
    if "minNodes" in params or "maxNodes" in params:
        lo = params.get("minNodes", PRESETS[name].defaults()["minNodes"])
        params["maxNodes"] = max(params.get("maxNodes", 10), lo, 1)
        params["minNodes"] = max(lo, 1) if name == "cpu" else lo
    return name, params


METRIC = st.lists(st.one_of(st.integers(0, 2000), st.floats(0, 100)), max_size=40)


@settings(max_examples=120, deadline=None)
@given(case=preset_case(), pending=METRIC, active=METRIC, running=METRIC, cpu=METRIC,
       current=st.integers(0, 500), target=st.integers(0, 500), slots=st.integers(1, 16),
       minutes=st.integers(0, 7 * 24 * 60))
def test_every_preset_keeps_targets_within_min_and_max(case: tuple[str, dict[str, Any]], pending: list[float],
                                                       active: list[float], running: list[float], cpu: list[float],
                                                       current: int, target: int, slots: int, minutes: int) -> None:
    name, params = case
    p = PRESETS[name].validate(params)
    now = NOW + timedelta(minutes=minutes)
    series = {k: v for k, v in (("$PendingTasks", pending), ("$ActiveTasks", active), ("$RunningTasks", running),
                                ("$CPUPercent", cpu)) if v}
    hist = MetricHistory.constant(series, now)
    pool = PoolState(current_dedicated=current, target_dedicated=target, task_slots_per_node=slots)
    result = evaluate(render(name, params), hist, pool, now)
    assert result.error is None, result.error
    total = result.target_dedicated + result.target_low_priority
    assert p["minNodes"] <= total <= p["maxNodes"]  # scale-to-zero too: it goes down to minNodes
    assert result.node_deallocation_option == p["deallocation"]


AMSTERDAM = {**WORK_HOURS, "timeZone": "Europe/Amsterdam"}


@pytest.mark.parametrize(("now", "target"), [
    # March 2026: clocks go from CET (UTC+1) to CEST (UTC+2) on Sunday the 29th at 01:00 UTC
    (datetime(2026, 3, 27, 6, 30, tzinfo=UTC), 1),  # Friday 07:30 CET: not yet
    (datetime(2026, 3, 27, 7, 0, tzinfo=UTC), 6),  # Friday 08:00 CET
    (datetime(2026, 3, 27, 16, 59, tzinfo=UTC), 6),  # Friday 17:59 CET
    (datetime(2026, 3, 30, 6, 0, tzinfo=UTC), 6),  # Monday 08:00 CEST: an hour earlier in UTC
    (datetime(2026, 3, 30, 16, 0, tzinfo=UTC), 1),  # Monday 18:00 CEST
    # October 2026: back to CET on Sunday the 25th at 01:00 UTC
    (datetime(2026, 10, 23, 6, 0, tzinfo=UTC), 6),  # Friday 08:00 CEST
    (datetime(2026, 10, 26, 6, 0, tzinfo=UTC), 1),  # Monday 07:00 CET: not yet
    (datetime(2026, 10, 26, 7, 0, tzinfo=UTC), 6),  # Monday 08:00 CET
    (datetime(2026, 10, 26, 17, 0, tzinfo=UTC), 1),  # Monday 18:00 CET
    (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), 1),  # Sunday 00:30 CEST is the weekend, not Saturday
])
def test_work_hours_follow_daylight_saving_in_their_time_zone(now: datetime, target: int) -> None:
    assert evaluate(render("work-hours", AMSTERDAM), MetricHistory(), PoolState(), now).target_dedicated == target


@settings(max_examples=80, deadline=None)
@given(zone=st.sampled_from(["Europe/Amsterdam", "America/Denver", "Australia/Sydney", "Asia/Kolkata",
                             "America/Santiago"]),
       minutes=st.integers(0, 6 * 365 * 24 * 60))
def test_work_hours_agree_with_zoneinfo_until_schedule_until(zone: str, minutes: int) -> None:
    from zoneinfo import ZoneInfo

    now = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)  # 2025 .. 2030, the default schedule
    local = now.astimezone(ZoneInfo(zone))
    expected = (6 if local.isoweekday() <= 5 else 3) if 8 <= local.hour < 18 else 1
    formula = render("work-hours", {**WORK_HOURS, "timeZone": zone})
    assert evaluate(formula, MetricHistory(), PoolState(), now).target_dedicated == expected


@settings(max_examples=60, deadline=None)
@given(pending=st.lists(st.integers(0, 50), max_size=60), current=st.integers(0, 30))
def test_scale_to_zero_never_goes_below_min_nodes(pending: list[int], current: int) -> None:
    hist = MetricHistory.constant({"$PendingTasks": pending}, NOW) if pending else MetricHistory()
    formula = render("scale-to-zero", {"minNodes": 2, "maxNodes": 20})
    assert evaluate(formula, hist, PoolState(current_dedicated=current), NOW).target_dedicated >= 2


@pytest.mark.parametrize(("state", "dedicated", "spot"), [
    (PoolState(current_low_priority=4, target_low_priority=4), 4, 4),  # all spot there: half and half
    (PoolState(current_low_priority=4, target_low_priority=4, preempted=2), 6, 4),  # 2 preempted: 2 dedicated more
    (PoolState(current_low_priority=1, target_low_priority=4), 7, 4),  # 3 never allocated (no spot capacity)
    (PoolState(current_low_priority=0, target_low_priority=4), 8, 4),  # none at all: all dedicated
])
def test_queue_active_spot_falls_back_to_dedicated(state: PoolState, dedicated: int, spot: int) -> None:
    hist = MetricHistory.constant({"$ActiveTasks": 8, "$RunningTasks": 0}, NOW)
    result = evaluate(render("queue-active-spot", {"maxNodes": 20}), hist, state, NOW)
    assert (result.target_dedicated, result.target_low_priority) == (dedicated, spot)
    off = evaluate(render("queue-active-spot", {"maxNodes": 20, "spotFallback": False}), hist, state, NOW)
    assert (off.target_dedicated, off.target_low_priority) == (4, 4)


def test_slots_per_task_counts_slots_not_tasks() -> None:
    hist = MetricHistory.constant({"$PendingTasks": 10}, NOW)
    pool = PoolState(task_slots_per_node=4)
    assert evaluate(render("queue-pending", {"maxNodes": 20}), hist, pool, NOW).target_dedicated == 3
    assert evaluate(render("queue-pending", {"maxNodes": 20, "slotsPerTask": 2}), hist, pool, NOW).target_dedicated == 5


@pytest.mark.parametrize(("scale", "sample", "target"), [(100, 90, 20), (1, 0.9, 20), (1, 0.3, 2), (100, 30, 2)])
def test_cpu_reads_either_scale_and_grows_to_the_queue_when_saturated(scale: int, sample: float,
                                                                     target: int) -> None:
    # 4 nodes at 90%: the queue (400 tasks) decides; at 30% the pool halves (target 60%)
    hist = MetricHistory.constant({"$CPUPercent": sample, "$ActiveTasks": 400}, NOW)
    params = {"minNodes": 1, "maxNodes": 20, "targetCpuPercent": 60, "cpuScale": scale}
    assert evaluate(render("cpu", params), hist, PoolState(current_dedicated=4), NOW).target_dedicated == target
